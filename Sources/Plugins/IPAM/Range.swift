public import NetAddress

/// Why the allocator refused: a closed set, so a CNI main can map each kind to a spec code.
public struct IPAMError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The configuration (or a requested IP) is invalid: CNI code 7 (invalid network config).
        case invalidConfig
        /// The configuration is not valid JSON of the expected shape: CNI code 6 (decode).
        case decode
        /// Every address of a range set is taken.
        case exhausted
        /// A requested IP is taken or not inside any range set.
        case unavailable
        /// Already holds an address in a range set (the reference refuses duplicates).
        case duplicate
        /// The store failed (file system, lock): CNI code 5 (I/O).
        case io
        /// CHECK found no reservation.
        case notFound
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
}

/// One `{subnet, rangeStart, rangeEnd, gateway}` entry exactly as the reference host-local
/// plugin reads it; every field but `subnet` is optional until `canonicalized()`.
public struct IPRange: Sendable, Equatable {
    public var subnet: IPPrefix
    public var rangeStart: IPAddress?
    public var rangeEnd: IPAddress?
    public var gateway: IPAddress?

    public init(subnet: IPPrefix, rangeStart: IPAddress? = nil, rangeEnd: IPAddress? = nil,
                gateway: IPAddress? = nil) {
        self.subnet = subnet
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
        self.gateway = gateway
    }

    /// The range with defaults filled in, as the reference's `Range.Canonicalize`: the subnet
    /// must be a network address of at most /30 (/126); gateway defaults to network+1;
    /// rangeStart to network+1; rangeEnd to the last address (IPv4: broadcast excluded).
    public func canonicalized() throws(IPAMError) -> IPRange {
        let bits = subnet.address.bitWidth
        if subnet.length > bits - 2 {
            throw IPAMError(.invalidConfig, "Network \(subnet) too small to allocate from")
        }
        let network = subnet.network
        if network.address != subnet.address {
            throw IPAMError(.invalidConfig, "network has host bits set. For a subnet mask of length \(subnet.length) the network address is \(network.address)")
        }
        var r = self
        let first = network.address.next
        let last = network.address.lastUsable(prefixLength: subnet.length)
        if let g = gateway, g.isIPv4 != network.address.isIPv4 {
            throw IPAMError(.invalidConfig, "gateway \(g) is not the same IP version as subnet \(subnet)")
        }
        if r.gateway == nil { r.gateway = first }
        if let s = rangeStart {
            guard network.contains(s) else { throw IPAMError(.invalidConfig, "RangeStart \(s) not in network \(subnet)") }
        } else {
            r.rangeStart = first
        }
        if let e = rangeEnd {
            guard network.contains(e) else { throw IPAMError(.invalidConfig, "RangeEnd \(e) not in network \(subnet)") }
        } else {
            r.rangeEnd = last
        }
        if let s = r.rangeStart, let e = r.rangeEnd, e < s {
            throw IPAMError(.invalidConfig, "RangeStart \(s) is after RangeEnd \(e)")
        }
        return r
    }

    /// Whether `ip` is inside `rangeStart...rangeEnd` (the range must be canonical).
    public func contains(_ ip: IPAddress) -> Bool {
        guard subnet.contains(ip), let s = rangeStart, let e = rangeEnd else { return false }
        return s <= ip && ip <= e
    }

    /// Whether two canonical ranges share an address.
    public func overlaps(_ other: IPRange) -> Bool {
        guard subnet.address.isIPv4 == other.subnet.address.isIPv4,
              let s1 = rangeStart, let e1 = rangeEnd, let s2 = other.rangeStart, let e2 = other.rangeEnd
        else { return false }
        return s1 <= e2 && s2 <= e1
    }

    /// `start-end`, as the reference prints a range in errors.
    public var rangeDescription: String {
        "\(rangeStart.map { "\($0)" } ?? "?")-\(rangeEnd.map { "\($0)" } ?? "?")"
    }
}

/// A set of ranges of one family that together give one address per attachment.
public typealias RangeSet = [IPRange]

extension Array where Element == IPRange {
    /// Canonicalizes each range and checks the set as the reference does: not empty, one
    /// address family, no two ranges overlapping.
    public func canonicalized() throws(IPAMError) -> [IPRange] {
        guard let firstRange = first else { throw IPAMError(.invalidConfig, "empty range set") }
        var out: [IPRange] = []
        for r in self {
            if r.subnet.address.isIPv4 != firstRange.subnet.address.isIPv4 {
                throw IPAMError(.invalidConfig, "mixed address families")
            }
            out.append(try r.canonicalized())
        }
        for i in out.indices {
            for j in out.indices where j > i && out[i].overlaps(out[j]) {
                throw IPAMError(.invalidConfig, "subnets \(out[i].subnet) and \(out[j].subnet) overlap")
            }
        }
        return out
    }

    /// The range holding `ip`, if any.
    public func rangeIndex(for ip: IPAddress) -> Int? { firstIndex { $0.contains(ip) } }

    /// Whether any address of `self` is also in `other`.
    public func overlaps(_ other: [IPRange]) -> Bool {
        contains { a in other.contains { b in a.overlaps(b) } }
    }

    /// `start-end,start-end`, as the reference prints a range set.
    public var rangeSetDescription: String { map(\.rangeDescription).joined(separator: ",") }
}

extension IPAddress {
    /// For a network address: the last address of the prefix, minus the broadcast for IPv4.
    func lastUsable(prefixLength n: Int) -> IPAddress {
        switch self {
        case .v4(let a):
            let host: UInt32 = n == 0 ? ~0 : n >= 32 ? 0 : ~UInt32(0) >> UInt32(n)
            return .v4(IPv4Address((a.value | host) &- 1))
        case .v6(let a):
            let hiHost: UInt64 = n == 0 ? ~0 : n >= 64 ? 0 : ~UInt64(0) >> UInt64(n)
            let loHost: UInt64 = n <= 64 ? ~0 : n >= 128 ? 0 : ~UInt64(0) >> UInt64(n - 64)
            return .v6(IPv6Address(high: a.high | hiHost, low: a.low | loHost))
        }
    }
}
