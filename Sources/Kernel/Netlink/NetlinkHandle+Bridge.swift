import CNetlink
import Glibc

/// Bridge settings beyond enslaving a link: per-port flags (`ip link set … type bridge_slave`),
/// the bridge's VLAN filtering and per-port VLANs (`bridge vlan add/del`).
///
/// libnl 3.7 has no writer for these, so the requests are built here from <linux/if_link.h>
/// and <linux/if_bridge.h>, the way iproute2 sends them.
extension NetlinkHandle {
    /// Sets flags of the bridge port `name` (it must be enslaved to a bridge). `hairpin` lets a
    /// frame go back out of the port it came in on (a pod reaching itself through a service);
    /// `isolated` ports cannot talk to each other, only to non-isolated ones.
    public func setBridgePort(named name: String, hairpin: Bool? = nil, isolated: Bool? = nil) throws(NetlinkError) {
        var words: [String] = []
        if let hairpin { words.append("hairpin \(hairpin ? "on" : "off")") }
        if let isolated { words.append("isolated \(isolated ? "on" : "off")") }
        let operation = "set link \(name) type bridge_slave " + words.joined(separator: " ")
        let message = try linkMessage(Int32(RTM_NEWLINK), index: try resolve(name, operation))
        try message.nest(Int32(IFLA_LINKINFO)) { () throws(NetlinkError) in
            try message.put(Int32(IFLA_INFO_SLAVE_KIND), "bridge")
            try message.nest(Int32(IFLA_INFO_SLAVE_DATA)) { () throws(NetlinkError) in
                if let hairpin { try message.put(Int32(IFLA_BRPORT_MODE), UInt8(hairpin ? 1 : 0)) }
                if let isolated { try message.put(Int32(IFLA_BRPORT_ISOLATED), UInt8(isolated ? 1 : 0)) }
            }
        }
        try perform(message, operation, link: name)
    }

    /// Turns VLAN filtering of the bridge `name` on or off. Kernels built without
    /// CONFIG_BRIDGE_VLAN_FILTERING answer EOPNOTSUPP (`NetlinkError.code == .unsupported`).
    public func setBridgeVLANFiltering(_ on: Bool, bridge name: String) throws(NetlinkError) {
        let operation = "set link \(name) type bridge vlan_filtering \(on ? 1 : 0)"
        let message = try linkMessage(Int32(RTM_NEWLINK), index: try resolve(name, operation))
        try message.nest(Int32(IFLA_LINKINFO)) { () throws(NetlinkError) in
            try message.put(Int32(IFLA_INFO_KIND), "bridge")
            try message.nest(Int32(IFLA_INFO_DATA)) { () throws(NetlinkError) in
                try message.put(Int32(IFLA_BR_VLAN_FILTERING), UInt8(on ? 1 : 0))
            }
        }
        try perform(message, operation, link: name)
    }

    /// `bridge vlan add vid VID dev LINK [pvid] [untagged]`: lets VLAN `vid` through the port.
    /// `pvid` makes untagged ingress frames belong to it; `untagged` strips the tag on egress.
    public func addBridgeVLAN(_ vid: UInt16, link name: String, pvid: Bool = false, untagged: Bool = false) throws(NetlinkError) {
        let operation = "bridge vlan add vid \(vid) dev \(name)" + (pvid ? " pvid" : "") + (untagged ? " untagged" : "")
        try bridgeVLANRequest(Int32(RTM_SETLINK), vid: vid, link: name,
                              flags: (pvid ? BRIDGE_VLAN_INFO_PVID : 0) | (untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0),
                              operation)
    }

    /// `bridge vlan del vid VID dev LINK`.
    public func deleteBridgeVLAN(_ vid: UInt16, link name: String) throws(NetlinkError) {
        try bridgeVLANRequest(Int32(RTM_DELLINK), vid: vid, link: name, flags: 0, "bridge vlan del vid \(vid) dev \(name)")
    }

    private func bridgeVLANRequest(_ type: Int32, vid: UInt16, link name: String, flags: Int32,
                                   _ operation: String) throws(NetlinkError) {
        guard (1...4094).contains(vid) else { throw .invalid("VLAN ID \(vid) is not in 1-4094", operation) }
        let message = try linkMessage(type, index: try resolve(name, operation), family: UInt8(AF_BRIDGE))
        // struct bridge_vlan_info { __u16 flags; __u16 vid; } in host byte order.
        let info = withUnsafeBytes(of: (UInt16(flags), vid)) { Array($0) }
        try message.nest(Int32(IFLA_AF_SPEC)) { () throws(NetlinkError) in
            try message.put(Int32(IFLA_BRIDGE_VLAN_INFO), info)
        }
        try perform(message, operation, link: name)
    }

    private func linkMessage(_ type: Int32, index: Int32, family: UInt8 = UInt8(AF_UNSPEC)) throws(NetlinkError) -> Message {
        var header = ifinfomsg()
        header.ifi_family = family
        header.ifi_index = index
        return try Message(type: type, header: header)
    }
}
