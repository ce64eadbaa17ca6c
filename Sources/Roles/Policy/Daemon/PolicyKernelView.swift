public import NFTables
public import NetAddress
import PolicyCore

/// What the kernel holds for one connection, read back from a node's tables: which chain the
/// source's egress and the destination's ingress jump to, that chain's rules (their comments
/// name the policy rules), and the set elements of those rules that match the connection.
/// It reads the kernel independently of the daemon's memory: `netplane policy trace --kernel`.
public enum PolicyKernelView {
    public static func describe(_ socket: NFTSocket, tableName: String, source: IPAddress, destination: IPAddress,
                                proto: UInt8, port: UInt16) throws -> [String] {
        let table = Table(source.isIPv4 ? .ip : .ip6, tableName)
        guard try socket.tables(family: table.family).contains(table) else {
            return ["table \(table.family) \(tableName) is not there: is `netplane policy` running on this node?"]
        }
        var lines: [String] = []
        for (direction, pod, peer) in [("egress", source, destination), ("ingress", destination, source)] {
            let entries = try socket.elements(of: direction, in: table)
            guard let entry = entries.first(where: { IPAddress(bytes: $0.key) == pod }), case .jump(let chain)? = entry.verdict else {
                lines.append("\(direction): \(pod) is not in map \(direction): not isolated on this node")
                continue
            }
            lines.append("\(direction): map \(direction) \(pod) : jump \(chain)")
            var ids: [UInt32: String] = [:]
            for rule in try socket.rules(in: table, chain: chain) {
                lines.append("  rule: \(rule.comment ?? "(no comment)")")
                if let comment = rule.comment, let hash = comment.lastIndex(of: "#"), let id = UInt32(comment[comment.index(after: hash)...]) {
                    ids[id] = comment
                }
            }
            for kind in PolicyTables.SetKind.allCases {
                for element in try socket.elements(of: kind.rawValue, in: table) {
                    guard let decoded = decode(element, addressWidth: kind.hasAddress ? (source.isIPv4 ? 4 : 16) : 0, withPorts: kind.hasPorts),
                          let rule = ids[decoded.id], decoded.covers(peer, proto: proto, port: port) else { continue }
                    lines.append("  element \(kind.rawValue) { \(decoded) } matches: \(rule)")
                }
            }
        }
        return lines
    }

    struct Decoded: CustomStringConvertible {
        var first: IPAddress?
        var last: IPAddress?
        var id: UInt32
        var proto: UInt8?
        var firstPort: UInt16?
        var lastPort: UInt16?
        func covers(_ address: IPAddress, proto p: UInt8, port: UInt16) -> Bool {
            if let first, let last, !AddressRange(first, last).contains(address) { return false }
            guard let proto, let firstPort, let lastPort else { return true }
            return proto == p && firstPort <= port && port <= lastPort
        }
        var description: String {
            var fields: [String] = []
            if let first, let last { fields.append(first == last ? "\(first)" : "\(first)-\(last)") }
            fields.append("#\(id)")
            if let proto, let firstPort, let lastPort {
                fields.append(proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 132 ? "sctp" : "\(proto)")
                fields.append(firstPort == lastPort ? "\(firstPort)" : "\(firstPort)-\(lastPort)")
            }
            return fields.joined(separator: " . ")
        }
    }

    /// A concatenated element: [address], rule id (big endian), [protocol, port], each field
    /// padded to 32 bits.
    static func decode(_ element: ElementInfo, addressWidth width: Int, withPorts: Bool) -> Decoded? {
        func fields(_ bytes: [UInt8]) -> (IPAddress?, UInt32, UInt8?, UInt16?)? {
            guard bytes.count >= width + 4 + (withPorts ? 8 : 0) else { return nil }
            let address = width == 0 ? nil : IPAddress(bytes: Array(bytes[0..<width]))
            let id = bytes[width..<width + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard withPorts else { return (address, id, nil, nil) }
            return (address, id, bytes[width + 4], UInt16(bytes[width + 8]) << 8 | UInt16(bytes[width + 9]))
        }
        guard let start = fields(element.key) else { return nil }
        let end = element.keyEnd.flatMap(fields) ?? start
        return Decoded(first: start.0, last: end.0, id: start.1, proto: start.2, firstPort: start.3, lastPort: end.3)
    }
}
