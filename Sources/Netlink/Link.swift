public import NetAddress

/// A network interface as the kernel reports it (`ip -d link show`).
public struct Link: Hashable, Sendable, CustomStringConvertible {
    public var index: Int32
    public var name: String
    /// The driver kind from IFLA_INFO_KIND (`bridge`, `veth`, `vxlan`, `macvlan`, `ipip`…);
    /// nil for physical devices and loopback.
    public var kind: String?
    public var mtu: UInt32
    public var mac: MACAddress?
    /// Administratively up (IFF_UP), what `ip link set … up` changes.
    public var isUp: Bool
    /// IFF_PROMISC, what `ip link set … promisc on` changes.
    public var isPromiscuous: Bool
    /// Whether the link can pass packets (RFC 2863 state; a veth whose peer is down is
    /// `lowerLayerDown` even when `isUp`).
    public var operState: OperState
    /// The bridge (or bond) this link is enslaved to.
    public var masterIndex: Int32?
    /// IFLA_LINK: the peer of a veth, the parent of a macvlan, the underlay device of a tunnel.
    /// For a veth whose peer is in another namespace the index is in *that* namespace.
    public var parentIndex: Int32?
    /// The VXLAN settings, for `vxlan` links.
    public var vxlan: VXLANOptions?

    public var description: String {
        "\(index): \(name)\(kind.map { " (\($0))" } ?? "") mtu \(mtu) \(isUp ? "up" : "down") \(operState)"
    }
}

/// RFC 2863 operational state (IFLA_OPERSTATE), as `ip link` prints it.
public struct OperState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unknown = OperState(rawValue: 0)
    public static let notPresent = OperState(rawValue: 1)
    public static let down = OperState(rawValue: 2)
    public static let lowerLayerDown = OperState(rawValue: 3)
    public static let testing = OperState(rawValue: 4)
    public static let dormant = OperState(rawValue: 5)
    public static let up = OperState(rawValue: 6)

    public var description: String {
        ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"]
            .dropFirst(Int(rawValue)).first ?? "state \(rawValue)"
    }
}

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

/// VXLAN settings (`ip link add NAME type vxlan id VNI …`).
public struct VXLANOptions: Hashable, Sendable {
    /// The VXLAN network identifier (24 bits).
    public var vni: UInt32
    /// Source address of the outer packets.
    public var local: IPAddress?
    /// A multicast group or a single unicast remote. Leave nil when the FDB names the
    /// remotes (flannel's and Calico's way).
    public var remote: IPAddress?
    /// The UDP destination port. 4789 is IANA's; flannel and Linux's default use 8472.
    public var port: UInt16
    /// Learn remote MACs from received packets. Off when a controller programs the FDB.
    public var learning: Bool
    /// The underlay device, by name.
    public var device: String?
    public var ttl: UInt8?

    public init(vni: UInt32, local: IPAddress? = nil, remote: IPAddress? = nil, port: UInt16 = 4789,
                learning: Bool = true, device: String? = nil, ttl: UInt8? = nil) {
        self.vni = vni
        self.local = local
        self.remote = remote
        self.port = port
        self.learning = learning
        self.device = device
        self.ttl = ttl
    }
}

/// IPIP tunnel settings (`ip link add NAME type ipip local A remote B dev D`).
///
/// Loading the `ipip` module creates `tunl0` by itself, the catch-all device (no local, no
/// remote) that Calico routes through; adding a link of that name fails with `.exists`, so
/// configure the existing one with `setLink` instead.
public struct IPIPOptions: Hashable, Sendable {
    public var local: IPv4Address?
    public var remote: IPv4Address?
    public var device: String?
    public var ttl: UInt8?

    public init(local: IPv4Address? = nil, remote: IPv4Address? = nil, device: String? = nil, ttl: UInt8? = nil) {
        self.local = local
        self.remote = remote
        self.device = device
        self.ttl = ttl
    }
}

/// How MAC VLANs on one parent reach each other (see `ip-link(8)`).
public enum MACVLANMode: UInt32, Sendable {
    case `private` = 1
    case vepa = 2
    case bridge = 4
    case passthru = 8
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
