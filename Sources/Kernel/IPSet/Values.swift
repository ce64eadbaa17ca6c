public import NetAddress

/// An ipset set type, named as libipset names it (`hash:ip`). The common ones have constants;
/// any other type the kernel and libipset support can be named with `init(rawValue:)`.
public struct IPSetType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `hash:ip`: single addresses.
    public static let hashIP = IPSetType(rawValue: "hash:ip")
    /// `hash:net`: CIDR blocks (a bare address is a /32 or /128).
    public static let hashNet = IPSetType(rawValue: "hash:net")
    /// `hash:ip,port`: address, protocol and port.
    public static let hashIPPort = IPSetType(rawValue: "hash:ip,port")

    public var description: String { rawValue }
}

/// The address family of a set.
public enum IPSetFamily: String, Hashable, Sendable, CustomStringConvertible {
    case inet
    case inet6

    public var description: String { rawValue }
}

/// The transport protocol of a `hash:ip,port` entry.
public enum IPSetProtocol: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case tcp, udp, sctp, udplite

    public var description: String { rawValue }
}

/// One element of a set, rendered to the syntax libipset's element parser reads.
public enum IPSetEntry: Hashable, Sendable, CustomStringConvertible {
    /// An address (`hash:ip`, or a host in `hash:net`).
    case ip(IPAddress)
    /// A CIDR block (`hash:net`); the kernel clears host bits.
    case net(IPPrefix)
    /// Address, protocol and port (`hash:ip,port`).
    case ipPort(IPAddress, proto: IPSetProtocol, port: UInt16)
    /// Text handed to libipset's element parser as it is (ranges, other set types). libipset
    /// resolves host names in this text, so prefer the typed cases.
    case raw(String)

    /// Reads the forms ipset prints (`10.0.0.1`, `10.1.0.0/16`, `10.0.0.1,tcp:80`) into the
    /// typed cases; anything else becomes `.raw(text)`.
    public init(_ text: String) {
        self = IPSetEntry(parsing: text, setType: nil)
    }

    /// Like `init(_:)`, but a bare address listed from a `hash:net` set becomes a full-length
    /// `.net` prefix, which is what the set holds.
    public init(parsing text: String, setType: IPSetType?) {
        if let comma = text.firstIndex(of: ",") {
            let head = text[..<comma], tail = text[text.index(after: comma)...]
            let parts = tail.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            if let address = IPAddress(head), parts.count == 2,
               let proto = IPSetProtocol(rawValue: String(parts[0])), let port = UInt16(parts[1]) {
                self = .ipPort(address, proto: proto, port: port)
                return
            }
            self = .raw(text)
        } else if text.contains("/") {
            if let prefix = try? IPPrefix(text) { self = .net(prefix) } else { self = .raw(text) }
        } else if let address = IPAddress(text) {
            if setType == .hashNet, let prefix = try? IPPrefix(address: address, length: address.bitWidth) {
                self = .net(prefix)
            } else {
                self = .ip(address)
            }
        } else {
            self = .raw(text)
        }
    }

    /// The address family of a typed entry; nil for `.raw`.
    public var family: IPSetFamily? {
        switch self {
        case .ip(let a), .ipPort(let a, _, _): a.isIPv4 ? .inet : .inet6
        case .net(let p): p.address.isIPv4 ? .inet : .inet6
        case .raw: nil
        }
    }

    /// The libipset element syntax.
    public var description: String {
        switch self {
        case .ip(let a): a.description
        case .net(let p): p.description
        case .ipPort(let a, let proto, let port): "\(a),\(proto.rawValue):\(port)"
        case .raw(let text): text
        }
    }
}

/// A set as the kernel reports it.
public struct IPSetInfo: Hashable, Sendable {
    public var name: String
    public var type: IPSetType
    /// nil for family-neutral types (e.g. `list:set`, `bitmap:port`).
    public var family: IPSetFamily?
    /// The set's default timeout in seconds, when it was created with timeout support.
    public var timeout: UInt32?
    public var maxElements: UInt32?
    public var hashSize: UInt32?
    /// The members as ipset prints them (`10.0.0.1`, `10.1.0.0/16`, `10.0.0.1,tcp:80`), in
    /// libipset's sorted order; per-entry options such as a remaining timeout are not included.
    public var entries: [String]

    public init(name: String, type: IPSetType, family: IPSetFamily?, timeout: UInt32? = nil,
                maxElements: UInt32? = nil, hashSize: UInt32? = nil, entries: [String] = []) {
        self.name = name
        self.type = type
        self.family = family
        self.timeout = timeout
        self.maxElements = maxElements
        self.hashSize = hashSize
        self.entries = entries
    }

    /// `entries` read back into typed values.
    public var members: [IPSetEntry] {
        entries.map { IPSetEntry(parsing: $0, setType: type) }
    }
}
