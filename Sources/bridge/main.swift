// CNI bridge plugin: attaches the container to a Linux bridge on the host through a veth
// pair, with addresses from the delegated IPAM plugin, like the reference plugin of
// containernetworking/plugins.
import CNI
import Glibc
import Netlink
import NetAddress

func ipamType(_ config: NetConf) throws(CNIError) -> String {
    guard let type = config.ipamType, !type.isEmpty else {
        throw CNIError(code: .invalidNetworkConfig, msg: "bridge: config has no ipam type")
    }
    return type
}

func prefix(_ text: String) throws(CNIError) -> IPPrefix {
    do { return try IPPrefix(text) } catch {
        throw CNIError(code: .decodingFailure, msg: "invalid address \"\(text)\"")
    }
}

/// Ensures the bridge exists and is up.
func ensureBridge(_ nl: NetlinkHandle, _ conf: BridgeConfig) throws -> Link {
    if (try? nl.link(named: conf.bridge)) == nil {
        try nl.addLink(LinkSpec(name: conf.bridge, kind: .bridge, mtu: conf.mtu, up: true))
    }
    let link = try nl.link(named: conf.bridge)
    guard link.kind == "bridge" else {
        throw CNIError(code: .generic, msg: "\(conf.bridge) already exists but is not a bridge")
    }
    if !link.isUp { try nl.setLink(named: conf.bridge, .up) }
    return try nl.link(named: conf.bridge)
}

func add(_ request: CNIRequest) throws -> CNIResult {
    let conf = try BridgeConfig(request.config)
    let ipam = try ipamType(request.config)
    let env = request.env
    let host = try NetlinkHandle()
    let bridge = try ensureBridge(host, conf)
    let containerNS = try NetNS.open(path: env.netns)
    let ctr = try NetlinkHandle(namespace: containerNS)
    let vethName = hostVethName(containerID: env.containerID, ifname: env.ifname)
    try host.addLink(LinkSpec(name: vethName, kind: .veth(peerName: env.ifname, peerNamespace: containerNS),
                              mtu: conf.mtu, master: conf.bridge, up: true))
    var ipamAllocated = false
    let masqComment = Masq.comment(network: request.config.name, containerID: env.containerID)
    do {
        let ipamResult = try IPAMDelegate.exec(plugin: ipam, config: request.stdin)
        ipamAllocated = true
        guard let ipamResult, !ipamResult.ips.isEmpty else {
            throw CNIError(code: .generic, msg: "IPAM plugin \(ipam) returned no IP configuration")
        }
        try ctr.setLink(named: env.ifname, .up)
        var routes = ipamResult.routes
        for ip in ipamResult.ips {
            let p = try prefix(ip.address)
            try ctr.addAddress(p, link: env.ifname)
            guard let gwText = ip.gateway else { continue }
            if conf.isGateway {
                let gw = try prefix("\(gwText)/\(p.length)")
                let present = try host.addresses(link: conf.bridge).contains { $0.prefix == gw }
                if !present { try host.addAddress(gw, link: conf.bridge) }
            }
            if conf.isDefaultGateway {
                let dst = p.address.isIPv4 ? "0.0.0.0/0" : "::/0"
                if !routes.contains(where: { $0.dst == dst }) { routes.append(.init(dst: dst, gw: gwText)) }
            }
        }
        for r in routes {
            let gw = r.gw.flatMap { IPAddress($0) }
            try ctr.addRoute(Route(destination: try prefix(r.dst), gateway: gw, device: env.ifname))
        }
        if conf.ipMasq {
            try Masq.add(try ipamResult.ips.map { ip throws(CNIError) in try prefix(ip.address) },
                         comment: masqComment)
        }
        let hostLink = try host.link(named: vethName)
        let ctrLink = try ctr.link(named: env.ifname)
        return CNIResult(
            cniVersion: request.config.cniVersion,
            interfaces: [.init(name: bridge.name, mac: bridge.mac.map { "\($0)" }),
                         .init(name: vethName, mac: hostLink.mac.map { "\($0)" }),
                         .init(name: env.ifname, mac: ctrLink.mac.map { "\($0)" }, sandbox: env.netns)],
            ips: ipamResult.ips.map { .init(address: $0.address, gateway: $0.gateway, interface: 2) },
            routes: routes, dns: ipamResult.dns)
    } catch {
        // No leaks: the veth pair goes (deleting one end removes both) and the address is released.
        try? host.deleteLink(named: vethName)
        if conf.ipMasq { try? Masq.remove(comment: masqComment) }
        if ipamAllocated {
            _ = try? IPAMDelegate.exec(plugin: ipam, config: request.stdin, env: ["CNI_COMMAND": "DEL"])
        }
        throw error
    }
}

func del(_ request: CNIRequest) throws {
    let env = request.env
    try IPAMDelegate.exec(plugin: try ipamType(request.config), config: request.stdin)
    let path = env.netns
    if !path.isEmpty, access(path, F_OK) == 0,
       let ns = try? NetNS.open(path: path), let ctr = try? NetlinkHandle(namespace: ns),
       (try? ctr.link(named: env.ifname)) != nil {
        try ctr.deleteLink(named: env.ifname)
    }
    if try BridgeConfig(request.config).ipMasq {
        try Masq.remove(comment: Masq.comment(network: request.config.name, containerID: env.containerID))
    }
    // The host end goes with its peer; remove a leftover one too (e.g. namespace gone first).
    let host = try NetlinkHandle()
    let vethName = hostVethName(containerID: env.containerID, ifname: env.ifname)
    if (try? host.link(named: vethName)) != nil { try? host.deleteLink(named: vethName) }
}

/// CHECK: the IPAM plugin agrees, the bridge and the host veth (on the bridge) exist, and the
/// container interface is up with the addresses of prevResult.
func check(_ request: CNIRequest) throws {
    let conf = try BridgeConfig(request.config)
    let env = request.env
    guard let prev = try request.config.decodedPrevResult() else {
        throw CNIError(code: .invalidNetworkConfig, msg: "bridge: CHECK needs a prevResult")
    }
    try IPAMDelegate.exec(plugin: try ipamType(request.config), config: request.stdin)
    func fail(_ msg: String) -> CNIError { CNIError(code: .generic, msg: "bridge: \(msg)") }
    let host = try NetlinkHandle()
    guard let bridge = try? host.link(named: conf.bridge), bridge.kind == "bridge" else {
        throw fail("bridge \(conf.bridge) is missing")
    }
    let vethName = hostVethName(containerID: env.containerID, ifname: env.ifname)
    guard let veth = try? host.link(named: vethName) else { throw fail("host veth \(vethName) is missing") }
    guard veth.masterIndex == bridge.index else { throw fail("\(vethName) is not attached to \(conf.bridge)") }
    let ctr = try NetlinkHandle(namespace: NetNS.open(path: env.netns))
    guard let link = try? ctr.link(named: env.ifname) else { throw fail("\(env.ifname) is missing in \(env.netns)") }
    guard link.isUp else { throw fail("\(env.ifname) is down") }
    let have = try ctr.addresses(link: env.ifname).map(\.prefix)
    let index = prev.interfaces.firstIndex { $0.name == env.ifname && $0.sandbox != nil }
    for ip in prev.ips where ip.interface == nil || ip.interface == index {
        let p = try prefix(ip.address)
        guard have.contains(p) else { throw fail("\(ip.address) is not on \(env.ifname)") }
    }
}

PluginMain.run(supportedVersions: CNIVersion.all, add: add, del: del, check: check)
