import ArgumentParser
import Foundation
import NFTables
import NetAddress
import Proxy

/// The service proxy's control path at scale: `proxy-full` loads S services × E endpoints
/// from service ports into an empty kernel table (compile + one transaction) against `nft -f`
/// of kube-proxy's nftables shape for the same services; `proxy-incremental` adds one
/// endpoint to one service at that size, until the kernel has it, against `nft add element`
/// + `nft add chain/rule` doing the same change in kube-proxy's shape. Each side in its own
/// fresh namespace.
struct ProxyBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "proxy",
        abstract: "Service proxy: full load and one-endpoint change at 10k services vs kube-proxy's nftables shape.")

    @Option(help: "Services.") var services = 10_000
    @Option(help: "Endpoints per service.") var endpoints = 5
    @Option(help: "Tables the service chains are spread over.") var shards = ProxyOptions().shards
    @Option(help: "Services in the anchor's ruleset (kube-proxy's shape takes ~150 s at 10k).") var anchorServices: Int?

    @Option(help: "nftables, or ipvs (needs a kernel with IPVS: run it in the VM lane, Tools/vm/run).") var mode = "nftables"

    func run() throws {
        if mode == "ipvs" { return try runIPVS() }
        guard mode == "nftables" else { throw ValidationError("--mode: nftables or ipvs") }
        let ports = (0..<services).map { Self.port($0, endpoints: endpoints) }
        let options = ProxyOptions(clusterCIDRs: [try! IPPrefix("10.244.0.0/16")], nodePortAddresses: [IPAddress("198.18.0.11")!],
                                   shards: shards)

        // Netplane: compile, then one transaction into a fresh namespace.
        let ns = "np-bench-proxy-\(getpid())"
        try Self.sh(["ip", "netns", "add", ns])
        defer { _ = try? Self.sh(["ip", "netns", "delete", ns]) }
        let socket = try NFTSocket(namespacePath: "/run/netns/\(ns)")
        var table = ProxyTable(family: .ip, options: options)
        let full = try measureInProcess {
            try table.syncFull(ports) { try socket.commit($0) }
        }
        // One endpoint more for service 0: compile everything again, commit only the difference.
        var changed = ports
        changed[0].endpoints.append(ProxyEndpoint(address: IPAddress("10.245.255.1")!, port: 8080))
        var incrementalOps = 0
        var planned = 0.0
        let incremental = try measureInProcess {
            // The daemon's informers name the service that changed.
            let start = now()
            try table.syncChanges(upserted: [changed[0]], removed: []) { transaction in
                planned = now() - start
                incrementalOps = transaction.count
                try socket.commit(transaction)
            }
        }

        // The anchor: kube-proxy's nftables shape through the nft CLI.
        let anchorCount = anchorServices ?? services
        let anchorNS = "np-bench-kp-\(getpid())"
        try Self.sh(["ip", "netns", "add", anchorNS])
        defer { _ = try? Self.sh(["ip", "netns", "delete", anchorNS]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-kp-\(getpid()).nft").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Self.kubeProxyShape(services: anchorCount, endpoints: endpoints).write(toFile: file, atomically: true, encoding: .utf8)
        let anchorFull = try measureCommand(["ip", "netns", "exec", anchorNS, "nft", "-f", file])
        let changeFile = file + ".change"
        defer { try? FileManager.default.removeItem(atPath: changeFile) }
        // kube-proxy's change for one new endpoint: a new endpoint chain, and the service
        // chain's rule replaced with a vmap naming it.
        let e = endpoints
        try """
            add chain ip kube-proxy endpoint-0-new
            add rule ip kube-proxy endpoint-0-new ip saddr 10.245.255.1 meta mark set meta mark | 0x4000
            add rule ip kube-proxy endpoint-0-new meta l4proto tcp dnat to 10.245.255.1:8080
            flush chain ip kube-proxy service-0
            add rule ip kube-proxy service-0 ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x4000
            add rule ip kube-proxy service-0 numgen random mod \(e + 1) vmap { \((0..<e).map { "\($0) : goto endpoint-0-\($0)" }.joined(separator: ", ")), \(e) : goto endpoint-0-new }

            """.write(toFile: changeFile, atomically: true, encoding: .utf8)
        let anchorIncremental = try measureCommand(["ip", "netns", "exec", anchorNS, "nft", "-f", changeFile])

        // Data path: connection setup to service 0's ClusterIP, now backed by a real pod, with
        // 10 services loaded and then with all of them; and the same for kube-proxy's iptables
        // shape (iptables-legacy), to show what linear rule walks cost.
        let (few, many) = try datapath(ns: ns, table: &table, ports: changed)
        let (iptFew, iptMany) = try iptablesDatapath()

        print("proxy-full: netplane \(full.summary) (\(services)×\(endpoints)); kube-proxy shape \(anchorFull.summary) (\(anchorCount)×\(endpoints))")
        print("proxy-incremental: netplane \(incremental.summary) (\(incrementalOps) operations, planned in \(String(format: "%.2f", planned * 1000)) ms); nft \(anchorIncremental.summary)")
        printResult("proxy-full", netplane: full.wall, anchor: anchorFull.wall, unit: "s",
                    extra: anchorCount == services ? "" : "anchor-services=\(anchorCount)")
        printResult("proxy-incremental", netplane: incremental.wall * 1000, anchor: anchorIncremental.wall * 1000, unit: "ms")
        print(String(format: "proxy-datapath: connect p50 with %d services %.1f µs, with 10 %.1f µs; iptables-legacy: %.1f µs vs %.1f µs",
                     services, many * 1e6, few * 1e6, iptMany * 1e6, iptFew * 1e6))
        printResult("proxy-datapath", netplane: many * 1000, anchor: few * 1000, unit: "ms")
        printResult("proxy-datapath-iptables", netplane: iptMany * 1000, anchor: iptFew * 1000, unit: "ms")
    }

    /// A pod namespace behind a veth from `ns` (node 10.250.0.1, pod 10.250.0.2) with a
    /// listener on 8080; service ClusterIPs route to it.
    static func attachPod(to ns: String) throws -> (pod: String, server: Process) {
        let pod = ns + "-pod"
        try sh(["ip", "netns", "add", pod])
        try sh(["ip", "-n", ns, "link", "add", "vpod", "type", "veth", "peer", "name", "eth0", "netns", pod])
        try sh(["ip", "-n", ns, "addr", "add", "10.250.0.1/24", "dev", "vpod"])
        try sh(["ip", "-n", ns, "link", "set", "vpod", "up"])
        try sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        try sh(["ip", "-n", pod, "addr", "add", "10.250.0.2/24", "dev", "eth0"])
        try sh(["ip", "-n", pod, "link", "set", "eth0", "up"])
        try sh(["ip", "-n", pod, "route", "add", "default", "via", "10.250.0.1"])
        try sh(["ip", "-n", ns, "route", "add", "10.96.0.0/12", "via", "10.250.0.2"])
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        server.arguments = ["netns", "exec", pod, "python3", "-c",
                            "import socket,time\ns=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 8080)); s.listen(4096)\nwhile True:\n    c,_=s.accept(); c.close()"]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        usleep(500_000)
        return (pod, server)
    }

    /// SIGKILL: children of Foundation's Process may start with SIGTERM blocked.
    static func stop(_ server: Process, _ pod: String) {
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        _ = try? sh(["ip", "netns", "delete", pod])
    }

    /// Median seconds of a TCP connect from `ns` to service `index`'s ClusterIP, port 80,
    /// `count` times; each connection is reset at once (no TIME_WAIT pile-up).
    static func connectLatency(ns: String, index: Int, count: Int = 3000) throws -> Double {
        let target = "10.96.\(index / 256).\(index % 256)"
        let netns = try NetNS.open(path: "/run/netns/\(ns)")
        let times: [Double] = try netns.run {
            var out: [Double] = []
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(80).bigEndian
            address.sin_addr.s_addr = inet_addr(target)
            for _ in 0..<count {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                let start = now()
                let rc = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                let elapsed = now() - start
                close(fd)
                guard rc == 0 else { throw ValidationError("connect to \(target):80 failed: errno \(errno)") }
                out.append(elapsed)
            }
            return out
        }
        return median(times)
    }

    /// Netplane's tables in `ns`: 10 services loaded, then all, the last loaded one (the
    /// worst place in a linear rule list) backed by the pod and measured.
    func datapath(ns: String, table: inout ProxyTable, ports: [ServicePort]) throws -> (few: Double, many: Double) {
        let (pod, server) = try Self.attachPod(to: ns)
        defer { Self.stop(server, pod) }
        let socket = try NFTSocket(namespacePath: "/run/netns/\(ns)")
        var backed = ports
        for i in [9, ports.count - 1] { backed[i].endpoints = [ProxyEndpoint(address: IPAddress("10.250.0.2")!, port: 8080)] }
        try table.syncAll(Array(backed.prefix(10))) { try socket.commit($0) }
        _ = try Self.connectLatency(ns: ns, index: 9, count: 200)   // warm-up
        let few = try Self.connectLatency(ns: ns, index: 9)
        try table.syncAll(backed) { try socket.commit($0) }
        let many = try Self.connectLatency(ns: ns, index: ports.count - 1)
        return (few, many)
    }

    /// kube-proxy's iptables shape (KUBE-SERVICES walks one rule per service) through
    /// iptables-legacy-restore, 10 services and then all, the last one backed by the pod.
    func iptablesDatapath() throws -> (few: Double, many: Double) {
        let ns = "np-bench-ipt-\(getpid())"
        try Self.sh(["ip", "netns", "add", ns])
        defer { _ = try? Self.sh(["ip", "netns", "delete", ns]) }
        let (pod, server) = try Self.attachPod(to: ns)
        defer { Self.stop(server, pod) }
        func load(_ count: Int) throws -> Double {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-ipt-\(getpid()).rules").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            try Self.kubeProxyIptables(services: count, endpoints: endpoints).write(toFile: file, atomically: true, encoding: .utf8)
            _ = try measureCommand(["ip", "netns", "exec", ns, "iptables-legacy-restore", file])
            _ = try Self.connectLatency(ns: ns, index: count - 1, count: 200)
            return try Self.connectLatency(ns: ns, index: count - 1)
        }
        return (try load(10), try load(services))
    }

    /// kube-proxy's iptables rules: KUBE-SERVICES with one rule per service (linear), a
    /// KUBE-SVC chain choosing a KUBE-SEP with `statistic --probability`, KUBE-SEP DNATs.
    /// The last service's only endpoint is the pod.
    static func kubeProxyIptables(services: Int, endpoints: Int) -> String {
        var chains = [":KUBE-SERVICES - [0:0]", ":KUBE-MARK-MASQ - [0:0]"]
        var rules = ["-A OUTPUT -j KUBE-SERVICES", "-A PREROUTING -j KUBE-SERVICES",
                     "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"]
        for i in 0..<services {
            let ip = "10.96.\(i / 256).\(i % 256)"
            let eps = i == services - 1 ? ["10.250.0.2"] : port(i, endpoints: endpoints).endpoints.map(\.address.description)
            chains.append(":KUBE-SVC-\(i) - [0:0]")
            rules.append("-A KUBE-SERVICES -d \(ip)/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-\(i)")
            for (j, ep) in eps.enumerated() {
                chains.append(":KUBE-SEP-\(i)-\(j) - [0:0]")
                let left = eps.count - j
                rules.append("-A KUBE-SVC-\(i) " + (left > 1 ? "-m statistic --mode random --probability \(1.0 / Double(left)) " : "")
                             + "-j KUBE-SEP-\(i)-\(j)")
                rules.append("-A KUBE-SEP-\(i)-\(j) -s \(ep)/32 -j KUBE-MARK-MASQ")
                rules.append("-A KUBE-SEP-\(i)-\(j) -p tcp -m tcp -j DNAT --to-destination \(ep):8080")
            }
        }
        return (["*nat", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"] + chains + rules + ["COMMIT"])
            .joined(separator: "\n") + "\n"
    }

    static func port(_ i: Int, endpoints: Int) -> ServicePort {
        ServicePort(namespace: "bench", name: "svc-\(i)", portName: "http", port: 80,
                    clusterIPs: [IPAddress("10.96.\(i / 256).\(i % 256)")!],
                    endpoints: (0..<endpoints).map { j in
                        let n = i * endpoints + j
                        return ProxyEndpoint(address: IPAddress("10.244.\(n / 256 % 256).\(n % 256)")!.advanced(by: n / 65536), port: 8080)
                    })
    }

    /// kube-proxy's nftables shape (pkg/proxy/nftables): a service-ips vmap, a chain per
    /// service choosing an endpoint chain with `numgen random mod N vmap`, a chain per
    /// endpoint marking hairpin traffic and DNATing.
    static func kubeProxyShape(services: Int, endpoints: Int) -> String {
        var out = ["table ip kube-proxy {"]
        out.append("  map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }")
        for i in 0..<services {
            for j in 0..<endpoints {
                let ep = port(i, endpoints: endpoints).endpoints[j].address
                out.append("  chain endpoint-\(i)-\(j) { ip saddr \(ep) meta mark set meta mark | 0x4000; meta l4proto tcp dnat to \(ep):8080; }")
            }
            out.append("  chain service-\(i) { ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x4000; numgen random mod \(endpoints) vmap { \((0..<endpoints).map { "\($0) : goto endpoint-\(i)-\($0)" }.joined(separator: ", ")) }; }")
        }
        out.append("  chain services { ip daddr . meta l4proto . th dport vmap @service-ips; }")
        out.append("  chain nat-prerouting { type nat hook prerouting priority dstnat; jump services; }")
        out.append("}")
        let elements = (0..<services).map { "10.96.\($0 / 256).\($0 % 256) . tcp . 80 : goto service-\($0)" }
        out.append("add element ip kube-proxy service-ips { \(elements.joined(separator: ", ")) }")
        return out.joined(separator: "\n") + "\n"
    }

    @discardableResult
    static func sh(_ args: [String]) throws -> Cost { try measureCommand(args) }
}

extension IPAddress {
    /// This address moved up `n` /16 blocks (endpoints beyond 65536 spill into 10.245, …).
    func advanced(by blocks: Int) -> IPAddress {
        guard blocks > 0, case .v4(let a) = self else { return self }
        return .v4(IPv4Address(a.value &+ UInt32(blocks) << 16))
    }
}
