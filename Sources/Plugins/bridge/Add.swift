import CNI
import Glibc
import Netlink
import NetAddress
import NFTables

func prefix(_ text: String) throws(CNIError) -> IPPrefix {
    do { return try IPPrefix(text) } catch {
        throw CNIError(code: .decodingFailure, msg: "bridge: invalid address \"\(text)\"")
    }
}

/// What an ADD has changed so far, so a failure can undo exactly that.
struct Undo {
    var createdBridge = false
    var createdVeth = false
    var addedRules = false
    /// The IPAM ADD, started early; it is waited for before its DEL (none if it never started).
    var ipam: DelegatedPlugin?

    func run(_ request: CNIRequest, _ conf: BridgeConfig, host: NetlinkHandle, vethName: String, tag: AttachmentTag) {
        // Deleting one end of the veth removes both.
        if createdVeth { try? host.deleteLink(named: vethName) }
        if addedRules, let nft = try? NFTSocket() { try? removeTaggedRules(of: tag, using: nft) }
        if let ipam, let type = conf.ipamType, ipam.started {
            _ = try? IPAMDelegate.exec(plugin: type, config: request.stdin, env: ["CNI_COMMAND": "DEL"])
        }
        // The bridge is shared by every pod of the node: remove it only if this ADD made it
        // and no other pod has been attached meanwhile.
        if createdBridge, let bridge = try? host.link(named: conf.bridge),
           let links = try? host.links(), !links.contains(where: { $0.masterIndex == bridge.index }) {
            try? host.deleteLink(named: conf.bridge)
        }
    }
}

func add(_ request: CNIRequest) throws -> CNIResult {
    let conf = try BridgeConfig(request.config, cniArgs: request.env)
    let env = request.env
    // Open the container's namespace first: a bad CNI_NETNS must fail before anything is made.
    let containerNS: NetNS
    do { containerNS = try NetNS.open(path: env.netns) } catch {
        throw CNIError(code: .generic, msg: "bridge: failed to open netns \"\(env.netns)\": \(error)")
    }
    let host = try NetlinkHandle()
    let ctr = try NetlinkHandle(namespace: containerNS)
    if (try? ctr.link(named: env.ifname)) != nil {
        throw CNIError(code: .generic, msg: "bridge: container interface \(env.ifname) already exists in \(env.netns)")
    }
    let vethName = hostVethName(containerID: env.containerID, ifname: env.ifname)
    let tag = AttachmentTag(network: request.config.name, containerID: env.containerID, ifname: env.ifname)
    var undo = Undo()
    // IPAM runs in its own process while the links are set up here: the allocation does not
    // depend on them, and the two together are most of an ADD's time.
    if let ipam = conf.ipamType { undo.ipam = try IPAMDelegate.start(plugin: ipam, config: request.stdin) }
    do {
        let bridge = try ensureBridge(host, conf, created: &undo.createdBridge)
        try setupVeth(host: host, ctr: ctr, containerNS: containerNS, conf: conf, env: env,
                      vethName: vethName, created: &undo.createdVeth)
        let containerMAC = try ctr.link(named: env.ifname).mac
        if conf.macSpoofCheck, let containerMAC {
            undo.addedRules = true
            try SpoofCheck.add(hostInterface: vethName, mac: containerMAC, tag: tag)
        }
        var result = CNIResult(cniVersion: request.config.cniVersion)
        if let ipam = undo.ipam, let type = conf.ipamType {
            try configureContainerSysctls(conf, containerNS: containerNS, ifname: env.ifname)
            guard let ipamResult = try ipam.result(), !ipamResult.ips.isEmpty else {
                throw CNIError(code: .generic, msg: "bridge: IPAM plugin \(type) returned no IP configuration")
            }
            result = try layer3(ipamResult, conf: conf, host: host, ctr: ctr, env: env, bridgeMAC: bridge.mac)
            if conf.ipMasq {
                undo.addedRules = true
                try Masq.add(try result.ips.map { ip throws(CNIError) in try prefix(ip.address) }, tag: tag)
            }
        } else if !conf.disableContainerInterface {
            try ctr.setLink(named: env.ifname, .up)
        }
        if !conf.disableContainerInterface { try waitForPort(host, vethName) }
        let hostMAC = try host.link(named: vethName).mac
        result.cniVersion = request.config.cniVersion
        // Read the bridge again: a bridge takes the lowest MAC of its ports, so attaching
        // this pod's veth may have changed it.
        result.interfaces = [.init(name: bridge.name, mac: try host.link(named: conf.bridge).mac.map { "\($0)" }),
                             .init(name: vethName, mac: hostMAC.map { "\($0)" }),
                             .init(name: env.ifname, mac: containerMAC.map { "\($0)" }, sandbox: env.netns)]
        if let dns = conf.dns { result.dns = dns }
        return result
    } catch {
        undo.run(request, conf, host: host, vethName: vethName, tag: tag)
        throw error
    }
}

