package import CNetlink
import Glibc

/// An owned libnl message (`struct nl_msg`), freed when it goes out of scope.
package struct Message: ~Copyable {
    package let raw: OpaquePointer

    /// Takes ownership of what a libnl `rtnl_*_build_*_request` produced.
    package init(_ raw: OpaquePointer) { self.raw = raw }

    /// A bare request: netlink header of `type` plus the family header `header` (a C struct).
    package init<Header: BitwiseCopyable>(type: Int32, flags: Int32 = 0, header: Header) throws(NetlinkError) {
        guard let raw = nlmsg_alloc_simple(type, flags) else { throw .system(ENOMEM, "allocate a netlink message") }
        var header = header
        let status = withUnsafeMutableBytes(of: &header) {
            nlmsg_append(raw, $0.baseAddress, $0.count, Int32(NLMSG_ALIGNTO))
        }
        guard status >= 0 else {
            nlmsg_free(raw)
            throw .libnl(status, "build a netlink message")
        }
        self.raw = raw
    }

    /// Calls one of libnl's `rtnl_*_build_*_request(object, flags, &msg)` functions.
    static func build(_ operation: @autoclosure () -> String,
                      _ builder: (UnsafeMutablePointer<OpaquePointer?>) -> Int32) throws(NetlinkError) -> Message {
        var raw: OpaquePointer?
        let status = builder(&raw)
        guard status >= 0, let raw else { throw .libnl(status, operation()) }
        return Message(raw)
    }

    deinit { nlmsg_free(raw) }

    package var header: UnsafeMutablePointer<nlmsghdr> { nlmsg_hdr(raw) }

    /// Appends `attribute` with a raw payload.
    package func put(_ attribute: Int32, _ bytes: [UInt8]) throws(NetlinkError) {
        let status = bytes.withUnsafeBytes { nla_put(raw, attribute, Int32($0.count), $0.baseAddress) }
        if status < 0 { throw .libnl(status, "build a netlink message") }
    }

    package func put<T: FixedWidthInteger>(_ attribute: Int32, _ value: T) throws(NetlinkError) {
        var value = value
        let status = nla_put(raw, attribute, Int32(MemoryLayout<T>.size), &value)
        if status < 0 { throw .libnl(status, "build a netlink message") }
    }

    package func put(_ attribute: Int32, _ string: String) throws(NetlinkError) {
        let status = nla_put_string(raw, attribute, string)
        if status < 0 { throw .libnl(status, "build a netlink message") }
    }

    /// Wraps the attributes `body` adds in a nested attribute.
    package func nest(_ attribute: Int32, _ body: () throws(NetlinkError) -> Void) throws(NetlinkError) {
        guard let start = nla_nest_start(raw, attribute) else { throw .libnl(NLE_MSGSIZE, "build a netlink message") }
        try body()
        nla_nest_end(raw, start)
    }
}

extension Message {
    /// A copy of the whole message, header included (for tests and debugging).
    var bytes: [UInt8] {
        Array(UnsafeRawBufferPointer(start: header, count: Int(header.pointee.nlmsg_len)))
    }
}
