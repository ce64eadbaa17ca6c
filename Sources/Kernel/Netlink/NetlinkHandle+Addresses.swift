import CNetlink
public import NetAddress
import Glibc

extension NetlinkHandle {
    /// Adds `prefix` (e.g. `10.244.0.1/24`) to `link` (`ip addr add`). The kernel also adds
    /// the prefix route. Fails with `.exists` if the address is already there.
    public func addAddress(_ prefix: IPPrefix, link: String) throws(NetlinkError) {
        try changeAddress(prefix, link: link, verb: "add", flags: NLM_F_EXCL)
    }

    /// Adds `prefix` to `link`, or updates it if present (`ip addr replace`).
    public func replaceAddress(_ prefix: IPPrefix, link: String) throws(NetlinkError) {
        try changeAddress(prefix, link: link, verb: "replace", flags: NLM_F_REPLACE)
    }

    /// Removes `prefix` from `link` (`ip addr del`); `.notFound` if it is not assigned.
    public func deleteAddress(_ prefix: IPPrefix, link: String) throws(NetlinkError) {
        try changeAddress(prefix, link: link, verb: "delete", flags: nil)
    }

    /// Addresses in the namespace, optionally only those of `link` and of one family.
    public func addresses(link: String? = nil, family: IPFamily = .any) throws(NetlinkError) -> [InterfaceAddress] {
        let operation = "list addresses" + (link.map { " dev \($0)" } ?? "")
        let index = try link.map { (name) throws(NetlinkError) in try resolve(name, operation) }
        var header = ifaddrmsg()
        header.ifa_family = UInt8(family.af)
        let all = try dump(operation, request: { () throws(NetlinkError) in
            try Message(type: Int32(RTM_GETADDR), header: header)
        }, parse: { message in
            parseObject(message) { InterfaceAddress(libnl: $0) }
        })
        return all.filter { address in
            (index == nil || address.linkIndex == index)
                && (family == .any || address.prefix.address.isIPv4 == (family == .ipv4))
        }
    }

    private func changeAddress(_ prefix: IPPrefix, link: String, verb: String, flags: Int32?) throws(NetlinkError) {
        let operation = "\(verb) address \(prefix) dev \(link)"
        let index = try resolve(link, operation)
        guard let address = rtnl_addr_alloc() else { throw .system(ENOMEM, operation) }
        defer { rtnl_addr_put(address) }
        rtnl_addr_set_ifindex(address, index)
        let status = try NLAddress(prefix).apply { rtnl_addr_set_local(address, $0) }
        if status < 0 { throw .libnl(status, operation) }
        let message = try Message.build(operation) { result in
            if let flags { rtnl_addr_build_add_request(address, flags, result) }
            else { rtnl_addr_build_delete_request(address, 0, result) }
        }
        try perform(message, operation)
    }
}

extension InterfaceAddress {
    init?(libnl address: OpaquePointer) {
        guard let local = IPAddress(nl: rtnl_addr_get_local(address)),
              let prefix = try? IPPrefix(address: local, length: Int(rtnl_addr_get_prefixlen(address)))
        else { return nil }
        self.init(prefix: prefix, linkIndex: rtnl_addr_get_ifindex(address),
                  scope: RouteScope(rawValue: UInt8(truncatingIfNeeded: rtnl_addr_get_scope(address))),
                  label: string(rtnl_addr_get_label(address)))
    }
}
