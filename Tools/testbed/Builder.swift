import NetAddress
import Netlink

/// Brings a testbed to its desired state one object at a time, creating only what is missing
/// or broken, so `up` run twice changes nothing the second time.
struct Builder {
    var layout: Layout

    func up() throws {
        var changes = 0
        func note(_ message: String) {
            changes += 1
            print("  + \(message)")
        }

        print("testbed \(layout.prefix): fabric \(layout.fabric), \(layout.nodes) node(s)")
        let fabric = try ensureNamespace(layout.fabric, note)
        let fabricLinks = try NetlinkHandle(namespace: fabric)
        try ensureUp("lo", in: fabricLinks, layout.fabric, note)
        try ensureBridge(fabricLinks, note)

        for k in 1...layout.nodes {
            let name = layout.node(k)
            let node = try ensureNamespace(name, note)
            let nodeLinks = try NetlinkHandle(namespace: node)
            try ensureUp("lo", in: nodeLinks, name, note)
            try ensureVeth(k, fabric: fabricLinks, node: node, nodeLinks: nodeLinks, note)
            try ensureAddress(layout.address(k), on: Layout.nodeInterface, in: nodeLinks, name, note)
            try ensureUp(Layout.nodeInterface, in: nodeLinks, name, note)
        }
        try removeExtraNodes(fabric: fabricLinks, note)

        if changes == 0 {
            print("testbed \(layout.prefix) was already up; nothing changed")
        } else {
            print("testbed \(layout.prefix) is up (\(changes) change(s))")
        }
        for k in 1...layout.nodes {
            print("  \(layout.node(k)): \(Layout.nodeInterface) \(layout.address(k))")
        }
    }

    func down() throws {
        let mine = NetNS.names().filter(layout.owns)
        guard !mine.isEmpty else {
            print("testbed \(layout.prefix): no namespaces to delete")
            return
        }
        // Nodes first, then the fabric: each deletion only detaches a name, and the kernel
        // frees a namespace (and destroys its veth ends) once nothing refers to it.
        let ordered = mine.filter { $0 != layout.fabric } + mine.filter { $0 == layout.fabric }
        for name in ordered {
            try NetNS.delete(name: name)
            print("  - namespace \(name)")
        }
        print("testbed \(layout.prefix) is down")
    }

    // MARK: - One object each

    /// Opens the named namespace, creating it if absent; a stale name that is not a usable
    /// namespace (a file left by a failed create) is removed and made again.
    private func ensureNamespace(_ name: String, _ note: (String) -> Void) throws -> NetNS {
        if NetNS.names().contains(name) {
            do {
                let namespace = try NetNS.open(name: name)
                _ = try NetlinkHandle(namespace: namespace)
                return namespace
            } catch {
                try NetNS.delete(name: name)
                note("removed unusable namespace name \(name) (\(error))")
            }
        }
        let namespace = try NetNS.create(name: name)
        note("namespace \(name)")
        return namespace
    }

    private func ensureBridge(_ fabric: NetlinkHandle, _ note: (String) -> Void) throws {
        let bridge = Layout.bridge
        if let existing = try find(bridge, in: fabric) {
            guard existing.kind == "bridge" else {
                throw TestbedError("\(layout.fabric) has a link \(bridge) of kind \(existing.kind ?? "none"), not a bridge; run `netplane-testbed down --prefix \(layout.prefix)` first")
            }
        } else {
            try fabric.addLink(LinkSpec(name: bridge, kind: .bridge, up: true))
            note("\(layout.fabric): bridge \(bridge)")
        }
        try ensureUp(bridge, in: fabric, layout.fabric, note)
    }

    /// Makes node K's veth pair: `veth-nodeK` on the bridge in the fabric, `eth0` in the node.
    /// A pair whose ends are not each other's peer (e.g. the node namespace was recreated) is
    /// deleted and made again.
    private func ensureVeth(_ k: Int, fabric: NetlinkHandle, node: NetNS, nodeLinks: NetlinkHandle,
                            _ note: (String) -> Void) throws {
        let hostEnd = layout.hostEnd(k), nodeName = layout.node(k)
        let host = try find(hostEnd, in: fabric)
        let peer = try find(Layout.nodeInterface, in: nodeLinks)
        let paired = if let host, let peer {
            host.kind == "veth" && peer.kind == "veth"
                && host.parentIndex == peer.index && peer.parentIndex == host.index
        } else {
            false
        }
        if !paired {
            if host != nil {
                try fabric.deleteLink(named: hostEnd)
                note("\(layout.fabric): removed stale \(hostEnd)")
            }
            if try find(Layout.nodeInterface, in: nodeLinks) != nil {
                try nodeLinks.deleteLink(named: Layout.nodeInterface)
                note("\(nodeName): removed stale \(Layout.nodeInterface)")
            }
            try fabric.addLink(LinkSpec(name: hostEnd,
                                        kind: .veth(peerName: Layout.nodeInterface, peerNamespace: node),
                                        master: Layout.bridge, up: true))
            note("veth \(layout.fabric)/\(hostEnd) <-> \(nodeName)/\(Layout.nodeInterface)")
        }
        let current = try fabric.link(named: hostEnd)
        let bridgeIndex = try fabric.linkIndex(named: Layout.bridge)
        if current.masterIndex != bridgeIndex || !current.isUp {
            try fabric.setLink(named: hostEnd, .master(Layout.bridge), .up)
            note("\(layout.fabric): \(hostEnd) master \(Layout.bridge) up")
        }
    }

    /// Puts `address` on `link`, removing any other IPv4 address there.
    private func ensureAddress(_ address: IPPrefix, on link: String, in handle: NetlinkHandle,
                               _ namespace: String, _ note: (String) -> Void) throws {
        let present = try handle.addresses(link: link, family: .ipv4).map(\.prefix)
        for other in present where other != address {
            try handle.deleteAddress(other, link: link)
            note("\(namespace): removed \(other) from \(link)")
        }
        if !present.contains(address) {
            try handle.addAddress(address, link: link)
            note("\(namespace): \(address) on \(link)")
        }
    }

    private func ensureUp(_ link: String, in handle: NetlinkHandle, _ namespace: String,
                          _ note: (String) -> Void) throws {
        guard try !handle.link(named: link).isUp else { return }
        try handle.setLink(named: link, .up)
        note("\(namespace): \(link) up")
    }

    /// Removes node namespaces beyond `--nodes` left by an earlier, larger `up`.
    private func removeExtraNodes(fabric: NetlinkHandle, _ note: (String) -> Void) throws {
        for name in NetNS.names() {
            guard let k = layout.nodeNumber(of: name), k > layout.nodes else { continue }
            if try find(layout.hostEnd(k), in: fabric) != nil {
                try fabric.deleteLink(named: layout.hostEnd(k))
            }
            try NetNS.delete(name: name)
            note("removed extra node \(name)")
        }
    }

    private func find(_ name: String, in handle: NetlinkHandle) throws -> Link? {
        do {
            return try handle.link(named: name)
        } catch where error.code == .linkNotFound {
            return nil
        }
    }
}
