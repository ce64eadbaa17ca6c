import CNetlink
import NetAddress
import Glibc

/// Interface flags from <linux/if.h>, which Swift imports as an enum type.
let iffUp: UInt32 = 0x1
let iffPromisc: UInt32 = 0x100

extension Link {
    /// Reads an RTM_NEWLINK message through libnl's link parser; also returns the index of a
    /// VXLAN link's underlay device, which the caller turns into a name.
    static func parse(_ message: UnsafeMutablePointer<nlmsghdr>) -> (link: Link, underlay: Int32?)? {
        parseObject(message) { object in
            Link(libnl: object).map { ($0, $0.vxlan == nil ? nil : VXLANOptions.underlayIndex(object)) }
        }
    }

    init?(libnl link: OpaquePointer) {
        guard let name = string(rtnl_link_get_name(link)) else { return nil }
        let index = rtnl_link_get_ifindex(link)
        let master = rtnl_link_get_master(link)
        let parent = rtnl_link_get_link(link)
        self.init(index: index, name: name, kind: string(rtnl_link_get_type(link)), mtu: rtnl_link_get_mtu(link),
                  mac: MACAddress(nl: rtnl_link_get_addr(link)), isUp: rtnl_link_get_flags(link) & iffUp != 0,
                  isPromiscuous: rtnl_link_get_flags(link) & iffPromisc != 0,
                  operState: OperState(rawValue: rtnl_link_get_operstate(link)),
                  masterIndex: master > 0 ? master : nil, parentIndex: parent > 0 && parent != index ? parent : nil,
                  vxlan: rtnl_link_is_vxlan(link) != 0 ? VXLANOptions(libnl: link) : nil)
    }
}

extension VXLANOptions {
    /// Reads the VXLAN part of a parsed link. The underlay `device` is left nil here: only
    /// its index is known (see `NetlinkHandle.link(named:)`, which names it).
    init(libnl link: OpaquePointer) {
        var vni: UInt32 = 0, port: UInt32 = 0
        _ = rtnl_link_vxlan_get_id(link, &vni)
        _ = rtnl_link_vxlan_get_port(link, &port)
        self.init(vni: vni, port: UInt16(truncatingIfNeeded: port),
                  learning: rtnl_link_vxlan_get_learning(link) > 0)
        local = Self.address(link, rtnl_link_vxlan_get_local)
        remote = Self.address(link, rtnl_link_vxlan_get_group)
        let ttl = rtnl_link_vxlan_get_ttl(link)
        self.ttl = ttl > 0 ? UInt8(ttl) : nil
    }

    static func underlayIndex(_ link: OpaquePointer) -> Int32? {
        var index: UInt32 = 0
        guard rtnl_link_vxlan_get_link(link, &index) == 0, index > 0 else { return nil }
        return Int32(bitPattern: index)
    }

    private static func address(_ link: OpaquePointer,
                                _ get: (OpaquePointer?, UnsafeMutablePointer<OpaquePointer?>?) -> Int32) -> IPAddress? {
        var address: OpaquePointer?
        guard get(link, &address) == 0, let address else { return nil }
        defer { nl_addr_put(address) }
        let ip = IPAddress(nl: address)
        // An unset address reads back as all zeroes.
        return ip.map { $0.bytes.allSatisfy { $0 == 0 } } == true ? nil : ip
    }
}
