public import NetAddress

/// An nftables address family.
public enum Family: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case ip = 2, ip6 = 10, inet = 1, arp = 3, bridge = 7, netdev = 5
    public var description: String {
        switch self {
        case .ip: "ip"; case .ip6: "ip6"; case .inet: "inet"; case .arp: "arp"; case .bridge: "bridge"; case .netdev: "netdev"
        }
    }
}

/// A table: the namespace for chains, sets and maps.
public struct Table: Hashable, Sendable {
    public var family: Family
    public var name: String
    public init(_ family: Family, _ name: String) { self.family = family; self.name = name }
}

/// Where a base chain attaches to the packet path.
public enum Hook: UInt32, Sendable, Hashable {
    case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4, ingress = 5
}

public enum ChainType: String, Sendable, Hashable { case filter, nat, route }

/// The policy of a base chain: what happens to a packet that falls off its end.
public enum ChainPolicy: UInt32, Sendable, Hashable { case drop = 0, accept = 1 }

/// Standard priorities (iptables' numbers, as `nft` names them).
public enum Priority {
    public static let raw: Int32 = -300
    public static let mangle: Int32 = -150
    public static let dstnat: Int32 = -100
    public static let filter: Int32 = 0
    public static let security: Int32 = 50
    public static let srcnat: Int32 = 100
}

/// The hook, type, priority and policy that make a chain a base chain.
public struct BaseChain: Hashable, Sendable {
    public var type: ChainType
    public var hook: Hook
    public var priority: Int32
    public var policy: ChainPolicy
    public init(type: ChainType, hook: Hook, priority: Int32, policy: ChainPolicy = .accept) {
        self.type = type; self.hook = hook; self.priority = priority; self.policy = policy
    }
}

/// A chain; regular (a jump/goto target) unless `base` is set.
public struct Chain: Hashable, Sendable {
    public var table: Table
    public var name: String
    public var base: BaseChain?
    public init(_ table: Table, _ name: String, base: BaseChain? = nil) {
        self.table = table; self.name = name; self.base = base
    }
}

/// What a rule or map element decides.
public enum Verdict: Hashable, Sendable, CustomStringConvertible {
    case accept, drop, `continue`, `return`
    case jump(String)
    case goto(String)

    /// The kernel's verdict code (NF_DROP, NF_ACCEPT, NFT_*).
    package var code: Int32 {
        switch self {
        case .drop: 0
        case .accept: 1
        case .continue: -1
        case .jump: -3
        case .goto: -4
        case .return: -5
        }
    }
    package var chain: String? {
        switch self { case .jump(let c), .goto(let c): c; default: nil }
    }
    public var description: String {
        switch self {
        case .accept: "accept"; case .drop: "drop"; case .continue: "continue"; case .return: "return"
        case .jump(let c): "jump \(c)"; case .goto(let c): "goto \(c)"
        }
    }
}

/// A typed value used as a set key, map data or comparison operand.
///
/// Values are stored as the kernel sees them: addresses and ports in network byte order,
/// marks and protocol numbers in host order.
public enum Value: Hashable, Sendable {
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    case proto(UInt8)
    case port(UInt16)
    case mark(UInt32)
    case ifname(String)
    case ether(MACAddress)
    case raw([UInt8])

    public init(_ address: IPAddress) {
        switch address { case .v4(let a): self = .ipv4(a); case .v6(let a): self = .ipv6(a) }
    }

    public var bytes: [UInt8] {
        switch self {
        case .ipv4(let a): a.bytes
        case .ipv6(let a): a.bytes
        case .proto(let p): [p]
        case .port(let p): [UInt8(p >> 8), UInt8(p & 0xff)]
        case .mark(let m): withUnsafeBytes(of: m) { Array($0) }
        case .ifname(let n):
            // IFNAMSIZ bytes, NUL padded, as the kernel's meta iifname loads it.
            Array((Array(n.utf8.prefix(15)) + Array(repeating: 0, count: 16)).prefix(16))
        case .ether(let m): m.bytes
        case .raw(let b): b
        }
    }
}

/// The nftables data types the project uses, with their kernel type ids and sizes.
public enum DataType: UInt32, Sendable, Hashable {
    case ipv4Address = 7
    case ipv6Address = 8
    case etherAddress = 9
    case inetProto = 12
    case inetService = 13
    case mark = 19
    case ifname = 41

    /// Size in bytes of one value of this type.
    public var length: Int {
        switch self {
        case .ipv4Address, .mark: 4
        case .ipv6Address, .ifname: 16
        case .etherAddress: 6
        case .inetProto: 1
        case .inetService: 2
        }
    }

