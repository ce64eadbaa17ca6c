extension IPPrefix {
    /// Whether `other` lies entirely inside this prefix (same family, at least as long).
    public func contains(_ other: IPPrefix) -> Bool {
        other.length >= length && contains(other.address)
    }

    /// Whether the two prefixes share any address (one contains the other).
    public func overlaps(_ other: IPPrefix) -> Bool {
        contains(other) || other.contains(self)
    }

    /// How many subnets of `length` this prefix holds (saturating at `Int.max`), 0 when
    /// `length` is shorter than the prefix or longer than the family allows.
    public func subnetCount(length subnetLength: Int) -> Int {
        guard subnetLength >= length, subnetLength <= address.bitWidth else { return 0 }
        let bits = subnetLength - length
        return bits >= Int.bitWidth - 1 ? Int.max : 1 << bits
    }

    /// The `index`-th subnet of `length` inside this prefix (0 is the first), or nil when
    /// there is no such subnet. `10.244.0.0/16`.subnet(3, length: 24) is `10.244.3.0/24`.
    public func subnet(_ index: Int, length subnetLength: Int) -> IPPrefix? {
        guard index >= 0, index < subnetCount(length: subnetLength) else { return nil }
        let shift = address.bitWidth - subnetLength
        let base = network.address
        let address: IPAddress
        switch base {
        case .v4(let a):
            address = .v4(IPv4Address(a.value | UInt32(truncatingIfNeeded: UInt64(index) << UInt64(shift))))
        case .v6(let a):
            // index << shift as a 128-bit value (high, low).
            let i = UInt64(index)
            let low = shift >= 64 ? 0 : i << UInt64(shift)
            let high = shift >= 64 ? i << UInt64(shift - 64) : (shift == 0 ? 0 : i >> UInt64(64 - shift))
            address = .v6(IPv6Address(high: a.high | high, low: a.low | low))
        }
        return try? IPPrefix(address: address, length: subnetLength)
    }

    /// Which subnet of `length` inside this prefix `other` is (the inverse of `subnet`), or
    /// nil when `other` is not one of them.
    public func subnetIndex(of other: IPPrefix) -> Int? {
        guard contains(other), other.network == other,
              subnetCount(length: other.length) != Int.max else { return nil }
        let shift = address.bitWidth - other.length
        switch (network.address, other.address) {
        case (.v4(let base), .v4(let a)):
            return Int((a.value - base.value) >> UInt32(shift))
        case (.v6(let base), .v6(let a)):
            let high = a.high - base.high, low = a.low &- base.low
            if shift >= 64 { return Int(high >> UInt64(shift - 64)) }
            return Int((low >> UInt64(shift)) | (shift == 0 ? 0 : high << UInt64(64 - shift)))
        default:
            return nil
        }
    }
}
