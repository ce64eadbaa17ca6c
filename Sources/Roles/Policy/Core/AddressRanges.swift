public import NetAddress

/// An inclusive range of addresses of one family: what an ipBlock minus its excepts becomes,
/// and what an interval set element holds.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    public var first: IPAddress
    public var last: IPAddress
    public init(_ first: IPAddress, _ last: IPAddress) { self.first = first; self.last = last }
    public init(_ address: IPAddress) { self.init(address, address) }

    public var isIPv4: Bool { first.isIPv4 }
    public var description: String { first == last ? "\(first)" : "\(first)-\(last)" }

    /// Every address of a family.
    public static let allIPv4 = AddressRange(.v4(IPv4Address(0)), .v4(IPv4Address(.max)))
    public static let allIPv6 = AddressRange(.v6(IPv6Address(high: 0, low: 0)), .v6(IPv6Address(high: .max, low: .max)))

    public init(_ prefix: IPPrefix) {
        let net = U128(prefix.network.address)
        let hostBits = prefix.address.bitWidth - prefix.length
        self.init(net.address(v4: prefix.address.isIPv4), net.settingLow(bits: hostBits).address(v4: prefix.address.isIPv4))
    }

    /// `cidr` without the `except` prefixes, as sorted disjoint ranges.
    public static func subtracting(_ except: [IPPrefix], from cidr: IPPrefix) -> [AddressRange] {
        var ranges = [AddressRange(cidr)]
        for hole in except.map(AddressRange.init) {
            ranges = ranges.flatMap { $0.removing(hole) }
        }
        return ranges
    }

    /// This range without `other`: zero, one or two ranges.
    func removing(_ other: AddressRange) -> [AddressRange] {
        let (a, b, x, y) = (U128(first), U128(last), U128(other.first), U128(other.last))
        guard x <= b, a <= y else { return [self] }
        var out: [AddressRange] = []
        let v4 = isIPv4
        if a < x { out.append(AddressRange(first, x.minusOne.address(v4: v4))) }
        if y < b { out.append(AddressRange(y.plusOne.address(v4: v4), last)) }
        return out
    }

    /// Sorted, merged ranges covering the same addresses (overlapping and adjacent ones joined),
    /// as interval sets require: the kernel refuses overlapping elements.
    public static func merged(_ ranges: [AddressRange]) -> [AddressRange] {
        var out: [AddressRange] = []
        for range in ranges.sorted(by: { (U128($0.first), U128($0.last)) < (U128($1.first), U128($1.last)) }) {
            if let previous = out.last, previous.isIPv4 == range.isIPv4,
               U128(range.first) <= U128(previous.last).plusOne || U128(previous.last) == .max(v4: range.isIPv4) {
                if U128(range.last) > U128(previous.last) { out[out.count - 1].last = range.last }
            } else {
                out.append(range)
            }
        }
        return out
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.isIPv4 == isIPv4 && U128(first) <= U128(address) && U128(address) <= U128(last)
    }
}

/// Merges port ranges into sorted disjoint ranges.
public func mergedPortRanges(_ ranges: [ClosedRange<UInt16>]) -> [ClosedRange<UInt16>] {
    var out: [ClosedRange<UInt16>] = []
    for range in ranges.sorted(by: { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }) {
        if let previous = out.last, Int(range.lowerBound) <= Int(previous.upperBound) + 1 {
            out[out.count - 1] = previous.lowerBound...max(previous.upperBound, range.upperBound)
        } else {
            out.append(range)
        }
    }
    return out
}

/// An address as a 128-bit number (IPv4 in the low 32 bits), for range arithmetic.
struct U128: Comparable, Hashable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) { self.high = high; self.low = low }
    init(_ address: IPAddress) {
        switch address {
        case .v4(let a): self.init(high: 0, low: UInt64(a.value))
        case .v6(let a): self.init(high: a.high, low: a.low)
        }
    }

    static func max(v4: Bool) -> U128 { v4 ? U128(high: 0, low: UInt64(UInt32.max)) : U128(high: .max, low: .max) }

    func address(v4: Bool) -> IPAddress {
        v4 ? .v4(IPv4Address(UInt32(truncatingIfNeeded: low))) : .v6(IPv6Address(high: high, low: low))
    }

    var plusOne: U128 { low == .max ? U128(high: high &+ 1, low: 0) : U128(high: high, low: low + 1) }
    var minusOne: U128 { low == 0 ? U128(high: high &- 1, low: .max) : U128(high: high, low: low - 1) }

    /// The number with its `bits` lowest bits set.
    func settingLow(bits: Int) -> U128 {
        if bits <= 0 { return self }
        if bits >= 128 { return U128(high: .max, low: .max) }
        if bits >= 64 { return U128(high: high | (bits == 64 ? 0 : (UInt64.max >> (128 - bits))), low: .max) }
        return U128(high: high, low: low | (UInt64.max >> (64 - bits)))
    }

    static func < (a: U128, b: U128) -> Bool { (a.high, a.low) < (b.high, b.low) }
}
