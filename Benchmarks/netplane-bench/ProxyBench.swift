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

    func run() throws {
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

        print("proxy-full: netplane \(full.summary) (\(services)×\(endpoints)); kube-proxy shape \(anchorFull.summary) (\(anchorCount)×\(endpoints))")
        print("proxy-incremental: netplane \(incremental.summary) (\(incrementalOps) operations, planned in \(String(format: "%.2f", planned * 1000)) ms); nft \(anchorIncremental.summary)")
        printResult("proxy-full", netplane: full.wall, anchor: anchorFull.wall, unit: "s",
                    extra: anchorCount == services ? "" : "anchor-services=\(anchorCount)")
        printResult("proxy-incremental", netplane: incremental.wall * 1000, anchor: anchorIncremental.wall * 1000, unit: "ms")
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