/// Without duplicate address detection an IPv6 address is usable at once (the default, as in
/// the reference); arp_notify announces the new MAC. Both are written from one thread inside
/// the container's namespace; a missing key (IPv6 disabled) is not an error.
func configureContainerSysctls(_ conf: BridgeConfig, containerNS: NetNS, ifname: String) throws {
    var values = [("net/ipv4/conf/\(ifname)/arp_notify", "1")]
    if conf.enableDAD {
        values += [("net/ipv6/conf/\(ifname)/enhanced_dad", "1"), ("net/ipv6/conf/\(ifname)/accept_dad", "1")]
    } else {
        values.append(("net/ipv6/conf/\(ifname)/accept_dad", "0"))
    }
    try containerNS.run {
        for (key, value) in values { try? Sysctl.set(key, value) }
    }
}

/// Ensures the bridge exists, is up, and has the promiscuous and VLAN-filtering settings
/// the config asks for.
func ensureBridge(_ nl: NetlinkHandle, _ conf: BridgeConfig, created: inout Bool) throws -> Link {
    if (try? nl.link(named: conf.bridge)) == nil {
        // .exists: a concurrent ADD made it first.
        created = try NetlinkError.ignoring(.exists) {
            try nl.addLink(LinkSpec(name: conf.bridge, kind: .bridge, mtu: conf.mtu))
        }
    }
    var link = try nl.link(named: conf.bridge)
    guard link.kind == "bridge" else {
        throw CNIError(code: .generic, msg: "bridge: \(conf.bridge) already exists but is not a bridge")
    }
    if conf.usesVLANs {
        do {
            try nl.setBridgeVLANFiltering(true, bridge: conf.bridge)
        } catch {
            guard error.code == .unsupported else { throw error }
            let field = conf.vlan != 0 ? "\"vlan\": \(conf.vlan)" : "\"vlanTrunk\""
            throw CNIError(code: .unsupportedField,
                           msg: "bridge: unsupported field \(field): this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)",
                           details: error.description)
        }
    }
    if conf.promiscMode && !link.isPromiscuous { try nl.setLink(named: conf.bridge, .promiscuous(true)) }
    // The bridge is a gateway, not a host on the pod network: ignore router advertisements.
    try? Sysctl.set("net/ipv6/conf/\(conf.bridge)/accept_ra", "0")
    if !link.isUp { try nl.setLink(named: conf.bridge, .up) }
    link = try nl.link(named: conf.bridge)
    return link
}

/// Creates the veth pair (host end on the bridge, peer in the container as `ifname`) and
/// sets the port's MAC, hairpin, isolation and VLANs.
func setupVeth(host: NetlinkHandle, ctr: NetlinkHandle, containerNS: NetNS, conf: BridgeConfig,
               env: CNIEnvironment, vethName: String, created: inout Bool) throws {
    do {
        try host.addLink(LinkSpec(name: vethName, kind: .veth(peerName: env.ifname, peerNamespace: containerNS),
                                  mtu: conf.mtu, master: conf.bridge, up: true))
    } catch {
        guard error.code == .exists else { throw error }
        throw CNIError(code: .generic, msg: "bridge: host interface \(vethName) already exists: "
                       + "container \(env.containerID) interface \(env.ifname) was added before and not deleted")
    }
    created = true
    if let mac = conf.mac { try ctr.setLink(named: env.ifname, .mac(mac)) }
    if conf.hairpinMode || conf.portIsolation {
        try host.setBridgePort(named: vethName, hairpin: conf.hairpinMode ? true : nil,
                               isolated: conf.portIsolation ? true : nil)
    }
    guard conf.usesVLANs else { return }
    if !conf.preserveDefaultVlan {
        try NetlinkError.ignoring(.notFound) { try host.deleteBridgeVLAN(1, link: vethName) }
    }
    if conf.vlan != 0 { try host.addBridgeVLAN(UInt16(conf.vlan), link: vethName, pvid: true, untagged: true) }
    for vid in conf.vlanTrunk { try host.addBridgeVLAN(UInt16(vid), link: vethName) }
    if conf.vlan == 0 && !conf.vlanTrunk.isEmpty {
        try host.addBridgeVLAN(1, link: vethName, pvid: true, untagged: true)
    }
}

