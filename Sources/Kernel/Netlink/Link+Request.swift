import CNetlink
import NetAddress
import Glibc

extension NetlinkHandle {
    /// Builds the RTM_NEWLINK request for `spec`, resolving device names with `resolve`.
    ///
    /// libnl's link objects describe most kinds. VXLAN's IFLA_INFO_DATA is written here
    /// instead: libnl 3.7 sends IFLA_VXLAN_PORT as a 32-bit attribute where the kernel
    /// expects 16 bits, which the kernel only tolerates with a warning in its log.
    func linkRequest(_ spec: LinkSpec, operation: String,
                     resolve: (String) throws(NetlinkError) -> Int32) throws(NetlinkError) -> Message {
        let link: OpaquePointer?
        switch spec.kind {
        case .veth: link = rtnl_link_veth_alloc()
        case .ipip: link = rtnl_link_ipip_alloc()
        case .macvlan: link = rtnl_link_macvlan_alloc()
        case .bridge, .dummy, .vxlan: link = rtnl_link_alloc()
        }
        guard let link else { throw .system(ENOMEM, operation) }
        defer { rtnl_link_put(link) }

        rtnl_link_set_name(link, spec.name)
        if let mtu = spec.mtu { rtnl_link_set_mtu(link, mtu) }
        if let mac = spec.mac { try NLAddress(mac).apply { rtnl_link_set_addr(link, $0) } }
        if let master = spec.master { rtnl_link_set_master(link, try resolve(master)) }
        if spec.up { rtnl_link_set_flags(link, iffUp) }

        switch spec.kind {
        case .bridge, .dummy:
            let status = rtnl_link_set_type(link, spec.kind.name)
            if status < 0 { throw .libnl(status, operation) }
        case .veth(let peerName, let namespace):
            guard let peer = rtnl_link_veth_get_peer(link) else { throw .system(ENOMEM, operation) }
            defer { rtnl_link_put(peer) }
            rtnl_link_set_name(peer, peerName)
            // Both ends carry the same MTU: a smaller one on one side only drops large frames.
            if let mtu = spec.mtu { rtnl_link_set_mtu(peer, mtu) }
            if let namespace { rtnl_link_set_ns_fd(peer, namespace.fd) }
        case .ipip(let options):
            if let local = options.local { _ = rtnl_link_ipip_set_local(link, local.value.bigEndian) }
            if let remote = options.remote { _ = rtnl_link_ipip_set_remote(link, remote.value.bigEndian) }
            if let device = options.device { _ = rtnl_link_ipip_set_link(link, UInt32(bitPattern: try resolve(device))) }
            if let ttl = options.ttl { _ = rtnl_link_ipip_set_ttl(link, ttl) }
        case .macvlan(let parent, let mode):
            rtnl_link_set_link(link, try resolve(parent))
            _ = rtnl_link_macvlan_set_mode(link, mode.rawValue)
        case .vxlan:
            break
        }

        let message = try Message.build(operation) {
            rtnl_link_build_add_request(link, NLM_F_CREATE | NLM_F_EXCL, $0)
        }
        if case .vxlan(let options) = spec.kind {
            try message.nest(Int32(IFLA_LINKINFO)) { () throws(NetlinkError) in
                try message.put(Int32(IFLA_INFO_KIND), "vxlan")
                try message.nest(Int32(IFLA_INFO_DATA)) { () throws(NetlinkError) in
                    try options.write(to: message, resolve: resolve, operation)
                }
            }
        }
        return message
    }
}

extension VXLANOptions {
    /// Writes IFLA_VXLAN_* attributes, as `ip link add … type vxlan` does.
    func write(to message: borrowing Message, resolve: (String) throws(NetlinkError) -> Int32,
               _ operation: String) throws(NetlinkError) {
        guard vni < 1 << 24 else { throw .invalid("VNI \(vni) does not fit in 24 bits", operation) }
        try message.put(Int32(IFLA_VXLAN_ID), vni)
        if let local {
            try message.put(Int32(local.isIPv4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6), local.bytes)
        }
        if let remote {
            try message.put(Int32(remote.isIPv4 ? IFLA_VXLAN_GROUP : IFLA_VXLAN_GROUP6), remote.bytes)
        }
        if let device { try message.put(Int32(IFLA_VXLAN_LINK), UInt32(bitPattern: try resolve(device))) }
        if let ttl { try message.put(Int32(IFLA_VXLAN_TTL), ttl) }
        try message.put(Int32(IFLA_VXLAN_LEARNING), UInt8(learning ? 1 : 0))
        try message.put(Int32(IFLA_VXLAN_PORT), port.bigEndian)
    }
}
