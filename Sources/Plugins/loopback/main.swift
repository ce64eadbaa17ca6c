// CNI loopback plugin: brings the loopback interface of the container's namespace up (ADD)
// or down (DEL), like the reference plugin of containernetworking/plugins.
import CNI
import Glibc
import Netlink
import NetAddress

/// Opens a netlink handle inside the namespace at `path`.
func handle(_ path: String) throws -> NetlinkHandle {
    try NetlinkHandle(namespace: NetNS.open(path: path))
}

/// The loopback addresses of `ifname`, checked to be loopback (as the reference does).
func loopbackAddresses(_ nl: NetlinkHandle, ifname: String) throws -> (v4: IPPrefix?, v6: IPPrefix?) {
    let addresses = try nl.addresses(link: ifname).map(\.prefix)
    for p in addresses {
        let isLoopback: Bool = switch p.address {
        case .v4(let a): a.value >> 24 == 127
        case .v6(let a): a.high == 0 && a.low == 1
        }
        guard isLoopback else {
            throw CNIError(code: .generic, msg: "\(p) is not a loopback address on \(ifname)")
        }
    }
    return (addresses.first { $0.address.isIPv4 }, addresses.first { !$0.address.isIPv4 })
}

PluginMain.run(
    supportedVersions: CNIVersion.all,
    add: { request in
        let nl = try handle(request.env.netns)
        try nl.setLink(named: request.env.ifname, .up)
        let (v4, v6) = try loopbackAddresses(nl, ifname: request.env.ifname)
        // A loopback chained after other plugins passes their result through.
        if let prev = try request.config.decodedPrevResult() { return prev }
        var result = CNIResult(cniVersion: request.config.cniVersion,
                               interfaces: [.init(name: request.env.ifname, mac: "00:00:00:00:00:00",
                                                  sandbox: request.env.netns)])
        for p in [v4, v6].compactMap({ $0 }) {
            result.ips.append(.init(address: p.description, interface: 0))
        }
        return result
    },
    del: { request in
        // Idempotent: nothing to do without a namespace, or when it is already gone.
        let path = request.env.netns
        guard !path.isEmpty, access(path, F_OK) == 0 else { return }
        let nl: NetlinkHandle
        do { nl = try handle(path) } catch {
            if access(path, F_OK) != 0 { return }
            throw error
        }
        try nl.setLink(named: request.env.ifname, .down)
    },
    check: { request in
        let nl = try handle(request.env.netns)
        guard try nl.link(named: request.env.ifname).isUp else {
            throw CNIError(code: .generic, msg: "loopback interface is down")
        }
        _ = try loopbackAddresses(nl, ifname: request.env.ifname)
    })
