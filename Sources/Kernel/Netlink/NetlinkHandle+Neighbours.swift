import CNetlink
public import NetAddress
import Glibc

extension NetlinkHandle {
    /// Adds a neighbour entry (`ip neigh add`); `.exists` if one is there for that IP.
    public func addNeighbour(_ neighbour: Neighbour) throws(NetlinkError) {
        try changeNeighbour(neighbour, verb: "add", flags: NLM_F_CREATE | NLM_F_EXCL)
    }

    /// Adds or overwrites the entry for the neighbour's IP (`ip neigh replace`).
    public func replaceNeighbour(_ neighbour: Neighbour) throws(NetlinkError) {
        try changeNeighbour(neighbour, verb: "replace", flags: NLM_F_CREATE | NLM_F_REPLACE)
    }

    /// Removes the entry for `ip` on `device` (`ip neigh del`).
    public func deleteNeighbour(ip: IPAddress, device: String) throws(NetlinkError) {
        try changeNeighbour(Neighbour(ip: ip, mac: nil, device: device), verb: "delete", flags: nil)
    }

    /// ARP and NDP entries, optionally of one link and one family.
    ///
    /// Like `ip neigh show`, entries in the NOARP state are left out unless asked for: the
    /// kernel adds them by itself for multicast groups (224.0.0.22, ff02::16, ...) whenever an
    /// interface joins one, so they are not anyone's configuration.
    public func neighbours(link: String? = nil, family: IPFamily = .any,
                           includingNoARP: Bool = false) throws(NetlinkError) -> [Neighbour] {
        let operation = "list neighbours" + (link.map { " dev \($0)" } ?? "")
        let index = try link.map { (name) throws(NetlinkError) in try resolve(name, operation) }
        let names = try linkNames()
        var header = ndmsg()
        header.ndm_family = UInt8(family.af)
        return try dumpNeighbours(operation, header: header) { parsed in
            let entryFamily = rtnl_neigh_get_family(parsed)
            let ifindex = rtnl_neigh_get_ifindex(parsed)
            let state = NeighbourState(rawValue: UInt16(truncatingIfNeeded: rtnl_neigh_get_state(parsed)))
            guard entryFamily == AF_INET || entryFamily == AF_INET6,
                  includingNoARP || !state.contains(.noARP),
                  family == .any || entryFamily == family.af,
                  index == nil || ifindex == index,
                  let ip = IPAddress(nl: rtnl_neigh_get_dst(parsed)) else { return nil }
            return Neighbour(ip: ip, mac: MACAddress(nl: rtnl_neigh_get_lladdr(parsed)),
                             device: names[ifindex] ?? "#\(ifindex)", state: state)
        }
    }

    /// Dumps the neighbour table (RTM_GETNEIGH with `header`, an ndmsg or, for a bridge port's
    /// FDB, an ifinfomsg) and maps each entry libnl parsed through `entry`.
    func dumpNeighbours<Header: BitwiseCopyable, T>(_ operation: String, header: Header,
                                                    _ entry: (OpaquePointer) -> T?) throws(NetlinkError) -> [T] {
        try dump(operation, request: { () throws(NetlinkError) in
            try Message(type: Int32(RTM_GETNEIGH), header: header)
        }, parse: { message in
            var parsed: OpaquePointer?
            guard rtnl_neigh_parse(message, &parsed) >= 0, let parsed else { return nil }
            defer { rtnl_neigh_put(parsed) }
            return entry(parsed)
        })
    }

    private func changeNeighbour(_ neighbour: Neighbour, verb: String, flags: Int32?) throws(NetlinkError) {
        let operation = neighbour.operation(verb)
        let index = try resolve(neighbour.device, operation)
        try perform(try neighbourMessage(neighbour, index: index, flags: flags, operation), operation)
    }

    /// The RTM_NEWNEIGH (with `flags`) or RTM_DELNEIGH (nil) request for `neighbour`.
    func neighbourMessage(_ neighbour: Neighbour, index: Int32, flags: Int32?,
                          _ operation: @autoclosure () -> String) throws(NetlinkError) -> Message {
        guard let entry = rtnl_neigh_alloc() else { throw .system(ENOMEM, operation()) }
        defer { rtnl_neigh_put(entry) }
        rtnl_neigh_set_ifindex(entry, index)
        let status = try NLAddress(neighbour.ip).apply { rtnl_neigh_set_dst(entry, $0) }
        if status < 0 { throw .libnl(status, operation()) }
        if let mac = neighbour.mac { try NLAddress(mac).apply { rtnl_neigh_set_lladdr(entry, $0) } }
        rtnl_neigh_set_state(entry, Int32(neighbour.state.rawValue))
        return try Message.build(operation()) { result in
            if let flags { rtnl_neigh_build_add_request(entry, flags, result) }
            else { rtnl_neigh_build_delete_request(entry, 0, result) }
        }
    }

    /// Interface names by index, for listings that report devices by name.
    func linkNames() throws(NetlinkError) -> [Int32: String] {
        Dictionary(try links().map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
    }
}
