public import NFTablesModel
public import NetAddress

/// The shape of the enforcer's tables (one `ip` and one `ip6` table of the same layout) and
/// the rules that never change: everything the compiler emits goes through these names.
///
///     table ip netplane-policy {
///       set pod-peers        { type ipv4_addr . mark }                                  # pod . rule (hash)
///       set block-peers      { type ipv4_addr . mark; flags interval }                  # ipBlock range . rule
///       set rule-ports       { type mark . inet_proto . inet_service }                  # rule . port (hash)
///       set rule-port-ranges { type mark . inet_proto . inet_service; flags interval }  # endPort, whole protocols
///       set pod-ports        { type ipv4_addr . mark . inet_proto . inet_service; flags interval }  # egress named ports
///       map ingress { type ipv4_addr : verdict }   # isolated local pod -> jump its chain
///       map egress  { type ipv4_addr : verdict }
///       set generation { type mark }               # the current generation G
///       map stamp { type mark : mark; flags interval }   # 0-0xffffffff : G
///       chain forward { type filter hook forward priority filter; policy accept;
///         ct mark @generation accept
///         ct state established,related jump established
///         ip saddr vmap @egress
///         ip daddr vmap @ingress
///         ct mark set ct mark map @stamp }
///       chain input { … the same without the ingress lookup: pods talking to their node }
///       chain established { ct direction reply accept; ct state related accept }   # older flows
///       chain in-7 { ip saddr . 12 @pod-peers 12 . meta l4proto . th dport @rule-ports return; …
///                    reject with icmp admin-prohibited }
///     }
///
/// A pod chain holds, per rule that applies to the pods sharing it, a line or two: each the
/// lookup of the packet's peer address and the rule's id, and of the rule's id with the
/// protocol and port. Exact keys live in hash sets (one bucket to look at, whatever their
/// size); only ranges (ipBlocks, endPort, whole protocols, and per-pod named ports of egress
/// rules) live in interval sets, whose lookups and commits grow with their size and which
/// therefore hold rules' ranges, not pods. So a packet costs one hash lookup per map and a
/// couple per rule selecting its pod, whatever the number of policies in the cluster; and a
/// pod joining or leaving a rule's peers changes one hash-set element.
///
/// Every change bumps the generation G (a set element and a map element, not a rule: a rule
/// or jump added makes the kernel re-validate the whole table): established connections
/// whose conntrack mark is older are judged again at their next packet in the direction
/// they were opened, so a flow the new policies still allow carries on (re-stamped) and one
/// they no longer allow is cut (rejected) there.
public enum PolicyTables {
    public enum SetKind: String, CaseIterable, Sendable, Hashable {
        case podPeers = "pod-peers", blockPeers = "block-peers", rulePorts = "rule-ports"
        case rulePortRanges = "rule-port-ranges", podPorts = "pod-ports"

        public var hasAddress: Bool { self != .rulePorts && self != .rulePortRanges }
        public var hasPorts: Bool { self != .podPeers && self != .blockPeers }
        var isInterval: Bool { self == .blockPeers || self == .rulePortRanges || self == .podPorts }

        func key(_ family: Family) -> [DataType] {
            (hasAddress ? [addressType(family)] : []) + [.mark] + (hasPorts ? [.inetProto, .inetService] : [])
        }
    }

    static func addressType(_ family: Family) -> DataType { family == .ip ? .ipv4Address : .ipv6Address }

    public static func set(_ kind: SetKind, in table: Table) -> NamedSet {
        NamedSet(table, kind.rawValue, key: kind.key(table.family), flags: kind.isInterval ? [.interval] : [])
    }

    /// Isolated local pods of a direction: address -> jump to their chain.
    public static func map(_ direction: Direction, in table: Table) -> NamedSet {
        NamedSet(table, direction.rawValue, key: [addressType(table.family)], data: .verdict)
    }

    static func generation(in table: Table) -> NamedSet { NamedSet(table, "generation", key: [.mark]) }
    static func stamp(in table: Table) -> NamedSet {
        NamedSet(table, "stamp", key: [.mark], data: .value([.mark]), flags: [.interval])
    }
    static func generationElement(_ generation: UInt32) -> SetElement { SetElement(.mark(generation)) }
    /// Every mark (new connections have 0, stale ones an older generation) maps to G.
    static func stampElement(_ generation: UInt32) -> SetElement {
        SetElement([.raw([0, 0, 0, 0])], to: .value([.mark(generation)]), keyEnd: [.raw([0xff, 0xff, 0xff, 0xff])])
    }

