import CNetlink
public import Netlink
public import NetAddress
import Glibc

/// IPVS through generic netlink (the kernel's "IPVS" family), the way `ipvsadm` talks to it:
/// virtual servers and their real servers added, edited, removed and listed, in the handle's
/// namespace. Messages are built and parsed with libnl-genl; requests go through the same
/// request/reply loop as the route-netlink handle, so the kernel's errno reaches the caller.
///
/// Opening fails with `.notFound` when the kernel has no IPVS (the `ip_vs` module is not
/// loaded and cannot be).
public final class IPVSHandle {
    let netlink: NetlinkHandle
    let family: UInt16
    /// Attribute tables are sized past every type this code reads (the headers' *_MAX are
    /// macros Swift does not import); newer kernels' extra attributes are ignored.
    static let attributeLimit = 32

    public convenience init() throws(NetlinkError) {
        try self.init(netlink: NetlinkHandle(netlinkProtocol: NETLINK_GENERIC, namespace: nil))
    }

    public convenience init(namespace: NetNS) throws(NetlinkError) {
        try self.init(netlink: NetlinkHandle(netlinkProtocol: NETLINK_GENERIC, namespace: namespace))
    }

    init(netlink: NetlinkHandle) throws(NetlinkError) {
        self.netlink = netlink
        family = try Self.resolveFamily(netlink)
    }

