import Foundation
import NetplaneTestSupport
import Testing

/// `netplane proxy` as an operator runs it: against a real `netplane apiserver`, Services and
/// EndpointSlices applied with kubectl, rules in a node namespace (`--netns`), traffic from
/// the node and from an "external" namespace on the underlay.
@Suite(.serialized) struct ProxyDaemonRootTests {
    static let service = """
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
                  "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}]}}
        """

    static func slice(_ pods: [Int]) -> String {
        let endpoints = pods.map { #"{"addresses": ["10.244.\#($0).2"], "conditions": {"ready": true}, "nodeName": "node-a"}"# }
        return """
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
             "endpoints": [\(endpoints.joined(separator: ","))]}
            """
    }

    func answers(_ ns: TestNamespace, _ url: String, count: Int) throws -> Set<String> {
        Set(try (0..<count).map { _ in
            try ns.run(["curl", "-s", "--max-time", "3", url]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        })
    }

    /// Polls `body` for up to 10 s until it returns true.
    func eventually(_ body: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<100 {
            if try body() { return true }
            usleep(100_000)
        }
        return try body()
    }

    @Test func servicesFromTheAPIReachPodsAndFollowEndpointChanges() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-proxy-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        try withProxyTestbed { node, _, outside in
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: Self.service).succeeded)
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: Self.slice([1, 2, 3])).succeeded)

            let metricsPort = try EtcdCluster.freePort()
            let proxy = Process()
            proxy.executableURL = URL(fileURLWithPath: productsDirectory() + "/netplane")
            proxy.arguments = ["proxy", "--kubeconfig", api.kubeconfig(daemon: "proxy"), "--node-name", "node-a", "--netns", node.path,
                               "--cluster-cidr", "10.244.0.0/16", "--nodeport-addresses", "198.18.0.11/32",
                               "--metrics-bind", "127.0.0.1:\(metricsPort)"]
            let log = dir + "/proxy.log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            proxy.standardError = FileHandle(forWritingAtPath: log)
            try proxy.run()
            defer {
                if proxy.isRunning { proxy.terminate() }
                proxy.waitUntilExit()
            }
            let logText = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

            // ClusterIP from the node, NodePort from outside (masqueraded: ETP Cluster).
            #expect(try eventually { try answers(node, "http://10.96.0.10/", count: 1).first?.hasPrefix("pod") == true }, "\(logText())")
            #expect(try answers(node, "http://10.96.0.10/", count: 30) == ["pod1", "pod2", "pod3"])
            #expect(try answers(outside, "http://198.18.0.11:30080/", count: 30) == ["pod1", "pod2", "pod3"])

            // pod3 leaves the slice: soon no new connection reaches it.
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: Self.slice([1, 2])).succeeded)
            #expect(try eventually { try answers(node, "http://10.96.0.10/", count: 20) == ["pod1", "pod2"] })
            // The Service goes: its address is no longer translated (curl fails).
            #expect(try api.kubectl(["delete", "service", "web"]).succeeded)
            #expect(try eventually { !(try node.run(["curl", "-s", "--max-time", "1", "http://10.96.0.10/"]).succeeded) }, "\(logText())")

            let health = try Command.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(metricsPort)/healthz"])
            #expect(health.stdout == "200")
            let metrics = try Command.run(["curl", "-s", "http://127.0.0.1:\(metricsPort)/metrics"]).stdout
            #expect(metrics.contains("netplane_proxy_sync_duration_seconds_count"), "\(metrics)")
            let syncs = metrics.split(separator: "\n").first { $0.hasPrefix("netplane_proxy_sync_duration_seconds_count") }
            #expect((syncs?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 3, "full + two incremental syncs")
        }
        api.stop()
    }

    /// The daemon deletes the conntrack flows of a UDP endpoint that leaves a service, so a
    /// client sending from one port moves on to a remaining endpoint.
    @Test func udpClientsMoveOffARemovedEndpoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-proxyudp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { api.stop() }
        try withProxyTestbed { node, pods, _ in
            let servers = try pods.enumerated().map { try NamespaceScript.udpName(in: $0.element, port: 5353, name: "pod\($0.offset + 1)") }
            defer { servers.forEach { $0.stop() } }
            let service = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"dns","namespace":"default"},"spec":{"clusterIP":"10.96.0.53","ports":[{"name":"dns","protocol":"UDP","port":53,"targetPort":5353}]}}"#
            func slice(_ pods: [Int]) -> String {
                let endpoints = pods.map { #"{"addresses":["10.244.\#($0).2"],"conditions":{"ready":true}}"# }
                return #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"dns-1","namespace":"default","labels":{"kubernetes.io/service-name":"dns"}},"addressType":"IPv4","ports":[{"name":"dns","port":5353,"protocol":"UDP"}],"endpoints":[\#(endpoints.joined(separator: ","))]}"#
            }
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: service).succeeded)
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: slice([1, 2, 3])).succeeded)
            let proxy = try ProxyDaemon(api: api, node: node, dir: dir, ["--cluster-cidr", "10.244.0.0/16", "--metrics-bind", ""])
            defer { proxy.stop() }
            let logText = { proxy.logText }
            // Datagrams from one source port: one conntrack flow, one endpoint.
            func answer() throws -> String { try udpAnswers(from: node, to: "10.96.0.53", port: 53, count: 1).first ?? "" }
            var first = ""
            #expect(try eventually { first = try answer(); return first.hasPrefix("pod") }, "\(logText())")
            #expect(try answer() == first)
            let chosen = Int(first.dropFirst(3))!
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: slice([1, 2, 3].filter { $0 != chosen })).succeeded)
            var next = ""
            #expect(try eventually { next = try answer(); return next.hasPrefix("pod") && next != first }, "still \(next): \(logText())")
            let conntrackLine = logText().split(separator: "\n").first { $0.contains("conntrack: UDP flows to removed endpoints deleted") }
            #expect(conntrackLine?.contains("flows=1") == true, "\(logText())")
        }
    }
}
