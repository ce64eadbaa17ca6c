import CNetlink
public import NetAddress
import Glibc

/// An owned libnl address (`struct nl_addr`). libnl's setters take their own reference, so
/// this one is dropped when the Swift value goes out of scope. The pointer is only lent out
/// through `apply`, because a temporary Swift value may be destroyed as soon as a stored
/// property has been read from it, before the C call that uses the pointer.
struct NLAddress: ~Copyable {
    private let raw: OpaquePointer

    init(_ address: IPAddress, prefixLength: Int? = nil) throws(NetlinkError) {
        let bytes = address.bytes
        guard let raw = bytes.withUnsafeBytes({ nl_addr_build(address.family, $0.baseAddress, $0.count) }) else {
            throw .system(ENOMEM, "allocate an address")
        }
        nl_addr_set_prefixlen(raw, Int32(prefixLength ?? address.bitWidth))
        self.raw = raw
    }

    init(_ prefix: IPPrefix) throws(NetlinkError) {
        try self.init(prefix.address, prefixLength: prefix.length)
    }

    init(_ mac: MACAddress) throws(NetlinkError) {
        guard let raw = mac.bytes.withUnsafeBytes({ nl_addr_build(AF_LLC, $0.baseAddress, $0.count) }) else {
            throw .system(ENOMEM, "allocate an address")
        }
        self.raw = raw
    }

    deinit { nl_addr_put(raw) }

    /// Calls `body` (a libnl setter) with the address, which stays alive for the call.
    borrowing func apply<R>(_ body: (OpaquePointer) -> R) -> R { body(raw) }
}

extension IPAddress {
    /// The socket address family (`AF_INET` or `AF_INET6`).
    var family: Int32 { isIPv4 ? AF_INET : AF_INET6 }

    /// Reads a libnl address; nil unless it holds 4 or 16 bytes.
    init?(nl address: OpaquePointer?) {
        guard let address, let data = nl_addr_get_binary_addr(address) else { return nil }
        let length = Int(nl_addr_get_len(address))
        guard length == 4 || length == 16 else { return nil }
        self.init(bytes: Array(UnsafeRawBufferPointer(start: data, count: length)))
    }
}

extension IPPrefix {
    /// Reads a libnl address with its prefix length. A zero-length address (how libnl
    /// represents "no RTA_DST", the default route) becomes the family's all-zero prefix.
    init?(nl address: OpaquePointer?, family: Int32) {
        guard let address else { return nil }
        let length = Int(nl_addr_get_prefixlen(address))
        if nl_addr_get_len(address) == 0 {
            let zero = family == AF_INET6 ? IPAddress.v6(IPv6Address(high: 0, low: 0)) : .v4(IPv4Address(0))
            try? self.init(address: zero, length: 0)
        } else if let ip = IPAddress(nl: address) {
            try? self.init(address: ip, length: length)
        } else {
            return nil
        }
    }
}

extension MACAddress {
    /// Reads a libnl link-layer address; nil unless it holds 6 bytes.
    init?(nl address: OpaquePointer?) {
        guard let address, nl_addr_get_len(address) == 6, let data = nl_addr_get_binary_addr(address) else { return nil }
        self.init(bytes: Array(UnsafeRawBufferPointer(start: data, count: 6)))
    }
}

/// Which address families a listing covers.
public enum IPFamily: Sendable, Hashable {
    case ipv4, ipv6, any

    var af: Int32 {
        switch self { case .ipv4: AF_INET; case .ipv6: AF_INET6; case .any: AF_UNSPEC }
    }
}
