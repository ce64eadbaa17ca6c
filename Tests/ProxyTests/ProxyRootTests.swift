import Foundation
import NFTables
import NetAddress
import NetplaneTestSupport
import Proxy
import Testing

/// The compiled ruleset in a real kernel, with real traffic: a node namespace holding the
/// proxy's table and three pod namespaces (each its own /24 on a veth to the node) running
/// HTTP servers that answer their own names. Witnesses: curl and `nft -j`.
@Suite(.serialized) struct ProxyRootTests {
    func withCluster(echo: Bool = false, _ body: (TestNamespace, [TestNamespace], TestNamespace) throws -> Void) throws {
        try withProxyTestbed(echo: echo, body)
    }

    static func web(_ endpoints: [Int]) -> ServicePort {
        ServicePort(namespace: "default", name: "web", portName: "http", port: 80, clusterIPs: [IPAddress("10.96.0.10")!],
                    endpoints: endpoints.map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 8080) })
    }

    static let empty = ServicePort(namespace: "default", name: "empty", port: 80, clusterIPs: [IPAddress("10.96.0.20")!])

    /// Which pod answered each of `count` fresh connections to `url` from `ns`.
    func answers(_ ns: TestNamespace, _ url: String, count: Int) throws -> [String] {
        // -g: the brackets of an IPv6 literal are not a glob.
        try (0..<count).map { _ in
            try ns.run(["curl", "-gs", "--max-time", "3", url]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    @Test func clusterIPSpreadsOverEndpointsRejectsWithoutThemAndFollowsChanges() throws {
        try withCluster { node, pods, _ in
            let options = ProxyOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")])
            let socket = try NFTSocket(namespacePath: node.path)
            var table = ProxyTable(family: .ip, options: options)
            try table.syncFull([Self.web([1, 2, 3]), Self.empty]) { try socket.commit($0) }

            // Witness: the kernel holds the service's map element in its shard table, and 33
            // tables (the main one and 32 shards) in all.
            let shard = options.shardTable(RulesetCompiler.shard(of: Self.web([]), shards: options.shards))
            let listing = try node.check(["nft", "-j", "list", "map", "ip", shard, "service-ips"])
            #expect(listing.contains("10.96.0.10") && listing.contains("svc/default/web/http/tcp"))
            let tables = try node.check(["nft", "-j", "list", "tables"])
            #expect(tables.components(separatedBy: "\"netplane-proxy").count - 1 == 33)

            // From the node (OUTPUT hook) and from a pod (PREROUTING, including back to itself).
            let fromNode = try answers(node, "http://10.96.0.10/", count: 60)
            #expect(Set(fromNode) == ["pod1", "pod2", "pod3"], "\(fromNode)")
            // Equal shares: chi-square over 3 buckets, 2 degrees of freedom, p = 0.001 → 13.8.
            let expected = Double(fromNode.count) / 3
            var chi2 = 0.0
            for name in ["pod1", "pod2", "pod3"] {
                let observed = Double(fromNode.filter { $0 == name }.count)
                chi2 += (observed - expected) * (observed - expected) / expected
            }
            #expect(chi2 < 13.8, "shares \(fromNode.reduce(into: [:]) { $0[$1, default: 0] += 1 })")
            let fromPod = try answers(pods[0], "http://10.96.0.10/", count: 30)
            #expect(Set(fromPod) == ["pod1", "pod2", "pod3"], "hairpin to pod1 itself works too: \(fromPod)")

            // No endpoints: refused at once, not left to time out.
            let started = Date()
            let refused = try node.run(["curl", "-s", "--max-time", "5", "http://10.96.0.20/"])
            #expect(refused.status == 7, "curl: connection refused, got \(refused.status)")
            #expect(Date().timeIntervalSince(started) < 1)
            // UDP too: an ICMP port unreachable back to a pod, which its connected UDP socket
            // reports as refused. (From the node itself the OUTPUT hook refuses the send: EPERM.)
            var udpEmpty = Self.empty
            udpEmpty.proto = .udp
            udpEmpty.port = 53
            try table.syncAll([Self.web([1, 2, 3]), Self.empty, udpEmpty]) { try socket.commit($0) }
            let probe = """
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect(("10.96.0.20", 53))
                s.send(b"x")
                try:
                    s.recv(10); print("answered")
                except ConnectionRefusedError: print("refused")
                except socket.timeout: print("timeout")
                """
            #expect(try pods[1].check(["python3", "-c", probe]).contains("refused"))

            // pod3 leaves: an incremental transaction, and no new connection reaches it.
            try table.syncAll([Self.web([1, 2]), Self.empty, udpEmpty]) { change in
                #expect(change.count == 1 + 3 + 1, "web's chain flushed and refilled, pod3 out of the hairpin set")
                try socket.commit(change)
            }
            let after = try answers(node, "http://10.96.0.10/", count: 30)
            #expect(Set(after) == ["pod1", "pod2"], "\(after)")
        }
    }

    @Test func clientIPAffinityKeepsOneBackendUntilTheTimeout() throws {
        try withCluster { node, _, _ in
            let socket = try NFTSocket(namespacePath: node.path)
            var sticky = Self.web([1, 2, 3])
            sticky.affinitySeconds = 2
            var table = ProxyTable(family: .ip, options: ProxyOptions())
            try table.syncFull([sticky]) { try socket.commit($0) }
            let first = try answers(node, "http://10.96.0.10/", count: 15)
            #expect(Set(first).count == 1, "one backend while the client keeps coming: \(first)")
            // Idle past the timeout, the next connection is chosen afresh: within a few tries
            // another backend answers (each try stays with the old one with probability 1/3).
            var others: [String] = []
            for _ in 0..<12 where others.isEmpty {
                Thread.sleep(forTimeInterval: 2.3)
                others = try answers(node, "http://10.96.0.10/", count: 1).filter { $0 != first[0] }
            }
            #expect(!others.isEmpty, "the affinity expired")
            // Removing another endpoint keeps this client's memory (sets are named by endpoint,
            // and a chain refill leaves them alone): it stays with its backend.
            let current = try #require(others.first)
            func pod(_ e: ProxyEndpoint) -> String { "pod\(e.address.description.split(separator: ".")[2])" }
            let leaving = try #require(sticky.endpoints.first { pod($0) != current })
            var fewer = sticky
            fewer.endpoints.removeAll { $0 == leaving }
            try table.syncAll([fewer]) { change in try socket.commit(change) }
            #expect(Set(try answers(node, "http://10.96.0.10/", count: 10)) == [current])
        }
    }

    @Test func externalTrafficThroughNodePortExternalAndLoadBalancerIPs() throws {
        try withCluster(echo: true) { node, _, outside in
            // pod1 runs on this node ("node-a"), pod2 and pod3 elsewhere.
            let endpoints = (1...3).map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 8080, isLocal: $0 == 1) }
            let cluster = ServicePort(namespace: "default", name: "cluster", port: 80, clusterIPs: [IPAddress("10.96.0.30")!],
                                      nodePort: 30080, externalIPs: [IPAddress("203.0.113.7")!],
                                      loadBalancerIPs: [IPAddress("203.0.113.8")!], endpoints: endpoints)
            let local = ServicePort(namespace: "default", name: "local", port: 80, clusterIPs: [IPAddress("10.96.0.31")!],
                                    nodePort: 30081, externalTrafficLocal: true, endpoints: endpoints)
            let remote = ServicePort(namespace: "default", name: "remote", port: 80, clusterIPs: [IPAddress("10.96.0.32")!],
                                     nodePort: 30082, externalTrafficLocal: true, endpoints: Array(endpoints.dropFirst()))
            let options = ProxyOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")], nodePortAddresses: [IPAddress("198.18.0.11")!])
            var table = ProxyTable(family: .ip, options: options)
            let socket = try NFTSocket(namespacePath: node.path)
            try table.syncFull([cluster, local, remote]) { try socket.commit($0) }

            func replies(_ url: String, _ count: Int) throws -> [(pod: String, client: String)] {
                try echoReplies(from: outside, url, count)
            }
            // Policy Cluster: every endpoint, the client masqueraded to the node.
            for url in ["http://198.18.0.11:30080/", "http://203.0.113.7/", "http://203.0.113.8/"] {
                let seen = try replies(url, 24)
                #expect(Set(seen.map(\.pod)) == ["pod1", "pod2", "pod3"], "\(url): \(seen)")
                #expect(seen.allSatisfy { $0.client != "198.18.0.50" && $0.client.hasPrefix("10.244.") }, "\(url): \(seen)")
            }
            // Policy Local: only this node's endpoint, and it sees the client's own address.
            let kept = try replies("http://198.18.0.11:30081/", 10)
            #expect(kept.allSatisfy { $0 == ("pod1", "198.18.0.50") }, "\(kept)")
            // Policy Local without a local endpoint: dropped here (a timeout, not a refusal).
            let dropped = try outside.run(["curl", "-s", "--max-time", "1", "http://198.18.0.11:30082/"])
            #expect(dropped.status == 28, "curl timed out, got \(dropped.status)")
            // From inside the cluster the same service still works through its ClusterIP.
            #expect(try answers(node, "http://10.96.0.32/", count: 6).allSatisfy { $0.hasPrefix("pod2") || $0.hasPrefix("pod3") })
        }
    }

    @Test func internalTrafficPolicyLocalAndTerminatingEndpointsCarryTraffic() throws {
        try withCluster { node, _, _ in
            let socket = try NFTSocket(namespacePath: node.path)
            var table = ProxyTable(family: .ip, options: ProxyOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")]))
            // pod1 and pod2 run on this node, pod3 elsewhere.
            let endpoints = (1...3).map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 8080, isLocal: $0 != 3) }
            let local = ServicePort(namespace: "default", name: "local", port: 80, clusterIPs: [IPAddress("10.96.0.40")!],
                                    internalTrafficLocal: true, endpoints: endpoints)
            // A rolling update: pod1 ready, pod2 and pod3 terminating (pod2 still serving).
            var rolling = ServicePort(namespace: "default", name: "rolling", port: 80, clusterIPs: [IPAddress("10.96.0.41")!],
                                      endpoints: endpoints)
            rolling.endpoints[1].ready = false
            rolling.endpoints[1].terminating = true
            rolling.endpoints[1].serving = true
            rolling.endpoints[2].ready = false
            rolling.endpoints[2].terminating = true
            rolling.endpoints[2].serving = false
            try table.syncFull([local, rolling]) { try socket.commit($0) }
            // Policy Local: only this node's endpoints.
            #expect(Set(try answers(node, "http://10.96.0.40/", count: 20)) == ["pod1", "pod2"])
            // Ready endpoints first: only pod1 while it is ready.
            #expect(Set(try answers(node, "http://10.96.0.41/", count: 12)) == ["pod1"])
            // pod1 goes too: the serving terminating pod2 carries the traffic, not the non-serving pod3.
            rolling.endpoints.removeFirst()
            try table.syncAll([local, rolling]) { try socket.commit($0) }
            #expect(Set(try answers(node, "http://10.96.0.41/", count: 12)) == ["pod2"])
        }
    }

    @Test func dualStackServiceAnswersOnBothFamiliesInOneTransaction() throws {
        try withCluster { node, _, _ in
            let socket = try NFTSocket(namespacePath: node.path)
            let endpoints = (1...3).flatMap { n in
                [ProxyEndpoint(address: IPAddress("10.244.\(n).2")!, port: 8080),
                 ProxyEndpoint(address: IPAddress("fd00:244:\(n)::2")!, port: 8080)]
            }
            let web = ServicePort(namespace: "default", name: "web", portName: "http", port: 80,
                                  clusterIPs: [IPAddress("10.96.0.10")!, IPAddress("fd00:96::10")!], endpoints: endpoints)
            let options = ProxyOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16"), try IPPrefix("fd00:244::/48")])
            var v4 = ProxyTable(family: .ip, options: options), v6 = ProxyTable(family: .ip6, options: options)
            try v4.syncFull([web]) { t4 in try v6.syncFull([web]) { t6 in try socket.commit(t4 + t6) } }
            #expect(Set(try answers(node, "http://[fd00:96::10]/", count: 30)) == ["pod1", "pod2", "pod3"])
            #expect(Set(try answers(node, "http://10.96.0.10/", count: 30)) == ["pod1", "pod2", "pod3"])
            // Witness: the ip6 shard holds the IPv6 address, the ip shard the IPv4 one.
            let shard = options.shardTable(RulesetCompiler.shard(of: web, shards: options.shards))
            #expect(try node.check(["nft", "list", "map", "ip6", shard, "service-ips"]).contains("fd00:96::10"))
            #expect(!(try node.check(["nft", "list", "map", "ip", shard, "service-ips"]).contains("fd00")))
        }
    }

    @Test func aRestartedProxyKeepsEstablishedConnections() throws {
        try withCluster { node, pods, _ in
            // A TCP echo server in pod1 on 9000, and a service over it only.
            let echo = try NamespaceScript.tcpEcho(in: pods[0], port: 9000)
            defer { echo.stop() }
            usleep(300_000)
            let service = ServicePort(namespace: "default", name: "echo", port: 80, clusterIPs: [IPAddress("10.96.0.50")!],
                                      endpoints: [ProxyEndpoint(address: IPAddress("10.244.1.2")!, port: 9000)])
            let options = ProxyOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")])
            let socket = try NFTSocket(namespacePath: node.path)
            var first = ProxyTable(family: .ip, options: options)
            try first.syncFull([service]) { try socket.commit($0) }

            // A client that talks, waits while the proxy "restarts", and talks again on the
            // same connection; another opening new connections all along, none of which may fail.
            let probe = try RestartProbe(from: node, to: "10.96.0.50", pause: 1.5, count: 300)
            usleep(300_000)
            // Restarts: a new process knows nothing and rewrites every table (one transaction
            // deleting and re-adding them), several times while the connections come.
            for _ in 0..<5 {
                var restarted = ProxyTable(family: .ip, options: options)
                try restarted.syncFull([service]) { try socket.commit($0) }
                usleep(50_000)
            }
            let (said, failed) = probe.results()
            #expect(said == "before\nafter\n", "\(said)")
            #expect(failed == "0", "new connections failed: \(failed)")
        }
    }
}
