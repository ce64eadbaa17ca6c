public import NFTablesModel
public import NetAddress

/// flanneld's masquerade rules (its FLANNEL-POSTRTG chain), in nftables: table
/// `ip netplane-flannel`, chain `postrouting` (nat, srcnat):
///
///     meta mark & 0x4000 == 0x4000 return          (the proxy masquerades these itself)
///     ip saddr NETWORK ip daddr NETWORK return      (pod to pod: never NAT)
///     ip saddr != NETWORK ip daddr SUBNET return    (traffic for this node's pods keeps its source)
///     ip saddr NETWORK ip daddr != 224.0.0.0/4 masquerade fully-random   (pods leaving the cluster)
///     ip saddr != NETWORK ip daddr NETWORK masquerade fully-random       (the host to remote pods)
///
/// Installed in one transaction that also empties any earlier version of the table, so a
/// restart swaps the rules without a moment where none apply.
public enum FlannelMasquerade {
    public static let table = Table(.ip, "netplane-flannel")
    public static let chain = "postrouting"
    static let multicast = try! IPPrefix("224.0.0.0/4")

    public static func transaction(network: IPPrefix, subnet: IPPrefix) -> Transaction {
        var tx = Transaction()
        tx.add(table)
        tx.delete(table)
        tx.add(table)
        tx.add(Chain(table, chain, base: BaseChain(type: .nat, hook: .postrouting, priority: Priority.srcnat)))
        let comment = "flanneld masq"
        let rules: [[Expression]] = [
            Match.mark(PacketMark.masquerade, mask: PacketMark.masquerade) + [.verdict(.return)],
            Match.ipSaddr(network) + Match.ipDaddr(network) + [.verdict(.return)],
            Match.notInPrefix(.ipSaddr, network) + Match.ipDaddr(subnet) + [.verdict(.return)],
            Match.ipSaddr(network) + Match.notInPrefix(.ipDaddr, multicast) + Action.masquerade(fullyRandom: true),
            Match.notInPrefix(.ipSaddr, network) + Match.ipDaddr(network) + Action.masquerade(fullyRandom: true),
        ]
        for expressions in rules { tx.add(Rule(table, chain, expressions, comment: comment)) }
        return tx
    }

    /// Removes the rules (`--ip-masq=false` after a run with it on).
    public static func removal() -> Transaction {
        var tx = Transaction()
        tx.add(table)
        tx.delete(table)
        return tx
    }
}
