public import Netlink
public import NetAddress
import Glibc

/// The underlay interface flanneld sends through: its name, IPv4 address and MTU.
public struct Underlay: Hashable, Sendable {
    public var interface: String
    public var address: IPPrefix
    public var mtu: UInt32

    public init(interface: String, address: IPPrefix, mtu: UInt32) {
        self.interface = interface
        self.address = address
        self.mtu = mtu
    }

    public var publicIP: IPv4Address {
        if case .v4(let a) = address.address { return a }
        return IPv4Address(0)
    }

    /// `name`'s first IPv4 address, or (name nil) the interface of the IPv4 default route.
    public static func find(_ name: String?, _ handle: NetlinkHandle) throws(OverlayError) -> Underlay {
        let interface: String
        if let name {
            interface = name
        } else {
            let routes: [Route]
            do throws(NetlinkError) { routes = try handle.routes(family: .ipv4) } catch {
                throw OverlayError("listing routes to find the default interface: \(error)")
            }
            guard let device = routes.first(where: { $0.destination.length == 0 })?.device else {
                throw OverlayError("no --iface given and no IPv4 default route to pick one from")
            }
            interface = device
        }
        let link: Link
        let addresses: [InterfaceAddress]
        do throws(NetlinkError) {
            link = try handle.link(named: interface)
            addresses = try handle.addresses(link: interface, family: .ipv4)
        } catch {
            throw OverlayError(error.code == .linkNotFound ? "interface \(interface): no such interface"
                                                           : "reading interface \(interface): \(error)")
        }
        guard let address = addresses.first?.prefix else {
            throw OverlayError("interface \(interface) has no IPv4 address to use as the public IP")
        }
        return Underlay(interface: interface, address: address, mtu: link.mtu)
    }
}

/// A configuration or setup failure flanneld reports and exits on.
public struct OverlayError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum OverlayDevice {
    /// Creates or adopts the VXLAN device for `backend` (flannel.<VNI>): no learning, the
    /// chosen port, the underlay's address as local, MTU = underlay − 50, the VTEP address
    /// (the subnet's network address) as a /32, up. A device that exists with the same VXLAN
    /// settings is kept as it is, MAC included, so a restart changes nothing the other nodes
    /// know; one with other settings is replaced. Returns its MAC.
    public static func ensureVXLAN(_ handle: NetlinkHandle, vni: UInt32, port: UInt16, underlay: Underlay,
                                   podCIDR: IPPrefix) throws -> MACAddress {
        let name = "flannel.\(vni)"
        let options = VXLANOptions(vni: vni, local: .v4(underlay.publicIP), port: port, learning: false,
                                   device: underlay.interface)
        let mtu = underlay.mtu - OverlayBackend.vxlan(vni: vni, port: port, directRouting: false).overhead
        if let existing = try? handle.link(named: name) {
            let same = existing.kind == "vxlan" && existing.vxlan.map {
                $0.vni == vni && $0.port == port && $0.local == options.local && !$0.learning && $0.device == underlay.interface
            } == true
            if !same { try handle.deleteLink(named: name) }
        }
        if (try? handle.link(named: name)) == nil {
            try handle.addLink(LinkSpec(name: name, kind: .vxlan(options), mtu: mtu))
        }
        try configure(handle, name, mtu: mtu, address: try IPPrefix(address: OverlayCompiler.vtepAddress(of: podCIDR), length: 32))
        guard let mac = try handle.link(named: name).mac else { throw OverlayError("VXLAN device \(name) has no MAC address") }
        return mac
    }

    /// Sets the MTU, makes `address` the device's only IPv4 address (kept when already
    /// there) and brings it up.
    static func configure(_ handle: NetlinkHandle, _ name: String, mtu: UInt32, address: IPPrefix) throws(NetlinkError) {
        let link = try handle.link(named: name)
        if link.mtu != mtu { try handle.setLink(named: name, .mtu(mtu)) }
        let present = try handle.addresses(link: name, family: .ipv4).map(\.prefix)
        for other in present where other != address { try handle.deleteAddress(other, link: name) }
        if !present.contains(address) { try handle.addAddress(address, link: name) }
        if !link.isUp { try handle.setLink(named: name, .up) }
    }

    /// Removes the overlay devices another backend left behind (a node switched from VXLAN
    /// to host-gw): every flannel.* VXLAN device and flannel0, except `keep`.
    public static func removeOthers(_ handle: NetlinkHandle, keep: String?) throws(NetlinkError) {
        for link in try handle.links() where link.name != keep
            && ((link.kind == "vxlan" && link.name.hasPrefix("flannel.")) || link.name == "flannel0") {
            try handle.deleteLink(named: link.name)
        }
    }
}
