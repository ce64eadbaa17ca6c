// CNI bridge plugin: attaches the container to a Linux bridge on the host through a veth
// pair, with addresses from the delegated IPAM plugin, like the reference plugin of
// containernetworking/plugins (same config fields, same results). ADD is in Add.swift.
import CNI
import Glibc
import Netlink
import NFTables
import NetAddress

/// DEL: idempotent, and works when the container's namespace is already gone.
///
/// The order is chosen for the kernel's sake: committing the rule deletions queues their
/// release behind an RCU grace period, and closing an nftables socket waits for that release
/// while holding the nftables mutex, which deleting a link needs too. So the rules go first,
/// the link second (its own wait for RCU callbacks covers the grace period), and the socket
/// is closed last, when there is nothing left to wait for. The IPAM plugin's DEL is started
/// just before the link deletion: it runs in its own process while this one sleeps in the
/// kernel's wait (started earlier, it took this CPU ahead of the deletion: one tick more).
func del(_ request: CNIRequest) throws {
    let conf = try BridgeConfig(request.config, cniArgs: request.env)
    let env = request.env
    let nft = try NFTSocket()
    try removeTaggedRules(of: AttachmentTag(network: request.config.name, containerID: env.containerID,
                                            ifname: env.ifname), using: nft)
    let path = env.netns
    var ctr: NetlinkHandle?
    if !path.isEmpty, access(path, F_OK) == 0, let ns = try? NetNS.open(path: path) {
        ctr = try NetlinkHandle(namespace: ns)
    }
    let ipam = try conf.ipamType.map { (type) throws(CNIError) in try IPAMDelegate.start(plugin: type, config: request.stdin) }
    if let ctr {
        try NetlinkError.ignoring(.linkNotFound) { try ctr.deleteLink(named: env.ifname) }
    }
    // The host end goes with its peer; remove a leftover one too (e.g. namespace gone first).
    let host = try NetlinkHandle()
    let vethName = hostVethName(containerID: env.containerID, ifname: env.ifname)
    try NetlinkError.ignoring(.linkNotFound) { try host.deleteLink(named: vethName) }
    try ipam?.output()
    withExtendedLifetime(nft) {}
}

/// CHECK: the IPAM plugin agrees; the bridge (with the configured promiscuous mode), the host
/// veth on it and the container interface exist with prevResult's MACs, the veth's two ends
/// paired with each other; the container
/// interface is up with prevResult's addresses and routes.
func check(_ request: CNIRequest) throws {
    let conf = try BridgeConfig(request.config, cniArgs: request.env)
    let env = request.env
    guard let prev = try request.config.decodedPrevResult() else {
        throw CNIError(code: .invalidNetworkConfig, msg: "bridge: CHECK needs a prevResult")
    }
    if let ipam = conf.ipamType { try IPAMDelegate.exec(plugin: ipam, config: request.stdin) }
    func fail(_ msg: String) -> CNIError { CNIError(code: .generic, msg: "bridge: \(msg)") }
    func expectMAC(_ name: String, _ link: Link) throws(CNIError) {
        let want = prev.interfaces.first { $0.name == name }?.mac
        if let want, let have = link.mac, MACAddress(want) != have {
            throw fail("\(name) has MAC \(have), prevResult says \(want)")
        }
    }
    let host = try NetlinkHandle()
    guard let bridge = try? host.link(named: conf.bridge), bridge.kind == "bridge" else {
        throw fail("bridge \(conf.bridge) is missing")
    }
    guard bridge.isPromiscuous == conf.promiscMode else {
        throw fail("\(conf.bridge) promiscuous mode is \(bridge.isPromiscuous), config says \(conf.promiscMode)")
    }
    try expectMAC(conf.bridge, bridge)
    let vethName = hostVethName(containerID: env.containerID, ifname: env.ifname)
    guard let veth = try? host.link(named: vethName) else { throw fail("host veth \(vethName) is missing") }
    guard veth.masterIndex == bridge.index else { throw fail("\(vethName) is not attached to \(conf.bridge)") }
    try expectMAC(vethName, veth)
    let ctr = try NetlinkHandle(namespace: NetNS.open(path: env.netns))
    guard let link = try? ctr.link(named: env.ifname) else { throw fail("\(env.ifname) is missing in \(env.netns)") }
    guard link.kind == "veth" else { throw fail("\(env.ifname) is not a veth") }
    // The two must be the ends of one veth (each names the other's index in its namespace),
    // not a host veth left from another attachment beside a container interface of the same name.
    guard veth.parentIndex == link.index, link.parentIndex == veth.index else {
        throw fail("\(vethName) and \(env.ifname) in \(env.netns) are not the two ends of one veth")
    }
    try expectMAC(env.ifname, link)
    guard conf.disableContainerInterface || link.isUp else { throw fail("\(env.ifname) is down") }
    let have = try ctr.addresses(link: env.ifname).map(\.prefix)
    let index = prev.interfaces.firstIndex { $0.name == env.ifname && $0.sandbox != nil }
    for ip in prev.ips where ip.interface == nil || ip.interface == index {
        guard have.contains(try prefix(ip.address)) else { throw fail("\(ip.address) is not on \(env.ifname)") }
    }
    for r in prev.routes {
        let dst = try prefix(r.dst)
        let gw = r.gw.flatMap { IPAddress($0) }
        let routes = try ctr.routes(family: dst.address.isIPv4 ? .ipv4 : .ipv6)
        guard routes.contains(where: { $0.destination == dst.network && (gw == nil || $0.gateway == gw) }) else {
            throw fail("route \(r.dst)\(r.gw.map { " via \($0)" } ?? "") is missing in \(env.netns)")
        }
    }
}

/// GC: the IPAM plugin releases addresses of attachments not in
/// `cni.dev/valid-attachments`; the masquerade and spoof-check rules of this network's
/// other attachments go too.
func gc(_ request: CNIRequest) throws {
    let conf = try BridgeConfig(request.config, cniArgs: request.env)
    if let ipam = conf.ipamType { try IPAMDelegate.exec(plugin: ipam, config: request.stdin) }
    let valid = Set(try request.config.validAttachments().map { [$0.containerID, $0.ifname] })
    try removeTaggedRules(using: NFTSocket()) { comment in
        guard let tag = AttachmentTag(comment: comment), tag.network == request.config.name else { return false }
        return !valid.contains([tag.containerID, tag.ifname])
    }
}

/// STATUS: ready when the IPAM plugin is.
func status(_ request: CNIRequest) throws {
    let conf = try BridgeConfig(request.config, cniArgs: request.env)
    if let ipam = conf.ipamType { try IPAMDelegate.exec(plugin: ipam, config: request.stdin) }
}

PluginMain.run(supportedVersions: CNIVersion.all, add: add, del: del, check: check, gc: gc, status: status)
