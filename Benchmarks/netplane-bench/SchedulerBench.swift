import APITypes
import ArgumentParser
import Client
import Foundation
import JSON
import NetplaneTestSupport
import Synchronization

/// The scheduler end to end: simulated nodes (Node objects with capacity, as a node agent
/// registers them) in a real `netplane apiserver`, `netplane scheduler` running, pods created
/// through the API by 32 clients, timed until every pod is bound (seen through a watch).
/// Three cases, each in its own namespace: plain pods; pods with a zone topology spread
/// constraint (DoNotSchedule, maxSkew 1); pods with required anti-affinity per host within
/// groups of 100. The anchor is published, not run (no kube-scheduler binary here):
/// kube-scheduler's scheduler_perf CI floor for SchedulingBasic at 5000 nodes, 270 pods/s.
/// The floor of this machine is measured in the same run, in namespaces no scheduler looks at
/// (`schedulerName` of nobody): the same pods created alone, and created then bound by the
/// bench itself (the API's own cost of what scheduling a pod must write).
struct SchedulerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scheduler",
        abstract: "Pods bound per second by netplane scheduler over simulated nodes (basic, spread, anti-affinity).")

    @Option(help: "Simulated nodes.") var nodes = 5000
    @Option(help: "Pods per case.") var pods = 10000
    @Option(help: "Cases to run (comma-separated: basic, spread, antiaffinity).") var cases = "basic,spread,antiaffinity"
    @Option(help: "The netplane binary (default: beside this one).") var netplane: String?

    static let anchor = 270.0

    func run() async throws {
        let binary = netplane ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("netplane").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw ValidationError("no netplane binary at \(binary)") }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-sched-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let server = try APIServerProcess(binary: binary, dataDir: scratch + "/api")
        defer { server.stop() }
        let client = try APIClient(try ClientConfig.kubeconfig(server.kubeconfig), maxConnections: 64)

        let zones = 10
        let start = ContinuousClock.now
        try await runConcurrently(nodes, clients: 32) { i in
            let name = String(format: "node-%05d", i)
            let node: JSONValue = [
                "apiVersion": "v1", "kind": "Node",
                "metadata": ["name": .string(name), "labels": ["kubernetes.io/hostname": .string(name),
                                                              "topology.kubernetes.io/zone": .string("zone-\(i % zones)")]],
                "status": ["capacity": ["cpu": "32", "memory": "128Gi", "pods": "110"],
                           "allocatable": ["cpu": "32", "memory": "128Gi", "pods": "110"],
                           "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady"]]],
            ]
            _ = try await client.create(Node.resource, node)
        }
        print(String(format: "%d nodes registered in %.1f s", nodes, seconds(since: start)))

        // The floor: the same creates with no scheduling at all.
        try await namespace(client, "floor")
        let floorStart = ContinuousClock.now
        try await runConcurrently(pods, clients: 32) { i in _ = try await client.create(Pod.resource, Self.pod(i, namespace: "floor", spec: [:], scheduler: "nobody")) }
        let creates = Double(pods) / seconds(since: floorStart)
        print(String(format: "floor: %d pod creates alone, %.0f pods/s", pods, creates))
        // The floor a scheduler cannot beat here: each pod created and bound (to a node by
        // round robin) by the bench itself, no decision, no watch, no Event.
        try await namespace(client, "floor-bind")
        let bindStart = ContinuousClock.now
        let nodeCount = nodes
        try await runConcurrently(pods, clients: 32) { i in
            _ = try await client.create(Pod.resource, Self.pod(i, namespace: "floor-bind", spec: [:], scheduler: "nobody"))
            let name = String(format: "pod-%05d", i)
            try await client.post(Pod.resource, namespace: "floor-bind", name: name, subresource: "binding",
                                  ["apiVersion": "v1", "kind": "Binding", "metadata": ["name": .string(name)],
                                   "target": ["apiVersion": "v1", "kind": "Node", "name": .string(String(format: "node-%05d", i % nodeCount))]])
        }
        let floor = Double(pods) / seconds(since: bindStart)
        print(String(format: "floor: %d pods created and bound by the bench itself, %.0f pods/s", pods, floor))

        let scheduler = try ControllersProcess(api: server, command: "scheduler", dir: scratch, binary: binary)
        defer { scheduler.stop() }
        for name in cases.split(separator: ",").map(String.init) {
            let spec: @Sendable (Int) -> JSONValue
            switch name {
            case "basic": spec = { _ in [:] }
            case "spread":
                spec = { _ in ["topologySpreadConstraints": [["maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                              "whenUnsatisfiable": "DoNotSchedule",
                                                              "labelSelector": ["matchLabels": ["app": "bench"]]]]] }
            case "antiaffinity":
                spec = { i in ["affinity": ["podAntiAffinity": ["requiredDuringSchedulingIgnoredDuringExecution": [
                    ["topologyKey": "kubernetes.io/hostname", "labelSelector": ["matchLabels": ["group": .string("g\(i / 100)")]]]]]]] }
            default: throw ValidationError("--cases: unknown case \(name)")
            }
            try await namespace(client, name)
            let (apiBefore, schedBefore) = (cpuSeconds(server.process.processIdentifier), cpuSeconds(scheduler.process.processIdentifier))
            let rate = try await measure(client, namespace: name, spec: spec, scheduler: scheduler)
            print(String(format: "%@: CPU seconds: apiserver %.2f, scheduler %.2f", name,
                         cpuSeconds(server.process.processIdentifier) - apiBefore,
                         cpuSeconds(scheduler.process.processIdentifier) - schedBefore))
            print(String(format: "RESULT scheduler-%@ netplane=%.0f anchor=%.0f ratio=%.2f unit=pods/s nodes=%d pods=%d floor=%.0f",
                         name, rate, Self.anchor, rate / Self.anchor, nodes, pods, floor))
        }
        await client.shutdown()
    }

    static func pod(_ i: Int, namespace: String, spec extra: [String: JSONValue], scheduler: String? = nil) -> JSONValue {
        var spec: [String: JSONValue] = ["containers": [["name": "c", "image": "busybox",
                                                         "resources": ["requests": ["cpu": "100m", "memory": "100Mi"]]]]]
        for (k, v) in extra { spec[k] = v }
        if let scheduler { spec["schedulerName"] = .string(scheduler) }
        return ["apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": .string(String(format: "pod-%05d", i)), "namespace": .string(namespace),
                             "labels": ["app": "bench", "group": .string("g\(i / 100)")]],
                "spec": .object(spec)]
    }

    /// Creates the pods and waits until a watch has seen every one bound; pods per second.
    func measure(_ client: APIClient, namespace: String, spec: @escaping @Sendable (Int) -> JSONValue,
                 scheduler: ControllersProcess) async throws -> Double {
        let bound = Locked(Set<String>())
        let total = pods
        let informer = Informer<Pod>(client, namespace: namespace) { event in
            if let node = event.object.nodeName, !node.isEmpty { bound.withLock { _ = $0.insert(event.object.name) } }
        }
        let watching = Task { await informer.run() }
        defer { watching.cancel() }
        guard await informer.waitForSync() else { throw ValidationError("the pod watch did not start") }
        let start = ContinuousClock.now
        try await runConcurrently(total, clients: 32) { i in
            let extra = spec(i).objectValue ?? [:]
            _ = try await client.create(Pod.resource, Self.pod(i, namespace: namespace, spec: extra))
        }
        let created = seconds(since: start)
        var lastCount = 0, lastChange = ContinuousClock.now
        while true {
            let count = bound.withLock { $0.count }
            if count >= total { break }
            if count != lastCount { lastCount = count; lastChange = .now }
            if ContinuousClock.now - lastChange > .seconds(60) {
                throw ValidationError("\(namespace): \(count)/\(total) pods bound, none for 60 s\n\(scheduler.logText().suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let elapsed = seconds(since: start)
        print(String(format: "%@: %d pods created in %.2f s, all bound after %.2f s", namespace, total, created, elapsed))
        return Double(total) / elapsed
    }


    func namespace(_ client: APIClient, _ name: String) async throws {
        _ = try await client.create(Namespace.resource, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
    }

}
