import APITypes
import ArgumentParser
import Client
import Foundation
import JSON
import NetplaneTestSupport

/// The EndpointSlice controller's reaction time: one Service over `--pods` pods in a real
/// `netplane apiserver` with `netplane controllers --controllers endpointslice`; `--flip` of
/// them turn Ready (status patches by 32 clients, as node agents write them), timed from the
/// first patch sent until a watch on the Service's EndpointSlices shows every one of them
/// ready. The floor is measured in the same run: the same number of status patches alone
/// (another group of pods, no Service selecting them), i.e. the API's own cost of the news.
struct EndpointsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "endpoints",
        abstract: "Time from pods turning Ready to the Service's EndpointSlices showing them.")

    @Option(help: "Pods behind the Service.") var pods = 5000
    @Option(help: "Pods that turn Ready in the timed step.") var flip = 100
    @Option(help: "Timed rounds (the result is their median).") var rounds = 5
    @Option(help: "The netplane binary (default: beside this one).") var netplane: String?

    static let target = 200.0

    func run() async throws {
        let binary = netplane ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("netplane").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw ValidationError("no netplane binary at \(binary)") }
        guard flip * rounds * 2 <= pods else { throw ValidationError("--flip × --rounds × 2 must not exceed --pods") }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-eps-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let server = try APIServerProcess(binary: binary, dataDir: scratch + "/api")
        defer { server.stop() }
        let client = try APIClient(try ClientConfig.kubeconfig(server.kubeconfig), maxConnections: 64)

        _ = try await client.create(Service.resource, [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": "big", "namespace": "default"],
            "spec": ["selector": ["app": "big"], "ports": [["port": 80, "targetPort": 8080]]],
        ])
        // Pods running with an address; all but the ones to flip are ready. The second
        // group (app=other) is the floor's: nothing selects it.
        let total = pods
        // The last 2 × flip × rounds pods start not ready, alternately the Service's and the floor's.
        let flipped = 2 * flip * rounds
        try await runConcurrently(total, clients: 32) { i in
            let app = i < total - flipped ? "big" : (i - (total - flipped)) % 2 == 0 ? "big" : "other"
            let name = String(format: "pod-%05d", i)
            let pod: JSONValue = ["apiVersion": "v1", "kind": "Pod",
                                  "metadata": ["name": .string(name), "namespace": "default", "labels": ["app": .string(app)]],
                                  "spec": ["nodeName": .string("node-\(i % 50)"), "containers": [["name": "c", "image": "busybox"]]]]
            _ = try await client.create(Pod.resource, pod)
            let ip = "10.\(64 + i / 65536).\((i / 256) % 256).\(i % 256)"
            _ = try await client.patch(Pod.resource, namespace: "default", name: name,
                                       Self.status(ip: ip, ready: i < total - flipped), subresource: "status")
        }
        let controllers = try ControllersProcess(api: server, arguments: ["--controllers", "endpointslice"], dir: scratch, binary: binary)
        defer { controllers.stop() }

        // Watch the Service's slices: ready addresses per slice, and how many slices hold each
        // address (one may sit in two for a moment while the controller moves it).
        let state = Locked((bySlice: [String: Set<String>](), holders: [String: Int]()))
        let slices = Informer<EndpointSlice>(client, namespace: "default",
                                             options: ListOptions(labelSelector: "kubernetes.io/service-name=big")) { event in
            var addresses = Set<String>()
            if case .deleted = event {} else {
                for endpoint in event.object.json["endpoints"]?.arrayValue ?? [] where endpoint[path: ["conditions", "ready"]]?.boolValue == true {
                    for address in endpoint["addresses"]?.arrayValue ?? [] { if let a = address.stringValue { addresses.insert(a) } }
                }
            }
            state.withLock { s in
                let old = s.bySlice[event.object.name] ?? []
                for gone in old.subtracting(addresses) { s.holders[gone, default: 1] -= 1; if s.holders[gone] == 0 { s.holders[gone] = nil } }
                for new in addresses.subtracting(old) { s.holders[new, default: 0] += 1 }
                s.bySlice[event.object.name] = addresses
            }
        }
        let watching = Task { await slices.run() }
        defer { watching.cancel() }
        _ = await slices.waitForSync()
        func readyCount() -> Int { state.withLock { $0.holders.count } }
        let initial = total - flipped
        let start = ContinuousClock.now
        while readyCount() < initial {
            guard ContinuousClock.now - start < .seconds(120) else { throw ValidationError("slices show \(readyCount())/\(initial) ready endpoints") }
            try await Task.sleep(for: .milliseconds(20))
        }
        print(String(format: "%d pods behind the Service, slices complete %.2f s after the controller started", initial, seconds(since: start)))

        var reactions: [Double] = [], floors: [Double] = []
        for round in 0..<rounds {
            // This round's pods: `flip` of the Service's, `flip` of the floor's group.
            let base = total - flipped + round * flip * 2
            let mine = (0..<(flip * 2)).map { base + $0 }
            let service = mine.filter { ($0 - (total - flipped)) % 2 == 0 }.prefix(flip)
            let others = mine.filter { ($0 - (total - flipped)) % 2 == 1 }.prefix(flip)
            // The floor: the same patches, to pods nothing selects.
            let floorStart = ContinuousClock.now
            try await runConcurrently(others.count, clients: 32) { k in
                let i = Array(others)[k]
                _ = try await client.patch(Pod.resource, namespace: "default", name: String(format: "pod-%05d", i),
                                           Self.status(ip: "10.\(64 + i / 65536).\((i / 256) % 256).\(i % 256)", ready: true), subresource: "status")
            }
            floors.append(seconds(since: floorStart) * 1000)
            let want = readyCount() + service.count
            let t0 = ContinuousClock.now
            try await runConcurrently(service.count, clients: 32) { k in
                let i = Array(service)[k]
                _ = try await client.patch(Pod.resource, namespace: "default", name: String(format: "pod-%05d", i),
                                           Self.status(ip: "10.\(64 + i / 65536).\((i / 256) % 256).\(i % 256)", ready: true), subresource: "status")
            }
            while readyCount() < want {
                guard ContinuousClock.now - t0 < .seconds(30) else { throw ValidationError("round \(round): \(readyCount())/\(want) ready") }
                try await Task.sleep(for: .milliseconds(1))
            }
            reactions.append(seconds(since: t0) * 1000)
            print(String(format: "round %d: %d pods Ready -> in the slices after %.1f ms (their %d status writes alone: %.1f ms)",
                         round + 1, service.count, reactions.last!, others.count, floors.last!))
        }
        let median = reactions.sorted()[reactions.count / 2], floor = floors.sorted()[floors.count / 2]
        print(String(format: "RESULT endpoints netplane=%.1f target=%.0f floor=%.1f unit=ms pods=%d flip=%d rounds=%d",
                     median, Self.target, floor, total, flip, rounds))
        await client.shutdown()
    }

    static func status(ip: String, ready: Bool) -> JSONValue {
        ["status": ["phase": "Running", "podIP": .string(ip), "podIPs": [["ip": .string(ip)]],
                    "conditions": [["type": "Ready", "status": ready ? "True" : "False"]]]]
    }
}
