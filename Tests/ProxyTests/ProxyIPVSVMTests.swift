import Foundation
import IPVS
import NetAddress
import NFTables
import NetplaneTestSupport
import Proxy
import Testing

/// IPVS mode in the VM lane (this machine's kernel has no IPVS): the proxier against a real
/// kernel with real traffic, on the same testbed as the nftables mode (a node namespace,
/// three pods with HTTP servers naming themselves, an outside namespace on the underlay).
/// Witnesses: curl, `ipvsadm -Ln`, `ip -j addr`.
@Suite(.serialized) struct ProxyIPVSVMTests {
    static func web(_ endpoints: [Int]) -> ServicePort {
        ServicePort(namespace: "default", name: "web", portName: "http", port: 80, clusterIPs: [IPAddress("10.96.0.10")!],
                    endpoints: endpoints.map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 8080) })
    }

    static let empty = ServicePort(namespace: "default", name: "empty", port: 80, clusterIPs: [IPAddress("10.96.0.20")!])

    func answers(_ ns: TestNamespace, _ url: String, count: Int) throws -> [String] {
        try (0..<count).map { _ in
            try ns.run(["curl", "-gs", "--max-time", "3", url]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// `ipvsadm -Ln` in `ns` without its header, spaces squeezed, real servers without their
    /// connection counters ("-> 10.244.1.2:8080 Masq 1").
    func ipvsadm(_ ns: TestNamespace) throws -> [String] {
        try ns.check(["ipvsadm", "-Ln"]).split(separator: "\n").dropFirst(3).map { line in
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            return (words.first == "->" ? words.prefix(4) : words[...]).joined(separator: " ")
        }
    }

    /// The lines of one virtual server ("TCP 10.96.0.10:80 wlc" and its "->" real servers):
    /// the API server's own `kubernetes` Service is programmed beside the test's.
    func ipvsadm(_ ns: TestNamespace, virtualServer address: String) throws -> [String] {
        let lines = try ipvsadm(ns)
        guard let start = lines.firstIndex(where: { $0.split(separator: " ").dropFirst().first.map(String.init) == address }) else { return [] }
        return [lines[start]] + lines[(start + 1)...].prefix { $0.hasPrefix("->") }
    }

    func bound(_ ns: TestNamespace) throws -> Set<String> {
        let info = try ns.ipJSON(["addr", "show", "dev", "netplane-ipvs0"]).first?["addr_info"] as? [[String: Any]] ?? []
        return Set(info.compactMap { $0["local"] as? String })
    }

    @Test func clusterIPSpreadsOverRealServersRefusesWithoutThemAndFollowsChanges() throws {
        try withProxyTestbed { node, pods, _ in
            let proxier = try IPVSProxier(options: IPVSOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")]),
                                          namespace: NetNS.open(path: node.path))
            try proxier.syncFull([Self.web([1, 2, 3]), Self.empty])
            #expect(try ipvsadm(node) == ["TCP 10.96.0.10:80 rr", "-> 10.244.1.2:8080 Masq 1",
                                          "-> 10.244.2.2:8080 Masq 1", "-> 10.244.3.2:8080 Masq 1",
                                          "TCP 10.96.0.20:80 rr"])
            #expect(try bound(node) == ["10.96.0.10", "10.96.0.20"])

            // From the node and from a pod, including back to itself (hairpin).
            let fromNode = try answers(node, "http://10.96.0.10/", count: 15)
            #expect(Set(fromNode) == ["pod1", "pod2", "pod3"], "\(fromNode)")
            #expect(fromNode.filter { $0 == "pod1" }.count == 5, "round robin: \(fromNode)")
            let fromPod = try answers(pods[0], "http://10.96.0.10/", count: 9)
            #expect(Set(fromPod) == ["pod1", "pod2", "pod3"], "\(fromPod)")
            // No real servers: refused at once.
            let refused = try node.run(["curl", "-s", "--max-time", "5", "http://10.96.0.20/"])
            #expect(refused.status == 7, "curl: connection refused, got \(refused.status)")

            // pod3 leaves: one real server removed, no new connection reaches it.
            try proxier.syncChanges(upserted: [Self.web([1, 2])], removed: [])
            #expect(try ipvsadm(node).filter { $0.hasPrefix("->") }.count == 2)
            #expect(Set(try answers(node, "http://10.96.0.10/", count: 8)) == ["pod1", "pod2"])
            // The service goes: its virtual server and its address too; the other stays.
            try proxier.syncChanges(upserted: [], removed: [Self.web([]).id])
            #expect(try ipvsadm(node) == ["TCP 10.96.0.20:80 rr"])
            #expect(try bound(node) == ["10.96.0.20"])
            #expect(!(try node.run(["curl", "-s", "--max-time", "2", "http://10.96.0.10/"]).succeeded))

            // A full sync repairs what someone changed behind the proxy's back.
            try node.check(["ipvsadm", "-D", "-t", "10.96.0.20:80"])
            try node.check(["ip", "addr", "add", "10.96.9.9/32", "dev", "netplane-ipvs0"])
            try proxier.syncFull([Self.web([1]), Self.empty])
            #expect(try ipvsadm(node) == ["TCP 10.96.0.10:80 rr", "-> 10.244.1.2:8080 Masq 1", "TCP 10.96.0.20:80 rr"])
            #expect(try bound(node) == ["10.96.0.10", "10.96.0.20"])
        }
    }

    @Test func clientIPAffinityIsIPVSPersistence() throws {
        try withProxyTestbed { node, _, _ in
            var sticky = Self.web([1, 2, 3])
            sticky.affinitySeconds = 600
            let proxier = try IPVSProxier(options: IPVSOptions(scheduler: "wrr"), namespace: NetNS.open(path: node.path))
            try proxier.syncFull([sticky])
            #expect(try ipvsadm(node).first == "TCP 10.96.0.10:80 wrr persistent 600")
            #expect(Set(try answers(node, "http://10.96.0.10/", count: 9)).count == 1)
            // Dropping the affinity is an edit in place.
            try proxier.syncChanges(upserted: [Self.web([1, 2, 3])], removed: [])
            #expect(try ipvsadm(node).first == "TCP 10.96.0.10:80 wrr")
        }
    }

    @Test func externalTrafficThroughNodePortExternalAndLoadBalancerIPs() throws {
        try withProxyTestbed(echo: true) { node, _, outside in
            let endpoints = (1...3).map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 8080, isLocal: $0 == 1) }
            let cluster = ServicePort(namespace: "default", name: "cluster", port: 80, clusterIPs: [IPAddress("10.96.0.30")!],
                                      nodePort: 30080, externalIPs: [IPAddress("203.0.113.7")!],
                                      loadBalancerIPs: [IPAddress("203.0.113.8")!], endpoints: endpoints)
            let local = ServicePort(namespace: "default", name: "local", port: 80, clusterIPs: [IPAddress("10.96.0.31")!],
                                    nodePort: 30081, externalTrafficLocal: true, endpoints: endpoints)
            let options = IPVSOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")], nodePortAddresses: [IPAddress("198.18.0.11")!])
            let proxier = try IPVSProxier(options: options, namespace: NetNS.open(path: node.path))
            try proxier.syncFull([cluster, local])
            let listed = try ipvsadm(node)
            for frontend in ["TCP 198.18.0.11:30080 rr", "TCP 203.0.113.7:80 rr", "TCP 203.0.113.8:80 rr", "TCP 198.18.0.11:30081 rr"] {
                #expect(listed.contains(frontend), "\(listed)")
            }

            func replies(_ url: String, _ count: Int) throws -> [(pod: String, client: String)] {
                try echoReplies(from: outside, url, count)
            }
            // Policy Cluster: every endpoint, the client masqueraded to the node.
            for url in ["http://198.18.0.11:30080/", "http://203.0.113.7/", "http://203.0.113.8/"] {
                let seen = try replies(url, 9)
                #expect(Set(seen.map(\.pod)) == ["pod1", "pod2", "pod3"], "\(url): \(seen)")
                #expect(seen.allSatisfy { $0.client != "198.18.0.50" && $0.client.hasPrefix("10.244.") }, "\(url): \(seen)")
            }
            // Policy Local: only this node's endpoint, and it sees the client's own address.
            let kept = try replies("http://198.18.0.11:30081/", 5)
            #expect(kept.allSatisfy { $0 == ("pod1", "198.18.0.50") }, "\(kept)")
        }
    }

    @Test func dualStackAndUDP() throws {
        try withProxyTestbed { node, pods, _ in
            let endpoints = (1...3).flatMap { n in
                [ProxyEndpoint(address: IPAddress("10.244.\(n).2")!, port: 8080), ProxyEndpoint(address: IPAddress("fd00:244:\(n)::2")!, port: 8080)]
            }
            let web = ServicePort(namespace: "default", name: "web", portName: "http", port: 80,
                                  clusterIPs: [IPAddress("10.96.0.10")!, IPAddress("fd00:96::10")!], endpoints: endpoints)
            var dns = Self.empty
            dns.name = "dns"
            dns.proto = .udp
            dns.port = 53
            let options = IPVSOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16"), try IPPrefix("fd00:244::/48")])
            let proxier = try IPVSProxier(options: options, namespace: NetNS.open(path: node.path))
            try proxier.syncFull([web, dns])
            let listed = try ipvsadm(node)
            #expect(listed.contains("TCP [fd00:96::10]:80 rr") && listed.contains("-> [fd00:244:2::2]:8080 Masq 1"), "\(listed)")
            #expect(listed.contains("UDP 10.96.0.20:53 rr"), "\(listed)")
            #expect(try bound(node) == ["10.96.0.10", "fd00:96::10", "10.96.0.20"])
            #expect(Set(try answers(node, "http://[fd00:96::10]/", count: 6)) == ["pod1", "pod2", "pod3"])
            #expect(Set(try answers(pods[1], "http://[fd00:96::10]/", count: 6)) == ["pod1", "pod2", "pod3"])
            #expect(Set(try answers(node, "http://10.96.0.10/", count: 6)) == ["pod1", "pod2", "pod3"])
            // UDP without endpoints: an ICMP port unreachable, which a connected socket reports.
            let probe = """
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3); s.connect(("10.96.0.20", 53))
                s.send(b"x")
                try:
                    s.recv(10); print("answered")
                except ConnectionRefusedError: print("refused")
                except socket.timeout: print("timeout")
                """
            #expect(try pods[1].check(["python3", "-c", probe]).contains("refused"))
        }
    }

    @Test func aRestartedProxyKeepsConnectionsAndChangesNothing() throws {
        try withProxyTestbed { node, pods, _ in
            let echo = try NamespaceScript.tcpEcho(in: pods[0], port: 9000)
            defer { echo.stop() }
            let service = ServicePort(namespace: "default", name: "echo", port: 80, clusterIPs: [IPAddress("10.96.0.50")!],
                                      endpoints: [ProxyEndpoint(address: IPAddress("10.244.1.2")!, port: 9000)])
            let options = IPVSOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")])
            try IPVSProxier(options: options, namespace: NetNS.open(path: node.path)).syncFull([service])
            #expect(eventually { (try? node.run(["python3", "-c", "import socket; socket.create_connection(('10.96.0.50', 80), timeout=2)"]).succeeded) == true })
            let before = try ipvsadm(node)

            let probe = try RestartProbe(from: node, to: "10.96.0.50", pause: 3, count: 40)
            usleep(500_000)
            // Restarts: fresh proxiers that know nothing sync everything again.
            for _ in 0..<3 {
                try IPVSProxier(options: options, namespace: NetNS.open(path: node.path)).syncFull([service])
            }
            let (said, failed) = probe.results()
            #expect(said == "before\nafter\n", "\(said)")
            #expect(failed == "0", "new connections failed: \(failed)")
            #expect(try ipvsadm(node) == before)
        }
    }

    @Test func theDaemonInIPVSModeFollowsTheAPI() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-ipvs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { api.stop() }
        try withProxyTestbed { node, _, _ in
            let service = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"clusterIP":"10.96.0.10","ports":[{"name":"http","port":80,"targetPort":8080}]}}"#
            func slice(_ pods: [Int]) -> String {
                let endpoints = pods.map { #"{"addresses":["10.244.\#($0).2"],"conditions":{"ready":true}}"# }
                return #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[\#(endpoints.joined(separator: ","))]}"#
            }
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: service).succeeded)
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: slice([1, 2, 3])).succeeded)
            let proxy = try ProxyDaemon(api: api, node: node, dir: dir,
                                        ["--mode", "ipvs", "--ipvs-scheduler", "wlc", "--cluster-cidr", "10.244.0.0/16", "--metrics-bind", ""])
            defer { proxy.stop() }
            let logText = { proxy.logText }
            #expect(eventually(seconds: 20) { (try? ipvsadm(node, virtualServer: "10.96.0.10:80").first) == "TCP 10.96.0.10:80 wlc" }, "\(logText())")
            #expect(Set(try answers(node, "http://10.96.0.10/", count: 12)) == ["pod1", "pod2", "pod3"])
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: slice([2])).succeeded)
            #expect(eventually { (try? ipvsadm(node, virtualServer: "10.96.0.10:80")) == ["TCP 10.96.0.10:80 wlc", "-> 10.244.2.2:8080 Masq 1"] }, "\(logText())")
            #expect(Set(try answers(node, "http://10.96.0.10/", count: 4)) == ["pod2"])
            #expect(try api.kubectl(["delete", "service", "web"]).succeeded)
            #expect(eventually { (try? ipvsadm(node, virtualServer: "10.96.0.10:80"))?.isEmpty == true && (try? bound(node))?.contains("10.96.0.10") == false },
                    "\(logText())")
            // The API server's kubernetes Service (no endpoint: it listens on loopback) stays.
            #expect(try ipvsadm(node, virtualServer: "10.96.0.1:443") == ["TCP 10.96.0.1:443 wlc"])
        }
    }
}
