public import NetAddress
public import NetNamespace
public import NetlinkModel

// Requests name namespaces by handle (NetNS), a kernel object: they live here, not in the model.

/// What to create with `NetlinkHandle.addLink`.
public struct LinkSpec: Sendable {
    public var name: String
    public var kind: LinkKind
    public var mtu: UInt32?
    public var mac: MACAddress?
    /// The bridge to enslave the new link to, by name.
    public var master: String?
    /// Bring the link up as it is created (for a veth, only this end).
    public var up: Bool

    public init(name: String, kind: LinkKind, mtu: UInt32? = nil, mac: MACAddress? = nil,
                master: String? = nil, up: Bool = false) {
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.mac = mac
        self.master = master
        self.up = up
    }
}

/// The kinds of virtual link Netplane creates.
public enum LinkKind: Sendable {
    /// A software bridge (`ip link add NAME type bridge`).
    case bridge
    /// A device that drops everything; handy as an anchor for addresses.
    case dummy
    /// A veth pair. With `peerNamespace` the peer is created directly in that namespace, so it
    /// never appears (nor collides by name) in this one.
    case veth(peerName: String, peerNamespace: NetNS? = nil)
    /// A VXLAN tunnel endpoint.
    case vxlan(VXLANOptions)
    /// An IPv4-in-IPv4 tunnel (kernel module `ipip`).
    case ipip(IPIPOptions)
    /// A MAC VLAN on top of `parent`.
    case macvlan(parent: String, mode: MACVLANMode = .bridge)

    /// The IFLA_INFO_KIND string.
    public var name: String {
        switch self {
        case .bridge: "bridge"
        case .dummy: "dummy"
        case .veth: "veth"
        case .vxlan: "vxlan"
        case .ipip: "ipip"
        case .macvlan: "macvlan"
        }
    }
}

/// One change to an existing link; several are applied in one request by `setLink`.
public enum LinkChange: Sendable {
    case up
    case down
    case mtu(UInt32)
    case mac(MACAddress)
    /// Enslave to the named bridge.
    case master(String)
    /// Release from its bridge.
    case noMaster
    case rename(String)
    /// Move the link into another namespace. Its addresses and routes are lost on the way.
    case namespace(NetNS)
    /// Receive every frame, not only those addressed to the link (IFF_PROMISC).
    case promiscuous(Bool)
}
