public import NetAddress

/// IP protocol numbers used in matches and set keys.
public enum IPProtocol: UInt8, Sendable, Hashable {
    case icmp = 1, tcp = 6, udp = 17, icmpv6 = 58, sctp = 132
}

/// Builders for the common matches, each a short list of kernel expressions ending in a
/// comparison (or lookup) so rules read like `nft` syntax:
///
///     Rule(t, "svc", Match.ipDaddr(ip) + Match.l4proto(.tcp) + Match.thDport(80) + Action.dnat(to: ep, port: 8080))
public enum Match {
    /// `ip saddr` / `ip daddr` equal to an address, or inside a prefix when `prefix` is shorter than 32.
    public static func ipSaddr(_ prefix: IPPrefix) -> [Expression] { ipv4(offset: 12, prefix) }
    public static func ipDaddr(_ prefix: IPPrefix) -> [Expression] { ipv4(offset: 16, prefix) }
    public static func ipDaddr(_ address: IPv4Address) -> [Expression] {
        [.payload(.network, offset: 16, length: 4, into: .r(0)), .cmp(.r(0), .eq, address.bytes)]
    }
    public static func ipSaddr(_ address: IPv4Address) -> [Expression] {
        [.payload(.network, offset: 12, length: 4, into: .r(0)), .cmp(.r(0), .eq, address.bytes)]
    }

    private static func ipv4(offset: UInt32, _ prefix: IPPrefix) -> [Expression] {
        let load = Expression.payload(.network, offset: offset, length: 4, into: .r(0))
        guard case .v4(let net) = prefix.network.address else { return [load] }
        if prefix.length == 32 { return [load, .cmp(.r(0), .eq, net.bytes)] }
        let mask = IPv4Address(prefix.length == 0 ? 0 : ~UInt32(0) << (32 - prefix.length))
        return [load, .bitwise(from: .r(0), into: .r(0), mask: mask.bytes, xor: [0, 0, 0, 0]),
                .cmp(.r(0), .eq, net.bytes)]
    }

    /// `meta l4proto tcp`.
    public static func l4proto(_ proto: IPProtocol) -> [Expression] {
        [.meta(.l4proto, into: .r(0)), .cmp(.r(0), .eq, [proto.rawValue])]
    }

    /// `th dport N`: the destination port of TCP, UDP or SCTP (same offset in all three).
    public static func thDport(_ port: UInt16) -> [Expression] {
        [.payload(.transport, offset: 2, length: 2, into: .r(0)), .cmp(.r(0), .eq, Value.port(port).bytes)]
    }

    /// `th sport N`.
    public static func thSport(_ port: UInt16) -> [Expression] {
        [.payload(.transport, offset: 0, length: 2, into: .r(0)), .cmp(.r(0), .eq, Value.port(port).bytes)]
    }

    /// `ct state { ... }`: any of the given states.
    public static func ctState(_ states: CtState) -> [Expression] {
        let mask = Value.mark(states.rawValue).bytes
        return [.ct(.state, into: .r(0)),
                .bitwise(from: .r(0), into: .r(0), mask: mask, xor: [0, 0, 0, 0]),
                .cmp(.r(0), .neq, [0, 0, 0, 0])]
    }

    /// `meta mark & mask == value`.
    public static func mark(_ value: UInt32, mask: UInt32 = ~0) -> [Expression] {
        [.meta(.mark, into: .r(0)),
         .bitwise(from: .r(0), into: .r(0), mask: Value.mark(mask).bytes, xor: [0, 0, 0, 0]),
         .cmp(.r(0), .eq, Value.mark(value).bytes)]
    }

    /// `iifname` / `oifname` equal to a name.
    public static func iifname(_ name: String) -> [Expression] {
        [.meta(.iifname, into: .r(0)), .cmp(.r(0), .eq, Value.ifname(name).bytes)]
    }
    public static func oifname(_ name: String) -> [Expression] {
        [.meta(.oifname, into: .r(0)), .cmp(.r(0), .eq, Value.ifname(name).bytes)]
    }

    /// Loads a concatenation of packet fields into consecutive registers from `r(0)`, ready for
    /// a set or map lookup keyed by the same types (`ip daddr . meta l4proto . th dport`).
    public static func load(_ fields: [Field]) -> [Expression] {
        var out: [Expression] = []
        var reg = Register.r(0)
        for field in fields {
            out.append(field.load(into: reg))
            reg = reg.advanced(by: (field.type.length + 3) / 4)
        }
        return out
    }

