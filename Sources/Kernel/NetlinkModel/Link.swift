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

    /// Every field; the binding module's parser fills them from the kernel's message.
    package init(index: Int32, name: String, kind: String?, mtu: UInt32, mac: MACAddress?, isUp: Bool, isPromiscuous: Bool,
                 operState: OperState, masterIndex: Int32?, parentIndex: Int32?, vxlan: VXLANOptions?) {
        self.index = index
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.mac = mac
        self.isUp = isUp
        self.isPromiscuous = isPromiscuous
        self.operState = operState
        self.masterIndex = masterIndex
        self.parentIndex = parentIndex
        self.vxlan = vxlan
    }

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
