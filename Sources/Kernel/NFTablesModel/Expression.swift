/// A 32-bit nftables register. `.verdict` is the verdict register; `r(0)...r(15)` are the
/// 32-bit data registers (NFT_REG32_00...). A 16-byte value (an IPv6 address) spans four.
public struct Register: Hashable, Sendable {
    public let raw: UInt32
    public static let verdict = Register(raw: 0)
    public static func r(_ n: UInt32) -> Register {
        precondition(n < 16, "nftables has 16 32-bit data registers")
        return Register(raw: 8 + n)
    }
    /// The register `words` 32-bit words after this one (for concatenations).
    public func advanced(by words: Int) -> Register { Register(raw: raw + UInt32(words)) }
}

public enum PayloadBase: UInt32, Sendable, Hashable {
    case link = 0, network = 1, transport = 2
}

public enum MetaKey: UInt32, Sendable, Hashable {
    case length = 0, `protocol` = 1, mark = 3, iif = 4, oif = 5, iifname = 6, oifname = 7
    case nfproto = 15, l4proto = 16
}

public enum CtKey: UInt32, Sendable, Hashable {
    case state = 0, direction = 1, status = 2, mark = 3
}

/// Connection-tracking states, as the `ct state` bitmask.
public struct CtState: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let invalid = CtState(rawValue: 1)
    public static let established = CtState(rawValue: 2)
    public static let related = CtState(rawValue: 4)
    public static let new = CtState(rawValue: 8)
    public static let untracked = CtState(rawValue: 64)
}

public enum CmpOp: UInt32, Sendable, Hashable {
    case eq = 0, neq = 1, lt = 2, lte = 3, gt = 4, gte = 5
}

public enum NATType: UInt32, Sendable, Hashable { case snat = 0, dnat = 1 }

public enum RejectType: UInt32, Sendable, Hashable {
    /// ICMP of the packet's family with `code` (ip: port-unreachable = 3).
    case icmp = 0
    /// A TCP reset.
    case tcpReset = 1
    /// ICMPx (inet tables): `code` 0 no-route, 1 port-unreachable, 2 host-unreachable, 3 admin-prohibited.
    case icmpx = 2
}

public enum DynsetOp: UInt32, Sendable, Hashable { case add = 0, update = 1, delete = 2 }

/// NAT range flags (NF_NAT_RANGE_*).
public struct NATFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let mapIPs = NATFlags(rawValue: 1)
    public static let protoSpecified = NATFlags(rawValue: 2)
    public static let random = NATFlags(rawValue: 4)
    public static let persistent = NATFlags(rawValue: 8)
    public static let fullyRandom = NATFlags(rawValue: 16)
}

/// One nftables expression, as the kernel's virtual machine runs it.
///
/// These are the kernel's own building blocks; `Match` and `Action` build the usual
/// combinations (`ip daddr 10.0.0.1`, `tcp dport 80`, `dnat to ...`) from them.
public indirect enum Expression: Hashable, Sendable {
    /// Load `length` bytes at `offset` of a header into a register.
    case payload(PayloadBase, offset: UInt32, length: UInt32, into: Register)
    /// Load packet metadata (mark, interface, l4proto...) into a register.
    case meta(MetaKey, into: Register)
    /// Set packet metadata (e.g. the mark) from a register.
    case setMeta(MetaKey, from: Register)
    /// Load conntrack metadata into a register.
    case ct(CtKey, into: Register)
    /// Set conntrack metadata (the connection's mark) from a register.
    case setCt(CtKey, from: Register)
    /// Compare a register with constant bytes; the rule stops (no match) when false.
    case cmp(Register, CmpOp, [UInt8])
    /// `dst = (src & mask) ^ xor` over `mask.count` bytes.
    case bitwise(from: Register, into: Register, mask: [UInt8], xor: [UInt8])
    /// Put constant bytes in a register.
    case immediate([UInt8], into: Register)
    /// Set the verdict.
    case verdict(Verdict)
    /// Look the key in `set` up; with `into` it is a map lookup (`.verdict` for a vmap).
    case lookup(set: String, key: Register, into: Register? = nil, inverted: Bool = false)
    /// Look the key up in an anonymous set or map that lives and dies with the rule
    /// (`numgen random mod 3 vmap { 0 : goto a, 1 : goto b, 2 : goto c }`).
    case lookupInline(InlineSet, key: Register, into: Register? = nil)
    /// A random number in `0..<modulus` (+ offset).
    case numgen(modulus: UInt32, offset: UInt32 = 0, into: Register)
    /// Add or refresh an element of a dynamic set from the packet path.
    case dynset(DynsetOp, set: String, key: Register, timeoutMilliseconds: UInt64? = nil)
    case counter
    /// DNAT/SNAT to the address (and port) held in registers.
    case nat(NATType, family: Family, address: Register?, port: Register?, flags: NATFlags = [])
    case masquerade(flags: NATFlags = [])
    case reject(RejectType, code: UInt8)
    case notrack
    case log(prefix: String?)

    /// The libnftnl expression name.
    package var kind: String {
        switch self {
        case .payload: "payload"
        case .meta, .setMeta: "meta"
        case .ct, .setCt: "ct"
        case .cmp: "cmp"
        case .bitwise: "bitwise"
        case .immediate, .verdict: "immediate"
        case .lookup, .lookupInline: "lookup"
        case .numgen: "numgen"
        case .dynset: "dynset"
        case .counter: "counter"
        case .nat: "nat"
        case .masquerade: "masq"
        case .reject: "reject"
        case .notrack: "notrack"
        case .log: "log"
        }
    }
}

/// The contents of an anonymous set or map, written inline in a rule.
public struct InlineSet: Hashable, Sendable {
    public var key: [DataType]
    public var data: MapData?
    public var elements: [SetElement]
    public var isInterval: Bool
    public init(key: [DataType], data: MapData? = nil, elements: [SetElement], isInterval: Bool = false) {
        self.key = key; self.data = data; self.elements = elements; self.isInterval = isInterval
    }

    /// The kernel object: a constant anonymous set the kernel names itself (`__map%d`).
    package func namedSet(in table: Table) -> NamedSet {
        var set = NamedSet(table, data == nil ? "__set%d" : "__map%d", key: key, data: data,
                           flags: isInterval ? [.anonymous, .constant, .interval] : [.anonymous, .constant])
        set.expectedSize = elements.count
        return set
    }
}
