public import NFTablesModel
public import NetAddress

/// The shape of the enforcer's tables (one `ip` and one `ip6` table of the same layout) and
/// the rules that never change: everything the compiler emits goes through these names.
///
///     table ip netplane-policy {
///       set pod-any     { type ipv4_addr . mark; flags interval }                 # pod peer . rule
///       set pod-ports   { type ipv4_addr . mark . inet_proto . inet_service; flags interval }
///       set block-any   { … }  set block-ports { … }                               # ipBlocks, "everyone"
///       map ingress     { type ipv4_addr : verdict }   # isolated local pod -> jump its chain
///       map egress      { type ipv4_addr : verdict }
///       chain forward { type filter hook forward priority filter; policy accept;
///         ct state established,related jump established; jump check; jump stamp }
///       chain input   { … the same, for pods talking to their node }
///       chain established { ct direction reply accept; ct state related accept; ct mark G accept }
///       chain check { ip saddr vmap @egress; ip daddr vmap @ingress }
///       chain stamp { ct mark set G }
///       chain in-7 { ip saddr . 12 @pod-ports … return; …; reject with icmpx admin-prohibited }
///     }
///
/// A pod chain holds one line per rule that applies to the pods sharing it, each a lookup of
/// the packet's peer address and the rule's id (and protocol and port) in one of four sets,
/// so the cost of a packet grows with the rules selecting its pod, never with the number of
/// policies in the cluster. Every change bumps the generation G: established connections
/// whose mark is older go through `check` once more at their next packet in the direction
/// they were opened, so a flow the new policies still allow carries on and one they no
/// longer allow is cut (rejected) there.
public enum PolicyTables {
    public enum SetKind: String, CaseIterable, Sendable, Hashable {
        case podAny = "pod-any", podPorts = "pod-ports", blockAny = "block-any", blockPorts = "block-ports"
        var withPorts: Bool { self == .podPorts || self == .blockPorts }
    }

    public static func table(_ family: Family, name: String) -> Table { Table(family, name) }

    static func addressType(_ family: Family) -> DataType { family == .ip ? .ipv4Address : .ipv6Address }

    public static func set(_ kind: SetKind, in table: Table) -> NamedSet {
        let address = addressType(table.family)
        let key: [DataType] = kind.withPorts ? [address, .mark, .inetProto, .inetService] : [address, .mark]
        return NamedSet(table, kind.rawValue, key: key, flags: [.interval])
    }

    public static func map(_ direction: Direction, in table: Table) -> NamedSet {
        NamedSet(table, direction.rawValue, key: [addressType(table.family)], data: .verdict)
    }

    static let baseChains = ["forward", "input"]
    static let fixedChains = ["established", "check", "stamp"]

    /// Every fixed object of one family's table, with the generation's rules.
    static func skeleton(_ table: Table, generation: UInt32) -> (sets: [NamedSet], chains: [Chain], rules: [Rule]) {
        let sets = SetKind.allCases.map { set($0, in: table) } + Direction.allCases.map { map($0, in: table) }
        var chains = [
            Chain(table, "forward", base: BaseChain(type: .filter, hook: .forward, priority: Priority.filter)),
            Chain(table, "input", base: BaseChain(type: .filter, hook: .input, priority: Priority.filter)),
        ]
        chains += fixedChains.map { Chain(table, $0) }
        var rules: [Rule] = []
        for base in baseChains {
            rules.append(Rule(table, base, Match.ctState([.established, .related]) + Action.jump("established")))
            rules.append(Rule(table, base, Action.jump("check")))
            rules.append(Rule(table, base, Action.jump("stamp")))
        }
        let saddr: Field = table.family == .ip ? .ipSaddr : .ip6Saddr
        let daddr: Field = table.family == .ip ? .ipDaddr : .ip6Daddr
        rules.append(Rule(table, "check", Match.verdictMap(Direction.egress.rawValue, [saddr])))
        rules.append(Rule(table, "check", Match.verdictMap(Direction.ingress.rawValue, [daddr])))
        rules += generationRules(table, generation)
        return (sets, chains, rules)
    }

    /// The rules of `established` and `stamp`, which name the generation.
    static func generationRules(_ table: Table, _ generation: UInt32) -> [Rule] {
        let mark = Value.mark(generation).bytes
        return [
            // IP_CT_DIR_REPLY: replies pass; the direction that opened the flow decides.
            Rule(table, "established", [.ct(.direction, into: .r(0)), .cmp(.r(0), .eq, [1])] + Action.accept),
            Rule(table, "established", Match.ctState(.related) + Action.accept),
            Rule(table, "established", [.ct(.mark, into: .r(0)), .cmp(.r(0), .eq, mark)] + Action.accept),
            Rule(table, "stamp", [.immediate(mark, into: .r(0)), .setCt(.mark, from: .r(0))]),
        ]
    }

    /// The rules of a pod chain: a line per rule, then the rejection.
    static func chainRules(_ table: Table, _ content: ChainContent, name: String) -> [Rule] {
        let v4 = table.family == .ip
        let peer: Field = content.direction == .ingress ? (v4 ? .ipSaddr : .ip6Saddr) : (v4 ? .ipDaddr : .ip6Daddr)
        let words = UInt32((peer.type.length + 3) / 4)
        var rules: [Rule] = []
        for line in content.lines {
            for lookup in line.lookups {
                var e: [Expression]
                switch lookup {
                case .allowAll:
                    e = []
                case .set(let kind):
                    e = Match.load([peer]) + [.immediate(ruleID(line.id).bytes, into: .r(words))]
                    if kind.withPorts {
                        e += [Field.l4proto.load(into: .r(words + 1)), Field.thDport.load(into: .r(words + 2))]
                    }
                    e.append(.lookup(set: kind.rawValue, key: .r(0)))
                }
                rules.append(Rule(table, name, e + [.verdict(.return)], comment: line.comment))
            }
        }
        // ICMP "administratively prohibited" (v4 code 13, v6 code 1): the client fails at
        // once and can tell a policy from a closed port.
        rules.append(Rule(table, name, [.reject(.icmp, code: table.family == .ip ? 13 : 1)], comment: "no rule allows it"))
        return rules
    }
}

/// A rule's id as its set elements and chain lines hold it: big endian, so `nft list`
/// shows the number the rule comments name.
func ruleID(_ id: UInt32) -> Value {
    .raw([UInt8(id >> 24), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff)])
}

/// How a chain line tests a packet.
enum Lookup: Hashable, Sendable {
    /// The rule allows everything: the line returns unconditionally.
    case allowAll
    /// The packet's peer address and the rule's id (and protocol and port) are in the set.
    case set(PolicyTables.SetKind)
}

/// One rule applied to the pods of a chain: its id in the sets and the lookups it needs.
struct ChainLine: Hashable, Sendable {
    var id: UInt32
    var lookups: [Lookup]
    /// "namespace/policy ingress[0] #id": what `trace --kernel` and `nft list` show.
    var comment: String
}

/// What a pod chain holds; pods with the same content share one chain.
struct ChainContent: Hashable, Sendable {
    var direction: Direction
    var lines: [ChainLine]
}