    /// The kernel's concatenated type id: each field shifts the previous ones up 6 bits.
    package static func concatenated(_ types: [DataType]) -> UInt32 {
        types.reduce(0) { $0 << 6 | $1.rawValue }
    }

    /// Total key length; concatenation pads every field to a 32-bit register.
    package static func length(of types: [DataType]) -> Int {
        types.count == 1 ? types[0].length : types.reduce(0) { $0 + ($1.length + 3) / 4 * 4 }
    }
}

/// Flags of a set or map.
public struct SetFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Elements cannot change after creation.
    public static let constant = SetFlags(rawValue: 0x2)
    /// Bound to one rule and named by the kernel (sets written inline in a rule).
    package static let anonymous = SetFlags(rawValue: 0x1)
    /// Elements are ranges (prefixes, port ranges).
    public static let interval = SetFlags(rawValue: 0x4)
    /// Elements expire after a timeout.
    public static let timeout = SetFlags(rawValue: 0x10)
    /// Rules may add/update elements from the packet path (`update @set { ... }`).
    public static let dynamic = SetFlags(rawValue: 0x20)
}

/// What a map's elements map to.
public enum MapData: Hashable, Sendable {
    /// A verdict map (`vmap`): each element decides accept/drop/jump/goto.
    case verdict
    /// A data map: each element yields a (possibly concatenated) value, e.g. `ipv4_addr . inet_service`.
    case value([DataType])
}

/// A named set, or a map when `data` is set.
public struct NamedSet: Hashable, Sendable {
    public var table: Table
    public var name: String
    public var key: [DataType]
    public var data: MapData?
    public var flags: SetFlags
    /// Default element timeout in milliseconds (sets with `.timeout`).
    public var timeoutMilliseconds: UInt64?
    /// How many elements the set will hold, when known up front. The kernel uses it to pick a
    /// cheaper backend (a fixed-size hash instead of a resizable one): nft sends it for
    /// inline sets, and it cuts the kernel's load time of 10k inline vmaps by a third.
    public var expectedSize: Int?
    public init(_ table: Table, _ name: String, key: [DataType], data: MapData? = nil,
                flags: SetFlags = [], timeoutMilliseconds: UInt64? = nil) {
        self.table = table; self.name = name; self.key = key; self.data = data
        self.flags = flags; self.timeoutMilliseconds = timeoutMilliseconds
    }
    public var isMap: Bool { data != nil }
    package var isConcatenated: Bool { key.count > 1 }
}

/// What an element of a map maps to.
public enum ElementData: Hashable, Sendable {
    case verdict(Verdict)
    case value([Value])
}

/// One element of a set or map. In an interval set, `keyEnd` is the inclusive last key of a
/// range (`10.0.0.0-10.0.0.255`); leave it nil for a single key.
public struct SetElement: Hashable, Sendable {
    public var key: [Value]
    public var keyEnd: [Value]?
    public var data: ElementData?
    public var timeoutMilliseconds: UInt64?
    public init(_ key: [Value], to data: ElementData? = nil, keyEnd: [Value]? = nil,
                timeoutMilliseconds: UInt64? = nil) {
        self.key = key; self.data = data; self.keyEnd = keyEnd; self.timeoutMilliseconds = timeoutMilliseconds
    }
    /// A set element of one key.
    public init(_ key: Value, to data: ElementData? = nil) { self.init([key], to: data) }
}

/// A rule: expressions evaluated in order in `chain`.
public struct Rule: Hashable, Sendable {
    public var table: Table
    public var chain: String
    public var expressions: [Expression]
    public var comment: String?
    /// The kernel's handle; set on rules read back, needed to delete or replace one rule.
    public var handle: UInt64?
    public init(_ table: Table, _ chain: String, _ expressions: [Expression], comment: String? = nil) {
        self.table = table; self.chain = chain; self.expressions = expressions; self.comment = comment
    }

    /// The same rule with a kernel handle (to delete or replace a rule read back).
    public func withHandle(_ handle: UInt64) -> Rule { var r = self; r.handle = handle; return r }
}

/// Packet-mark bits with a meaning shared by every Netplane daemon on a node.
public enum PacketMark {
    /// "Masquerade this packet in postrouting" (kube-proxy's 0x4000): set by the service
    /// proxy; the overlay's masquerade leaves such packets to the proxy.
    public static let masquerade: UInt32 = 0x4000
}
