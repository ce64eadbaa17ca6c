import CNI
import NFTables
import NetAddress

/// ipMasq: one rule per pod address in `ip netplane-cni-masq` chain `postrouting` (nat),
/// `ip saddr POD ip daddr != SUBNET masquerade`, tagged with a comment naming the network
/// and container so DEL removes exactly its own rules.
enum Masq {
    static let table = Table(.ip, "netplane-cni-masq")
    static let chain = "postrouting"

    static func comment(network: String, containerID: String) -> String {
        String("name: \(network) id: \(containerID)".prefix(120))
    }

    static func add(_ addresses: [IPPrefix], comment: String) throws {
        let v4 = addresses.filter(\.address.isIPv4)
        guard !v4.isEmpty else { return }
        var tx = Transaction()
        tx.add(table)
        tx.add(Chain(table, chain, base: BaseChain(type: .nat, hook: .postrouting, priority: Priority.srcnat)))
        for p in v4 {
            let pod = try IPPrefix(address: p.address, length: 32)
            var outside = Match.ipDaddr(p.network)
            if case .cmp(let r, _, let bytes)? = outside.last { outside[outside.count - 1] = .cmp(r, .neq, bytes) }
            tx.add(Rule(table, chain, Match.ipSaddr(pod) + outside + Action.masquerade(), comment: comment))
        }
        try NFTSocket().commit(tx)
    }

    /// Removes the rules tagged `comment`; nothing to do when the table is absent.
    static func remove(comment: String) throws {
        let socket = try NFTSocket()
        guard try socket.tables(family: .ip).contains(table) else { return }
        var tx = Transaction()
        for r in try socket.rules(in: table, chain: chain) where r.comment == comment {
            tx.delete(Rule(table, chain, []).withHandle(r.handle))
        }
        if !tx.isEmpty { try socket.commit(tx) }
    }
}
