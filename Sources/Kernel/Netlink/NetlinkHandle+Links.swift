import CNetlink
import Glibc

extension NetlinkHandle {
    /// Every link in the namespace, by index.
    public func links() throws(NetlinkError) -> [Link] {
        let parsed = try dump("list links", request: { () throws(NetlinkError) in
            try Message(type: Int32(RTM_GETLINK), header: ifinfomsg())
        }, parse: Link.parse)
        let names = Dictionary(parsed.map { ($0.link.index, $0.link.name) }, uniquingKeysWith: { a, _ in a })
        return parsed.map { entry in
            var link = entry.link
            if let underlay = entry.underlay { link.vxlan?.device = names[underlay] }
            return link
        }
    }

    /// The link called `name`; throws `.linkNotFound` if there is none.
    public func link(named name: String) throws(NetlinkError) -> Link {
        try getLink(index: 0, name: name, "show link \(name)")
    }

    /// The link with interface index `index`; throws `.linkNotFound` if there is none.
    public func link(index: Int32) throws(NetlinkError) -> Link {
        try getLink(index: index, name: nil, "show link \(index)")
    }

    /// The interface index of `name`, resolved in this handle's namespace (unlike
    /// `if_nametoindex`, which asks the calling thread's namespace).
    public func linkIndex(named name: String) throws(NetlinkError) -> Int32 {
        try link(named: name).index
    }

    /// Creates a link (`ip link add`). Fails with `.exists` if the name is taken.
    public func addLink(_ spec: LinkSpec) throws(NetlinkError) {
        let operation = "add link \(spec.name) type \(spec.kind.name)"
        let message = try linkRequest(spec, operation: operation) { (name) throws(NetlinkError) in
            do throws(NetlinkError) { return try linkIndex(named: name) } catch {
                throw error.code == .linkNotFound ? .noLink(name, operation) : error
            }
        }
        try perform(message, operation)
    }

    /// Deletes a link (`ip link del`); a veth takes its peer with it.
    public func deleteLink(named name: String) throws(NetlinkError) {
        let operation = "delete link \(name)"
        guard let link = rtnl_link_alloc() else { throw .system(ENOMEM, operation) }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name)
        let message = try Message.build(operation) { rtnl_link_build_delete_request(link, $0) }
        try perform(message, operation, link: name)
    }

    /// Applies `changes` to the link `name` in one request, e.g.
    /// `setLink(named: "veth0", .master("cni0"), .mtu(1450), .up)`.
    public func setLink(named name: String, _ changes: LinkChange...) throws(NetlinkError) {
        try setLink(named: name, changes)
    }

    public func setLink(named name: String, _ changes: [LinkChange]) throws(NetlinkError) {
        let operation = "set link \(name) " + changes.map(\.summary).joined(separator: " ")
        let index = try resolve(name, operation)
        guard let original = rtnl_link_alloc(), let change = rtnl_link_alloc() else { throw .system(ENOMEM, operation) }
        defer { rtnl_link_put(original); rtnl_link_put(change) }
        rtnl_link_set_ifindex(original, index)
        for item in changes {
            switch item {
            case .up: rtnl_link_set_flags(change, iffUp)
            case .down: rtnl_link_unset_flags(change, iffUp)
            case .mtu(let mtu): rtnl_link_set_mtu(change, mtu)
            case .mac(let mac): try NLAddress(mac).apply { rtnl_link_set_addr(change, $0) }
            case .master(let master): rtnl_link_set_master(change, try resolve(master, operation))
            case .noMaster: rtnl_link_set_master(change, 0)
            case .rename(let newName): rtnl_link_set_name(change, newName)
            case .namespace(let namespace): rtnl_link_set_ns_fd(change, namespace.fd)
            case .promiscuous(true): rtnl_link_set_flags(change, iffPromisc)
            case .promiscuous(false): rtnl_link_unset_flags(change, iffPromisc)
            }
        }
        let message = try Message.build(operation) { rtnl_link_build_change_request(original, change, 0, $0) }
        try withExtendedLifetime(changes) { () throws(NetlinkError) in try perform(message, operation, link: name) }
    }

    /// The index of `name`, or `.linkNotFound` naming it and the operation that needed it.
    func resolve(_ name: String, _ operation: @autoclosure () -> String) throws(NetlinkError) -> Int32 {
        do throws(NetlinkError) { return try linkIndex(named: name) } catch {
            throw error.code == .linkNotFound ? .noLink(name, operation()) : error
        }
    }

    /// The name of the link with `index`.
    func name(ofLink index: Int32) throws(NetlinkError) -> String {
        try link(index: index).name
    }

    private func getLink(index: Int32, name: String?, _ operation: String) throws(NetlinkError) -> Link {
        let message = try Message.build(operation) { rtnl_link_build_get_request(index, name, $0) }
        var found: (link: Link, underlay: Int32?)?
        do throws(NetlinkError) {
            try perform(message, operation, link: name) { message in
                if found == nil { found = Link.parse(message) }
            }
        } catch {
            throw error.code == .linkNotFound ? .noLink(name ?? "#\(index)", operation) : error
        }
        guard var result = found else { throw .noLink(name ?? "#\(index)", operation) }
        if let underlay = result.underlay { result.link.vxlan?.device = try? self.name(ofLink: underlay) }
        return result.link
    }
}

extension LinkChange {
    /// The change in `ip link set` words, for messages.
    var summary: String {
        switch self {
        case .up: "up"
        case .down: "down"
        case .mtu(let mtu): "mtu \(mtu)"
        case .mac(let mac): "address \(mac)"
        case .master(let master): "master \(master)"
        case .noMaster: "nomaster"
        case .rename(let name): "name \(name)"
        case .namespace(let namespace): "netns \(namespace.path)"
        case .promiscuous(let on): "promisc \(on ? "on" : "off")"
        }
    }
}
