import CNetlink

/// Parses one kernel message into a libnl object (`rtnl_link`, `rtnl_addr`…) with libnl's own
/// parser for its type, and hands the object to `read` while it is alive.
func parseObject<T>(_ message: UnsafeMutablePointer<nlmsghdr>, _ read: (OpaquePointer) -> T?) -> T? {
    guard let copy = nlmsg_convert(message) else { return nil }
    nlmsg_set_proto(copy, NETLINK_ROUTE)  // libnl picks the parser by protocol and type
    defer { nlmsg_free(copy) }
    var result: T?
    withoutActuallyEscaping(read) { read in
        let reader = ObjectReader { object in result = read(object) }
        withExtendedLifetime(reader) {
            _ = nl_msg_parse(copy, { object, context in
                guard let object, let context else { return }
                Unmanaged<ObjectReader>.fromOpaque(context).takeUnretainedValue().body(object)
            }, Unmanaged.passUnretained(reader).toOpaque())
        }
    }
    return result
}

private final class ObjectReader {
    let body: (OpaquePointer) -> Void
    init(_ body: @escaping (OpaquePointer) -> Void) { self.body = body }
}

/// Reads a C string libnl owns (nil stays nil).
func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
    pointer.map { String(cString: $0) }
}
