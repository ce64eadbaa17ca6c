import NFTables
import NetAddress

/// The comment that tags the nftables rules made for one attachment (network, container,
/// interface), so DEL removes exactly those and GC can tell whose they are.
struct AttachmentTag: Hashable {
    var network: String
    var containerID: String
    var ifname: String

    /// nftables keeps at most 128 bytes of comment; a longer tag is cut, which DEL still
    /// matches exactly (it cuts the same way) but GC cannot parse, so it leaves it alone.
    var comment: String {
        String(decoding: "name: \(network) id: \(containerID) if: \(ifname)".utf8.prefix(127), as: UTF8.self)
    }

    init(network: String, containerID: String, ifname: String) {
        self.network = network
        self.containerID = containerID
        self.ifname = ifname
    }

    init?(comment: String) {
        guard comment.hasPrefix("name: "),
              let id = comment.firstRange(of: " id: "),
              let ifRange = comment[id.upperBound...].firstRange(of: " if: ")
        else { return nil }
        network = String(comment[comment.index(comment.startIndex, offsetBy: 6)..<id.lowerBound])
        containerID = String(comment[id.upperBound..<ifRange.lowerBound])
        ifname = String(comment[ifRange.upperBound...])
    }
}

/// ipMasq: one rule per pod IPv4 address in `ip netplane-cni-masq` chain `postrouting` (nat):
/// `ip saddr POD ip daddr != SUBNET masquerade`, tagged with the attachment.
enum Masq {
    static let table = Table(.ip, "netplane-cni-masq")
    static let chain = "postrouting"

    static func add(_ addresses: [IPPrefix], tag: AttachmentTag) throws {
        let v4 = addresses.filter(\.address.isIPv4)
        guard !v4.isEmpty else { return }
        let socket = try NFTSocket()
        var tx = Transaction()
        try ensureBaseChain(socket, &tx, table, chain, BaseChain(type: .nat, hook: .postrouting, priority: Priority.srcnat))
        for p in v4 {
            let pod = try IPPrefix(address: p.address, length: 32)
            var outside = Match.ipDaddr(p.network)
            if case .cmp(let r, _, let bytes)? = outside.last { outside[outside.count - 1] = .cmp(r, .neq, bytes) }
            tx.add(Rule(table, chain, Match.ipSaddr(pod) + outside + Action.masquerade(), comment: tag.comment))
        }
        try socket.commit(tx)
    }
}

/// macspoofchk: frames entering the bridge from the pod's port must carry the pod's MAC.
/// One rule per attachment in `bridge netplane-cni-macspoof` chain `prerouting` (filter hook,
/// priority -300, before anything else on the bridge sees the frame):
/// `iifname VETH ether saddr != MAC drop`.
enum SpoofCheck {
    static let table = Table(.bridge, "netplane-cni-macspoof")
    static let chain = "prerouting"

    static func add(hostInterface: String, mac: MACAddress, tag: AttachmentTag) throws {
        let socket = try NFTSocket()
        var tx = Transaction()
        try ensureBaseChain(socket, &tx, table, chain, BaseChain(type: .filter, hook: .prerouting, priority: -300))
        let otherSource: [Expression] = [.payload(.link, offset: 6, length: 6, into: .r(0)),
                                         .cmp(.r(0), .neq, mac.bytes)]
        tx.add(Rule(table, chain, Match.iifname(hostInterface) + otherSource + [.verdict(.drop)], comment: tag.comment))
        try socket.commit(tx)
    }
}

/// Adds the table and base chain to `tx` unless they exist. Re-adding an existing chain is
/// not free: the kernel records it as a chain update that is released only after an RCU
/// grace period, and closing the socket waits for that (10-20 ms on every ADD).
func ensureBaseChain(_ socket: NFTSocket, _ tx: inout Transaction, _ table: Table, _ chain: String,
                     _ base: BaseChain) throws {
    if (try? socket.chains(in: table))?.contains(where: { $0.name == chain }) == true { return }
    tx.add(table)
    tx.add(Chain(table, chain, base: base))
}

/// Removes the masquerade and spoof-check rules of one attachment.
func removeTaggedRules(of tag: AttachmentTag, using socket: NFTSocket) throws {
    let comment = tag.comment
    try removeTaggedRules(using: socket) { $0 == comment }
}

/// Removes the masquerade and spoof-check rules whose comment `matches` accepts (an absent
/// table is skipped).
func removeTaggedRules(using socket: NFTSocket, where matches: (String) -> Bool) throws {
    for (table, chain) in [(Masq.table, Masq.chain), (SpoofCheck.table, SpoofCheck.chain)] {
        try socket.deleteRules(in: table, chain: chain, where: matches)
    }
}