/// Configures the container interface from the IPAM result (addresses, default routes,
/// gateways) and the bridge as the gateway; returns the result to print.
func layer3(_ ipam: CNIResult, conf: BridgeConfig, host: NetlinkHandle, ctr: NetlinkHandle,
            env: CNIEnvironment, bridgeMAC: MACAddress?) throws -> CNIResult {
    var result = ipam
    var gateways: [IPPrefix] = []
    for i in result.ips.indices {
        let p = try prefix(result.ips[i].address)
        result.ips[i].interface = 2
        if result.ips[i].gateway == nil && conf.isGateway {
            result.ips[i].gateway = p.network.address.next.description
        }
        guard let gwText = result.ips[i].gateway, let gw = IPAddress(gwText) else { continue }
        if conf.isDefaultGateway {
            let dst = p.address.isIPv4 ? "0.0.0.0/0" : "::/0"
            if !result.routes.contains(where: { $0.dst == dst && $0.gw != nil }) {
                result.routes.append(.init(dst: dst, gw: gwText))
            }
        }
        if conf.isGateway, !gateways.contains(where: { $0.address == gw }) {
            gateways.append(try IPPrefix(address: gw, length: p.length))
        }
    }
    try ctr.setLink(named: env.ifname, .up)
    for ip in result.ips { try ctr.addAddress(try prefix(ip.address), link: env.ifname) }
    // A route without a gateway goes through the gateway of its family, as in the reference.
    let familyGateways = result.ips.compactMap { $0.gateway.flatMap { IPAddress($0) } }
    for r in result.routes {
        let dst = try prefix(r.dst)
        let gw = r.gw.flatMap { IPAddress($0) } ?? familyGateways.first { $0.isIPv4 == dst.address.isIPv4 }
        let route = Route(destination: dst, gateway: gw, device: env.ifname)
        do { try ctr.addRoute(route) } catch {
            throw CNIError(code: .generic, msg: "bridge: failed to add route \(r.dst)\(r.gw.map { " via \($0)" } ?? ""): \(error)")
        }
    }
    for gw in gateways {
        try ensureGatewayAddress(host, bridge: conf.bridge, gw, alongside: gateways, force: conf.forceAddress, pin: bridgeMAC)
    }
    for ipv6 in Set(gateways.map { !$0.address.isIPv4 }) {
        let key = ipv6 ? "net/ipv6/conf/all/forwarding" : "net/ipv4/ip_forward"
        if (try? Sysctl.get(key)) != "1" { try Sysctl.setIPForwarding(true, ipv6: ipv6) }
    }
    return result
}

/// Puts the gateway address on the bridge. As in the reference plugin, a bridge holds one
/// IPv4 gateway (and one IPv6 gateway per subnet): a different one already there is an error,
/// or is replaced with `forceAddress`. The other gateways of the same ADD (`alongside`, from
/// several ranges) are not conflicts.
///
/// With the address, the bridge's MAC is set to `pin` (its MAC before this pod's veth joined),
/// as the reference plugin does, or to its present one: a bridge whose MAC was never set takes the lowest MAC of its
/// ports, so every pod joining or leaving could change the gateway's MAC, leaving stale ARP
/// entries in every pod and failing CHECK of the pods attached before.
func ensureGatewayAddress(_ nl: NetlinkHandle, bridge: String, _ gw: IPPrefix, alongside: [IPPrefix],
                          force: Bool, pin: MACAddress?) throws {
    for existing in try nl.addresses(link: bridge, family: gw.address.isIPv4 ? .ipv4 : .ipv6) {
        let a = existing.prefix
        if a == gw { return }
        if alongside.contains(a) { continue }
        guard gw.address.isIPv4 || a.contains(gw.address) || gw.contains(a.address) else { continue }
        guard force else {
            throw CNIError(code: .generic, msg: "bridge: \"\(bridge)\" already has an IP address different from \(gw)")
        }
        try nl.deleteAddress(a, link: bridge)
    }
    try NetlinkError.ignoring(.exists) { try nl.addAddress(gw, link: bridge) }
    // A bridge made without ports has no MAC yet (all zeros): it then keeps the one its
    // first port gave it.
    func isSet(_ mac: MACAddress?) -> MACAddress? { mac.flatMap { $0.bytes.contains { $0 != 0 } ? $0 : nil } }
    var mac = isSet(pin)
    if mac == nil { mac = isSet(try nl.link(named: bridge).mac) }
    if let mac { try nl.setLink(named: bridge, .mac(mac)) }
}

/// Waits (up to about 2.5 s, as the reference plugin) for the host end of the veth to be
/// operationally up: a port that never comes up is an error, not a silent black hole.
func waitForPort(_ nl: NetlinkHandle, _ name: String) throws {
    for delay in [0, 5, 50, 500, 1000, 1000] {
        if delay > 0 { usleep(UInt32(delay * 1000)) }
        let state = try nl.link(named: name).operState
        if state == .up { return }
    }
    throw CNIError(code: .generic, msg: "bridge: port \(name) did not come up (state \(try nl.link(named: name).operState))")
}
