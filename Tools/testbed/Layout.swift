import NetAddress

/// The names and addresses of one testbed; the only place they are spelled out.
struct Layout {
    /// 198.18.0.(10+K) must stay a host address of 198.18.0.0/24.
    static let maxNodes = 200
    static let bridge = "br0"
    static let nodeInterface = "eth0"

    var prefix: String
    var nodes: Int

    var fabric: String { "\(prefix)-fabric" }
    var nodeNames: [String] { nodes > 0 ? (1...nodes).map(node) : [] }

    func node(_ k: Int) -> String { "\(prefix)-node\(k)" }

    /// The bridge-side end of node K's veth pair, in the fabric namespace.
    func hostEnd(_ k: Int) -> String { "veth-node\(k)" }

    func address(_ k: Int) -> IPPrefix {
        // 10+K is at most 210 for the allowed K, so this always parses.
        try! IPPrefix(address: .v4(IPv4Address(198, 18, 0, UInt8(10 + k))), length: 24)
    }

    /// The node number of `namespace` if it is one of this prefix's node namespaces.
    func nodeNumber(of namespace: String) -> Int? {
        let head = "\(prefix)-node"
        guard namespace.hasPrefix(head), let k = Int(namespace.dropFirst(head.count)), k > 0,
              node(k) == namespace else { return nil }
        return k
    }

    /// Whether `namespace` belongs to this testbed, whatever its node count: the fabric, the
    /// nodes, and the pods `Tools/up` attaches to them (`<node>-pod<J>`).
    func owns(_ namespace: String) -> Bool {
        if namespace == fabric || nodeNumber(of: namespace) != nil { return true }
        guard let dash = namespace.ranges(of: "-pod").last,
              Int(namespace[dash.upperBound...]).map({ $0 > 0 }) == true else { return false }
        return nodeNumber(of: String(namespace[..<dash.lowerBound])) != nil
    }
}
