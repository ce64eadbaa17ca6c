public import NFTablesModel
public import NetAddress
public import ProxyCore

/// Representative Services whose compiled rulesets are kept as golden files
/// (Tests/ProxyCoreTests/Golden/<name>.nft), shared by the pure golden tests (the compiler's
/// output, through `FakeNFTables`, is the file) and the root test (the file loads with a
/// real `nft -f`, and the kernel then holds exactly what the proxy's own commit makes).
public struct GoldenCase: Sendable {
    public var name: String
    public var ports: [ServicePort]
}

public enum GoldenCases {
    /// One shard keeps each file to two tables; the node's address is where NodePorts answer.
    public static let options = ProxyOptions(clusterCIDRs: [try! IPPrefix("10.244.0.0/16")],
                                             nodePortAddresses: [IPAddress("198.18.0.11")!], shards: 1)

    static func endpoint(_ host: Int, local: Bool = false) -> ProxyEndpoint {
        ProxyEndpoint(address: IPAddress("10.244.\(host).5")!, port: 8080, isLocal: local)
    }

    public static let all: [GoldenCase] = [
        GoldenCase(name: "clusterip-3-endpoints", ports: [
            ServicePort(namespace: "default", name: "web", portName: "http", port: 80, clusterIPs: [IPAddress("10.96.0.10")!],
                        endpoints: [endpoint(1), endpoint(2), endpoint(3)]),
        ]),
        GoldenCase(name: "nodeport-local", ports: [
            ServicePort(namespace: "shop", name: "front", portName: "https", port: 443, clusterIPs: [IPAddress("10.96.0.20")!],
                        nodePort: 30443, externalTrafficLocal: true,
                        endpoints: [endpoint(1, local: true), endpoint(2)]),
        ]),
        GoldenCase(name: "no-endpoints", ports: [
            ServicePort(namespace: "default", name: "empty", portName: "dns", proto: .udp, port: 53,
                        clusterIPs: [IPAddress("10.96.0.53")!], nodePort: 30053),
        ]),
        GoldenCase(name: "session-affinity", ports: [
            ServicePort(namespace: "default", name: "sticky", port: 8080, clusterIPs: [IPAddress("10.96.0.30")!],
                        affinitySeconds: 10800, endpoints: [endpoint(1), endpoint(2)]),
        ]),
    ]

    /// The transaction of a full sync of the IPv4 tables (what the proxy commits on start).
    public static func transaction(_ golden: GoldenCase) -> Transaction {
        var table = ProxyTable(family: .ip, options: options)
        var committed = Transaction()
        table.syncFull(golden.ports) { committed = $0 }
        return committed
    }

    /// The golden file of a case.
    public static func path(_ golden: GoldenCase, filePath: String = #filePath) -> String {
        let tests = filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(2).joined(separator: "/")
        return "\(tests)/ProxyCoreTests/Golden/\(golden.name).nft"
    }
}