    /// Every fixed object of one family's table, with the generation's elements.
    static func skeleton(_ table: Table, generation: UInt32)
        -> (sets: [NamedSet], chains: [Chain], rules: [Rule], elements: [(NamedSet, [SetElement])]) {
        let sets = SetKind.allCases.map { set($0, in: table) } + Direction.allCases.map { map($0, in: table) }
            + [self.generation(in: table), stamp(in: table)]
        let chains = [
            Chain(table, "forward", base: BaseChain(type: .filter, hook: .forward, priority: Priority.filter)),
            Chain(table, "input", base: BaseChain(type: .filter, hook: .input, priority: Priority.filter)),
            Chain(table, "established"),
        ]
        let v4 = table.family == .ip
        let (saddr, daddr): (Field, Field) = v4 ? (.ipSaddr, .ipDaddr) : (.ip6Saddr, .ip6Daddr)
        let stampRule: [Expression] = [.ct(.mark, into: .r(0)), .lookup(set: "stamp", key: .r(0), into: .r(1)), .setCt(.mark, from: .r(1))]
        var rules: [Rule] = []
        let current: [Expression] = [.ct(.mark, into: .r(0)), .lookup(set: "generation", key: .r(0))] + Action.accept
        for base in ["forward", "input"] {
            // Most packets belong to a flow allowed under the current generation: one lookup.
            rules.append(Rule(table, base, current))
            rules.append(Rule(table, base, Match.ctState([.established, .related]) + Action.jump("established")))
            rules.append(Rule(table, base, Match.verdictMap(Direction.egress.rawValue, [saddr])))
            if base == "forward" { rules.append(Rule(table, base, Match.verdictMap(Direction.ingress.rawValue, [daddr]))) }
            rules.append(Rule(table, base, stampRule))
        }
        // IP_CT_DIR_REPLY: replies pass; the direction that opened the flow decides.
        rules.append(Rule(table, "established", [.ct(.direction, into: .r(0)), .cmp(.r(0), .eq, [1])] + Action.accept))
        rules.append(Rule(table, "established", Match.ctState(.related) + Action.accept))
        let elements = [(self.generation(in: table), [generationElement(generation)]), (stamp(in: table), [stampElement(generation)])]
        return (sets, chains, rules, elements)
    }

    /// The rules of a pod chain: each line's lookups (all must match) then return; at the
    /// end the rejection.
    static func chainRules(_ table: Table, _ content: ChainContent, name: String) -> [Rule] {
        let v4 = table.family == .ip
        let peer: Field = content.direction == .ingress ? (v4 ? .ipSaddr : .ip6Saddr) : (v4 ? .ipDaddr : .ip6Daddr)
        let words = UInt32((peer.type.length + 3) / 4)
        var rules: [Rule] = []
        for line in content.lines {
            let id = ruleID(line.id).bytes
            for lookups in line.lookups {
                var e: [Expression] = []
                for kind in lookups {
                    if kind.hasAddress {
                        e += Match.load([peer]) + [.immediate(id, into: .r(words))]
                        if kind.hasPorts { e += [Field.l4proto.load(into: .r(words + 1)), Field.thDport.load(into: .r(words + 2))] }
                    } else {
                        e += [.immediate(id, into: .r(0)), Field.l4proto.load(into: .r(1)), Field.thDport.load(into: .r(2))]
                    }
                    e.append(.lookup(set: kind.rawValue, key: .r(0)))
                }
                rules.append(Rule(table, name, e + [.verdict(.return)], comment: line.comment))
            }
        }
        // ICMP "administratively prohibited" (v4 code 13, v6 code 1): the client fails at
        // once and can tell a policy from a closed port.
        rules.append(Rule(table, name, [.reject(.icmp, code: v4 ? 13 : 1)], comment: "otherwise: reject (administratively prohibited)"))
        return rules
    }
}

/// A rule's id as its set elements and chain lines hold it: big endian, so `nft list`
/// shows the number the rule comments name.
func ruleID(_ id: UInt32) -> Value {
    .raw([UInt8(id >> 24), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff)])
}

/// One rule applied to the pods of a chain: its id in the sets and its lookups: each inner
/// list is one rule line whose lookups must all match; an empty one allows everything.
struct ChainLine: Hashable, Sendable {
    var id: UInt32
    var lookups: [[PolicyTables.SetKind]]
    /// "namespace/policy ingress[0] #id": what `trace --kernel` and `nft list` show.
    var comment: String
}

/// What a pod chain holds; pods with the same content share one chain.
struct ChainContent: Hashable, Sendable {
    var direction: Direction
    var lines: [ChainLine]
}
