import Netlink

/// What the kernel holds in each testbed namespace, read back through the Netlink module:
/// one line per link (kind, state, bridge, veth peer, MAC) and its addresses under it.
struct StatusReport {
    var layout: Layout

    func print() throws {
        let names = NetNS.names().filter(layout.owns)
            .sorted { order($0) < order($1) }
        guard !names.isEmpty else {
            Swift.print("testbed \(layout.prefix): no namespaces (run `netplane-testbed up --prefix \(layout.prefix)`)")
            return
        }
        for name in names {
            do {
                try show(name)
            } catch {
                Swift.print("\(name)\n  cannot read: \(error)")
            }
        }
    }

    /// Fabric first, then nodes by number.
    private func order(_ name: String) -> Int {
        name == layout.fabric ? 0 : layout.nodeNumber(of: name) ?? Int.max
    }

    private func show(_ name: String) throws {
        let handle = try NetlinkHandle(namespace: NetNS.open(name: name))
        let links = try handle.links().sorted { $0.index < $1.index }
        let addresses = try handle.addresses()
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { a, _ in a })
        Swift.print(name)
        for link in links {
            var line = "  \(link.index): \(link.name)"
            if let kind = link.kind { line += " \(kind)" }
            line += link.isUp ? " up" : " down"
            line += " \(link.operState)"
            if let master = link.masterIndex { line += " master \(names[master] ?? "#\(master)")" }
            // The peer's index may belong to another namespace (always so here), so it is
            // shown as a number, like `ip link` shows `@ifN`, never resolved to a local name.
            if link.kind == "veth", let peer = link.parentIndex { line += " peer @if\(peer)" }
            if let mac = link.mac, link.name != "lo" { line += " \(mac)" }
            Swift.print(line)
            for address in addresses where address.linkIndex == link.index {
                Swift.print("      \(address.prefix) scope \(address.scope)")
            }
        }
    }
}