    /// The "IPVS" family's id, from the generic netlink controller.
    static func resolveFamily(_ netlink: NetlinkHandle) throws(NetlinkError) -> UInt16 {
        let operation = "resolve the IPVS generic netlink family"
        let message = try Message(type: Int32(GENL_ID_CTRL), header: genlmsghdr(cmd: UInt8(CTRL_CMD_GETFAMILY), version: 1, reserved: 0))
        try message.put(Int32(CTRL_ATTR_FAMILY_NAME), "IPVS")
        var id: UInt16?
        do throws(NetlinkError) {
            try netlink.perform(message, operation) { reply in
                var attributes = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: IPVSHandle.attributeLimit + 1)
                _ = attributes.withUnsafeMutableBufferPointer { genlmsg_parse(reply, 0, $0.baseAddress, Int32(IPVSHandle.attributeLimit), nil) }
                if let attr = attributes[Int(CTRL_ATTR_FAMILY_ID)] { id = nla_get_u16(attr) }
            }
        } catch {
            if error.code == .notFound {
                throw NetlinkError(code: .notFound, operation: operation, errno: ENOENT,
                                   reason: "the kernel has no IPVS (load the ip_vs module)")
            }
            throw error
        }
        guard let id else { throw .system(EPROTO, operation, kernelMessage: "no family id in the reply") }
        return id
    }

    // MARK: - Virtual servers

    public func addService(_ service: VirtualServer) throws(NetlinkError) {
        try request(IPVS_CMD_NEW_SERVICE, "add virtual server \(service)") { (m) throws(NetlinkError) in
            try putService(m, service, full: true)
        }
    }

    /// Changes the scheduler, persistence or flags of an existing virtual server.
    public func updateService(_ service: VirtualServer) throws(NetlinkError) {
        try request(IPVS_CMD_SET_SERVICE, "update virtual server \(service)") { (m) throws(NetlinkError) in
            try putService(m, service, full: true)
        }
    }

    /// Removes a virtual server and its real servers.
    public func deleteService(_ key: VirtualServer.Key) throws(NetlinkError) {
        try request(IPVS_CMD_DEL_SERVICE, "delete virtual server \(key)") { (m) throws(NetlinkError) in
            try putServiceKey(m, key)
        }
    }

    /// Every virtual server (`ipvsadm -Ln`, without the real servers).
    public func services() throws(NetlinkError) -> [VirtualServer] {
        let family = family
        return try netlink.dump("list virtual servers", request: { () throws(NetlinkError) in
            try Message(type: Int32(family), header: genlmsghdr(cmd: UInt8(IPVS_CMD_GET_SERVICE), version: UInt8(IPVS_GENL_VERSION), reserved: 0))
        }, parse: { reply in
            guard let nested = Self.attribute(reply, IPVS_CMD_ATTR_SERVICE, max: IPVSHandle.attributeLimit) else { return nil }
            return Self.parseService(nested)
        })
    }

    /// Removes every virtual server (`ipvsadm -C`).
    public func flush() throws(NetlinkError) {
        try request(IPVS_CMD_FLUSH, "flush IPVS") { (_) throws(NetlinkError) in }
    }

    // MARK: - Real servers

    public func addDestination(_ destination: RealServer, to service: VirtualServer.Key) throws(NetlinkError) {
        try request(IPVS_CMD_NEW_DEST, "add real server \(destination) to \(service)") { (m) throws(NetlinkError) in
            try putServiceKey(m, service)
            try putDestination(m, destination, family: service.address)
        }
    }

    /// Changes a real server's weight (or forwarding method).
    public func updateDestination(_ destination: RealServer, of service: VirtualServer.Key) throws(NetlinkError) {
        try request(IPVS_CMD_SET_DEST, "update real server \(destination) of \(service)") { (m) throws(NetlinkError) in
            try putServiceKey(m, service)
            try putDestination(m, destination, family: service.address)
        }
    }

    public func deleteDestination(_ destination: RealServer.Key, from service: VirtualServer.Key) throws(NetlinkError) {
        try request(IPVS_CMD_DEL_DEST, "delete real server \(destination.address):\(destination.port) from \(service)") { (m) throws(NetlinkError) in
            try putServiceKey(m, service)
            try putDestination(m, RealServer(address: destination.address, port: destination.port), family: service.address)
        }
    }

    /// The real servers of one virtual server.
    public func destinations(of service: VirtualServer.Key) throws(NetlinkError) -> [RealServer] {
        let family = family
        return try netlink.dump("list real servers of \(service)", request: { () throws(NetlinkError) in
            let m = try Message(type: Int32(family), header: genlmsghdr(cmd: UInt8(IPVS_CMD_GET_DEST), version: UInt8(IPVS_GENL_VERSION), reserved: 0))
            try putServiceKey(m, service)
            return m
        }, parse: { reply in
            guard let nested = Self.attribute(reply, IPVS_CMD_ATTR_DEST, max: IPVSHandle.attributeLimit) else { return nil }
            return Self.parseDestination(nested, family: service.address)
        })
    }

    // MARK: - Messages

    private func request(_ command: Int, _ operation: String,
                         _ attributes: (borrowing Message) throws(NetlinkError) -> Void) throws(NetlinkError) {
        let m = try Message(type: Int32(family), header: genlmsghdr(cmd: UInt8(command), version: UInt8(IPVS_GENL_VERSION), reserved: 0))
        try attributes(m)
        try netlink.perform(m, operation)
    }

    private func putServiceKey(_ m: borrowing Message, _ key: VirtualServer.Key) throws(NetlinkError) {
        try m.nest(Int32(IPVS_CMD_ATTR_SERVICE)) { () throws(NetlinkError) in try putKeyAttributes(m, key) }
    }

    private func putKeyAttributes(_ m: borrowing Message, _ key: VirtualServer.Key) throws(NetlinkError) {
        try m.put(Int32(IPVS_SVC_ATTR_AF), UInt16(key.address.isIPv4 ? AF_INET : AF_INET6))
        try m.put(Int32(IPVS_SVC_ATTR_PROTOCOL), key.proto.rawValue)
        try m.put(Int32(IPVS_SVC_ATTR_ADDR), Self.addressBytes(key.address))
        try m.put(Int32(IPVS_SVC_ATTR_PORT), key.port.bigEndian)
    }

    private func putService(_ m: borrowing Message, _ service: VirtualServer, full: Bool) throws(NetlinkError) {
        try m.nest(Int32(IPVS_CMD_ATTR_SERVICE)) { () throws(NetlinkError) in
            try putKeyAttributes(m, service.key)
            try m.put(Int32(IPVS_SVC_ATTR_SCHED_NAME), service.scheduler)
            var flags = service.flags
            if service.persistenceTimeout != nil { flags |= UInt32(IP_VS_SVC_F_PERSISTENT) }
            // struct ip_vs_flags { flags; mask }: the mask says which bits to set or clear.
            try m.put(Int32(IPVS_SVC_ATTR_FLAGS), Self.bytes(flags) + Self.bytes(UInt32.max))
            try m.put(Int32(IPVS_SVC_ATTR_TIMEOUT), service.persistenceTimeout ?? 0)
            try m.put(Int32(IPVS_SVC_ATTR_NETMASK), service.address.isIPv4 ? UInt32.max : UInt32(128))
        }
    }

    private func putDestination(_ m: borrowing Message, _ d: RealServer, family address: IPAddress) throws(NetlinkError) {
        try m.nest(Int32(IPVS_CMD_ATTR_DEST)) { () throws(NetlinkError) in
            try m.put(Int32(IPVS_DEST_ATTR_ADDR), Self.addressBytes(d.address))
            try m.put(Int32(IPVS_DEST_ATTR_PORT), d.port.bigEndian)
            try m.put(Int32(IPVS_DEST_ATTR_FWD_METHOD), d.forward.rawValue)
            try m.put(Int32(IPVS_DEST_ATTR_WEIGHT), d.weight)
            try m.put(Int32(IPVS_DEST_ATTR_U_THRESH), UInt32(0))
            try m.put(Int32(IPVS_DEST_ATTR_L_THRESH), UInt32(0))
            try m.put(Int32(IPVS_DEST_ATTR_ADDR_FAMILY), UInt16(d.address.isIPv4 ? AF_INET : AF_INET6))
        }
    }

    /// IPVS carries addresses in a 16-byte union (an IPv4 address in its first 4 bytes).
    static func addressBytes(_ address: IPAddress) -> [UInt8] {
        let bytes = address.bytes
        return bytes + [UInt8](repeating: 0, count: 16 - bytes.count)
    }

    static func bytes(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    // MARK: - Parsing

    /// The attribute `type` of a generic netlink reply (its header is 4 bytes).
    static func attribute(_ reply: UnsafeMutablePointer<nlmsghdr>, _ type: Int, max: Int) -> UnsafeMutablePointer<nlattr>? {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: max + 1)
        let status = table.withUnsafeMutableBufferPointer { genlmsg_parse(reply, 0, $0.baseAddress, Int32(max), nil) }
        return status < 0 ? nil : table[type]
    }

    static func nested(_ attribute: UnsafeMutablePointer<nlattr>, max: Int) -> [UnsafeMutablePointer<nlattr>?]? {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: max + 1)
        let status = table.withUnsafeMutableBufferPointer { nla_parse_nested($0.baseAddress, Int32(max), attribute, nil) }
        return status < 0 ? nil : table
    }

    static func address(_ attribute: UnsafeMutablePointer<nlattr>?, family: UInt16) -> IPAddress? {
        guard let attribute, nla_len(attribute) >= (family == UInt16(AF_INET) ? 4 : 16), let data = nla_data(attribute) else { return nil }
        let raw = UnsafeRawBufferPointer(start: data, count: Int(nla_len(attribute)))
        return IPAddress(bytes: Array(raw.prefix(family == UInt16(AF_INET) ? 4 : 16)))
    }

    static func parseService(_ nested: UnsafeMutablePointer<nlattr>) -> VirtualServer? {
        guard let a = Self.nested(nested, max: IPVSHandle.attributeLimit),
              let af = a[Int(IPVS_SVC_ATTR_AF)].map({ nla_get_u16($0) }),
              let address = address(a[Int(IPVS_SVC_ATTR_ADDR)], family: af),
              let port = a[Int(IPVS_SVC_ATTR_PORT)].map({ UInt16(bigEndian: nla_get_u16($0)) }),
              let proto = a[Int(IPVS_SVC_ATTR_PROTOCOL)].flatMap({ IPVSProtocol(rawValue: nla_get_u16($0)) }),
              let scheduler = a[Int(IPVS_SVC_ATTR_SCHED_NAME)].flatMap({ nla_get_string($0) }).map({ String(cString: $0) }) else {
            return nil
        }
        var flags: UInt32 = 0
        if let f = a[Int(IPVS_SVC_ATTR_FLAGS)], nla_len(f) >= 4, let data = nla_data(f) {
            flags = data.loadUnaligned(as: UInt32.self)
        }
        let timeout = a[Int(IPVS_SVC_ATTR_TIMEOUT)].map { nla_get_u32($0) } ?? 0
        let persistent = flags & UInt32(IP_VS_SVC_F_PERSISTENT) != 0
        // The kernel adds bookkeeping flags (hashed); report only the ones a caller sets.
        let settable = UInt32(IP_VS_SVC_F_ONEPACKET | IP_VS_SVC_F_SCHED1 | IP_VS_SVC_F_SCHED2 | IP_VS_SVC_F_SCHED3)
        return VirtualServer(address: address, port: port, proto: proto, scheduler: scheduler,
                             persistenceTimeout: persistent ? timeout : nil, flags: flags & settable)
    }

    static func parseDestination(_ nested: UnsafeMutablePointer<nlattr>, family service: IPAddress) -> RealServer? {
        guard let a = Self.nested(nested, max: IPVSHandle.attributeLimit) else { return nil }
        let af = a[Int(IPVS_DEST_ATTR_ADDR_FAMILY)].map { nla_get_u16($0) } ?? UInt16(service.isIPv4 ? AF_INET : AF_INET6)
        guard let address = address(a[Int(IPVS_DEST_ATTR_ADDR)], family: af),
              let port = a[Int(IPVS_DEST_ATTR_PORT)].map({ UInt16(bigEndian: nla_get_u16($0)) }) else { return nil }
        let weight = a[Int(IPVS_DEST_ATTR_WEIGHT)].map { nla_get_u32($0) } ?? 0
        let forward = a[Int(IPVS_DEST_ATTR_FWD_METHOD)].flatMap { ForwardMethod(rawValue: nla_get_u32($0) & UInt32(IP_VS_CONN_F_FWD_MASK)) } ?? .masquerade
        return RealServer(address: address, port: port, weight: weight, forward: forward)
    }
}

/// Not `Sendable`, like the netlink handle it wraps.
@available(*, unavailable)
extension IPVSHandle: Sendable {}