    /// `<field> != <prefix>`: an address field (IPv4 or IPv6) outside a prefix.
    public static func notInPrefix(_ field: Field, _ prefix: IPPrefix) -> [Expression] {
        let network = prefix.network.address.bytes
        let mask = (0..<network.count).map { i -> UInt8 in
            let bits = min(8, max(0, prefix.length - 8 * i))
            return bits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bits))
        }
        return [field.load(into: .r(0)),
                .bitwise(from: .r(0), into: .r(0), mask: mask, xor: [UInt8](repeating: 0, count: network.count)),
                .cmp(.r(0), .neq, network)]
    }

    /// `<fields> @set` (or `!= @set` when inverted).
    public static func inSet(_ set: String, _ fields: [Field], inverted: Bool = false) -> [Expression] {
        load(fields) + [.lookup(set: set, key: .r(0), inverted: inverted)]
    }

    /// `<fields> vmap @map`: jump/goto/accept/drop by the element found.
    public static func verdictMap(_ map: String, _ fields: [Field]) -> [Expression] {
        load(fields) + [.lookup(set: map, key: .r(0), into: .verdict)]
    }

    /// `numgen random mod N vmap { 0 : <v0>, 1 : <v1>, ... }` with an inline map: the usual
    /// way to pick one of N endpoints with equal probability.
    public static func numgenVerdictMap(_ verdicts: [Verdict]) -> [Expression] {
        let elements = verdicts.enumerated().map { SetElement(.mark(UInt32($0.offset)), to: .verdict($0.element)) }
        return [.numgen(modulus: UInt32(verdicts.count), into: .r(0)),
                .lookupInline(InlineSet(key: [.mark], data: .verdict, elements: elements), key: .r(0), into: .verdict)]
    }

    /// `numgen random mod N vmap @map`.
    public static func numgenVerdictMap(_ map: String, modulus: UInt32) -> [Expression] {
        [.numgen(modulus: modulus, into: .r(0)), .lookup(set: map, key: .r(0), into: .verdict)]
    }
}

/// A packet field that can be part of a concatenated key.
public enum Field: Hashable, Sendable {
    case ipSaddr, ipDaddr, ip6Saddr, ip6Daddr, l4proto, thSport, thDport, mark, iifname, oifname

    public var type: DataType {
        switch self {
        case .ipSaddr, .ipDaddr: .ipv4Address
        case .ip6Saddr, .ip6Daddr: .ipv6Address
        case .l4proto: .inetProto
        case .thSport, .thDport: .inetService
        case .mark: .mark
        case .iifname, .oifname: .ifname
        }
    }

    package func load(into reg: Register) -> Expression {
        switch self {
        case .ipSaddr: .payload(.network, offset: 12, length: 4, into: reg)
        case .ipDaddr: .payload(.network, offset: 16, length: 4, into: reg)
        case .ip6Saddr: .payload(.network, offset: 8, length: 16, into: reg)
        case .ip6Daddr: .payload(.network, offset: 24, length: 16, into: reg)
        case .l4proto: .meta(.l4proto, into: reg)
        case .thSport: .payload(.transport, offset: 0, length: 2, into: reg)
        case .thDport: .payload(.transport, offset: 2, length: 2, into: reg)
        case .mark: .meta(.mark, into: reg)
        case .iifname: .meta(.iifname, into: reg)
        case .oifname: .meta(.oifname, into: reg)
        }
    }
}

/// Builders for actions that end a rule.
public enum Action {
    /// `dnat to addr[:port]`.
    public static func dnat(to address: IPAddress, port: UInt16? = nil) -> [Expression] {
        var out: [Expression] = [.immediate(address.bytes, into: .r(0))]
        if let port { out.append(.immediate(Value.port(port).bytes, into: .r(4))) }
        let family: Family = address.isIPv4 ? .ip : .ip6
        out.append(.nat(.dnat, family: family, address: .r(0), port: port == nil ? nil : .r(4),
                        flags: port == nil ? [] : .protoSpecified))
        return out
    }

    /// `meta mark set mark | bits`.
    public static func setMarkBits(_ bits: UInt32) -> [Expression] {
        [.meta(.mark, into: .r(0)),
         .bitwise(from: .r(0), into: .r(0), mask: Value.mark(~bits).bytes, xor: Value.mark(bits).bytes),
         .setMeta(.mark, from: .r(0))]
    }

    public static func masquerade(fullyRandom: Bool = false) -> [Expression] {
        [.masquerade(flags: fullyRandom ? .fullyRandom : [])]
    }

    public static func jump(_ chain: String) -> [Expression] { [.verdict(.jump(chain))] }
    public static func goto(_ chain: String) -> [Expression] { [.verdict(.goto(chain))] }
    public static let accept: [Expression] = [.verdict(.accept)]
    public static let drop: [Expression] = [.verdict(.drop)]
}
