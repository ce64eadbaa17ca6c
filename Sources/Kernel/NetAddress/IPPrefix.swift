/// Why a piece of address text was refused.
public struct AddressParseError: Error, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid address \"\(text)\": \(reason)" }
}

/// An address with a prefix length (CIDR), e.g. `10.244.1.5/24`. The address keeps its host
/// bits (an interface address); `network` clears them (a route destination).
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int

    public init(address: IPAddress, length: Int) throws(AddressParseError) {
        guard (0...address.bitWidth).contains(length) else {
            throw AddressParseError(text: "\(address)/\(length)", reason: "prefix length out of range")
        }
        self.address = address
        self.length = length
    }

    /// Parses `a.b.c.d/n` or `x::y/n`; a bare address gets the full length (/32 or /128).
    public init(_ text: String) throws(AddressParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(parts[0]) else {
            throw AddressParseError(text: text, reason: "not an IPv4 or IPv6 address")
        }
        var length = address.bitWidth
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...address.bitWidth).contains(n) else {
                throw AddressParseError(text: text, reason: "prefix length must be 0...\(address.bitWidth)")
            }
            length = n
        }
        try self.init(address: address, length: length)
    }

    /// The prefix with host bits cleared.
    public var network: IPPrefix {
        var copy = self
        copy.address = masked(address, length)
        return copy
    }

    /// Whether `other` lies inside this prefix.
    public func contains(_ other: IPAddress) -> Bool {
        other.isIPv4 == address.isIPv4 && masked(other, length) == masked(address, length)
    }

    public var description: String { "\(address)/\(length)" }
}

private func masked(_ a: IPAddress, _ length: Int) -> IPAddress {
    switch a {
    case .v4(let v4):
        let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
        return .v4(IPv4Address(v4.value & mask))
    case .v6(let v6):
        let hi: UInt64 = length == 0 ? 0 : length >= 64 ? ~0 : ~UInt64(0) << (64 - length)
        let lo: UInt64 = length <= 64 ? 0 : length == 128 ? ~0 : ~UInt64(0) << (128 - length)
        return .v6(IPv6Address(high: v6.high & hi, low: v6.low & lo))
    }
}

/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]
    /// The all-zero address: in a VXLAN FDB it is the default entry that floods to every
    /// remote it lists (`bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst REMOTE`).
    public static let zero = MACAddress(bytes: [0, 0, 0, 0, 0, 0])!

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }
    /// Parses `aa:bb:cc:dd:ee:ff`.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard p.count == 2, let b = UInt8(p, radix: 16) else { return nil }
            out.append(b)
        }
        bytes = out
    }
    public var description: String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined(separator: ":")
    }
}
