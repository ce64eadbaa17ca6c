public import NetAddress

/// A route (`ip route`), used both to ask for one and to report what the kernel holds.
///
/// Values are comparable: a route read back from the kernel equals the `Route` it was added
/// from when the defaults line up (iproute2's defaults: protocol `boot`, table `main`, scope
/// `link` for a route without a gateway, `universe` with one), which is what a diffing
/// applier needs. Multipath routes are reported by their first next hop.
public struct Route: Hashable, Sendable, CustomStringConvertible {
    /// The destination with host bits cleared; `0.0.0.0/0` or `::/0` for a default route.
    public var destination: IPPrefix
    public var gateway: IPAddress?
    /// The output device by name.
    public var device: String?
    /// Use the gateway even though no address on `device` covers it (flannel host-gw,
    /// Calico's `169.254.1.1`).
    public var onlink: Bool
    public var scope: RouteScope
    /// The routing table; `Route.mainTable` (254) unless you use policy routing.
    public var table: UInt32
    /// The priority (RTA_PRIORITY). nil means none given: 0 for IPv4, 1024 for IPv6.
    public var metric: UInt32?
    public var proto: RouteProtocol
    /// The preferred source address (`src`).
    public var source: IPAddress?
    public var type: RouteType

    public static let mainTable: UInt32 = 254
    public static let localTable: UInt32 = 255

    /// A route to `destination` (host bits are cleared). Without an explicit `scope` a
    /// unicast route through a gateway gets `universe` and one straight out of a device gets
    /// `link`, as `ip route add` decides.
    public init(destination: IPPrefix, gateway: IPAddress? = nil, device: String? = nil,
                onlink: Bool = false, scope: RouteScope? = nil, table: UInt32 = Route.mainTable,
                metric: UInt32? = nil, proto: RouteProtocol = .boot, source: IPAddress? = nil,
                type: RouteType = .unicast) {
        self.destination = destination.network
        self.gateway = gateway
        self.device = device
        self.onlink = onlink
        self.table = table
        self.metric = metric
        self.proto = proto
        self.source = source
        self.type = type
        self.scope = scope ?? Self.defaultScope(type: type, hasGateway: gateway != nil)
    }

    /// The scope `ip route add` picks when none is given.
    static func defaultScope(type: RouteType, hasGateway: Bool) -> RouteScope {
        switch type {
        case .local, .nat: .host
        case .broadcast, .multicast, .anycast: .link
        case .unicast: hasGateway ? .universe : .link
        default: .universe
        }
    }

    /// In `ip route` words: `10.1.0.0/24 via 10.0.0.1 dev eth0 table 100 metric 10 onlink`.
    public var description: String {
        var words: [String] = []
        if type != .unicast { words.append("\(type)") }
        words.append(destination.length == 0 ? "default" : "\(destination)")
        if let gateway { words.append("via \(gateway)") }
        if let device { words.append("dev \(device)") }
        if table != Self.mainTable { words.append("table \(table)") }
        if proto != .boot { words.append("proto \(proto)") }
        if scope != Self.defaultScope(type: type, hasGateway: gateway != nil) { words.append("scope \(scope)") }
        if let metric { words.append("metric \(metric)") }
        if let source { words.append("src \(source)") }
        if onlink { words.append("onlink") }
        return words.joined(separator: " ")
    }
}

/// How far a route or address reaches (`rt_scope_t`).
public struct RouteScope: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let universe = RouteScope(rawValue: 0)
    public static let site = RouteScope(rawValue: 200)
    public static let link = RouteScope(rawValue: 253)
    public static let host = RouteScope(rawValue: 254)
    public static let nowhere = RouteScope(rawValue: 255)

    public var description: String {
        switch self {
        case .universe: "global"
        case .site: "site"
        case .link: "link"
        case .host: "host"
        case .nowhere: "nowhere"
        default: "\(rawValue)"
        }
    }
}

/// Who installed a route (`rtm_protocol`); daemons tag their routes to find them again.
public struct RouteProtocol: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unspecified = RouteProtocol(rawValue: 0)
    public static let redirect = RouteProtocol(rawValue: 1)
    /// Added by the kernel itself (prefix routes of addresses).
    public static let kernel = RouteProtocol(rawValue: 2)
    /// `ip route add`'s default.
    public static let boot = RouteProtocol(rawValue: 3)
    public static let `static` = RouteProtocol(rawValue: 4)
    public static let bird = RouteProtocol(rawValue: 12)
    public static let bgp = RouteProtocol(rawValue: 186)

    public var description: String {
        switch self {
        case .kernel: "kernel"
        case .boot: "boot"
        case .static: "static"
        case .redirect: "redirect"
        case .bird: "bird"
        case .bgp: "bgp"
        default: "\(rawValue)"
        }
    }
}

/// The route type (`rtm_type`).
public struct RouteType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let unicast = RouteType(rawValue: 1)
    public static let local = RouteType(rawValue: 2)
    public static let broadcast = RouteType(rawValue: 3)
    public static let anycast = RouteType(rawValue: 4)
    public static let multicast = RouteType(rawValue: 5)
    public static let blackhole = RouteType(rawValue: 6)
    public static let unreachable = RouteType(rawValue: 7)
    public static let prohibit = RouteType(rawValue: 8)
    public static let `throw` = RouteType(rawValue: 9)
    public static let nat = RouteType(rawValue: 10)

    public var description: String {
        let names = ["unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole",
                     "unreachable", "prohibit", "throw", "nat"]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "\(rawValue)"
    }
}
