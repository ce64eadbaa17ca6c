public import NetAddress
public import NetlinkModel

/// How pod traffic crosses between nodes.
public enum OverlayBackend: Hashable, Sendable {
    /// Kernel VXLAN: a VTEP device, and per remote node a route, a permanent neighbour and an
    /// FDB entry. With `directRouting`, nodes on the same underlay subnet get a plain route.
    case vxlan(vni: UInt32, port: UInt16, directRouting: Bool)
    /// A plain route to each node's subnet via the node's IP (needs L2 adjacency).
    case hostGW
    /// flanneld itself encapsulates, over UDP `port`, through a TUN device.
    case udp(port: UInt16)

    /// The backend-type annotation's value (flannel's names).
    public var typeName: String {
        switch self {
        case .vxlan: "vxlan"
        case .hostGW: "host-gw"
        case .udp: "udp"
        }
    }

    /// The overlay device's name: flannel.<VNI> for VXLAN, flannel0 for UDP, none for host-gw.
    public var deviceName: String? {
        switch self {
        case .vxlan(let vni, _, _): "flannel.\(vni)"
        case .hostGW: nil
        case .udp: "flannel0"
        }
    }

    /// Bytes of encapsulation the pod MTU gives up: outer IPv4 (20) + UDP (8), plus for VXLAN
    /// its header (8) and the inner Ethernet header (14).
    public var overhead: UInt32 {
        switch self {
        case .vxlan: 50
        case .hostGW: 0
        case .udp: 28
        }
    }
}

/// This node, as the compiler needs it.
public struct LocalNode: Hashable, Sendable {
    public var name: String
    /// The underlay interface and its address with prefix (host-gw and direct routing need
    /// remote nodes inside that prefix).
    public var interface: String
    public var address: IPPrefix
    public var podCIDR: IPPrefix

    public init(name: String, interface: String, address: IPPrefix, podCIDR: IPPrefix) {
        self.name = name
        self.interface = interface
        self.address = address
        self.podCIDR = podCIDR
    }
}

/// The kernel entries that lead to one remote node: a route, and for VXLAN the permanent
/// neighbour and FDB entry the route relies on.
public struct NodeEntries: Hashable, Sendable {
    public var route: Route
    public var neighbour: Neighbour?
    public var fdb: FDBEntry?

    public init(route: Route, neighbour: Neighbour? = nil, fdb: FDBEntry? = nil) {
        self.route = route
        self.neighbour = neighbour
        self.fdb = fdb
    }
}

/// What the kernel must hold for the remote nodes: the desired state the applier converges
/// to, kept per node so that an update is compared node by node.
public struct OverlayState: Hashable, Sendable {
    /// Entries by remote node name.
    public var nodes: [String: NodeEntries] = [:]
    /// UDP backend: where packets for each remote subnet go (node public IPs).
    public var peers: [IPPrefix: IPv4Address] = [:]

    public init() {}

    public var routes: Set<Route> { Set(nodes.values.map(\.route)) }
    public var neighbours: Set<Neighbour> { Set(nodes.values.compactMap(\.neighbour)) }
    public var fdb: Set<FDBEntry> { Set(nodes.values.compactMap(\.fdb)) }
}

/// A remote node left out of the overlay, and why (logged, so an operator sees it).
public struct SkippedNode: Hashable, Sendable, CustomStringConvertible {
    public var node: String
    public var reason: String
    public var description: String { "node \(node): \(reason)" }
}

public enum OverlayCompiler {
    /// The protocol number of every route the overlay installs (`ip route` prints `proto 77`),
    /// so the applier finds its own routes and leaves everyone else's alone.
    public static let routeProtocol = RouteProtocol(rawValue: 77)

    /// The address of a node's VTEP (flannel's choice): the network address of its subnet.
    public static func vtepAddress(of podCIDR: IPPrefix) -> IPAddress { podCIDR.network.address }

    /// The desired state for `local`, given every Node (this one included, ignored). Pure.
    ///
    /// Nodes whose subnets overlap an earlier one's are left out; "earlier" is by name, so the
    /// outcome does not depend on the order the Nodes come in (they are sorted only when an
    /// overlap shows up: sorting a thousand names costs more than the rest of the work).
    public static func desiredState(local: LocalNode, nodes: [OverlayNode],
                                    backend: OverlayBackend) -> (state: OverlayState, skipped: [SkippedNode]) {
        if let result = compile(local, nodes, backend, stopAtOverlap: true) { return result }
        return compile(local, nodes.sorted { $0.name < $1.name }, backend, stopAtOverlap: false)!
    }

    /// One pass in the given order; nil when `stopAtOverlap` and two subnets overlap.
    private static func compile(_ local: LocalNode, _ nodes: [OverlayNode], _ backend: OverlayBackend,
                                stopAtOverlap: Bool) -> (state: OverlayState, skipped: [SkippedNode])? {
        var state = OverlayState()
        state.nodes.reserveCapacity(nodes.count)
        var skipped: [SkippedNode] = []
        var claimed = ClaimedSubnets()
        claimed.claim(local.podCIDR, by: local.name)
        let device = backend.deviceName ?? ""
        for node in nodes where node.name != local.name {
            func skip(_ reason: String) { skipped.append(SkippedNode(node: node.name, reason: reason)) }
            guard let cidr = node.podCIDR else { skip("no IPv4 pod CIDR yet"); continue }
            guard let publicIP = node.publicIP else { skip("no public IP (annotation or InternalIP) yet"); continue }
            if let owner = claimed.owner(overlapping: cidr) {
                if stopAtOverlap { return nil }
                skip("pod CIDR \(cidr) overlaps node \(owner)'s"); continue
            }
            guard node.backendType == backend.typeName else {
                skip(node.backendType.map { "backend \($0), not \(backend.typeName)" } ?? "its flanneld has not published a backend yet")
                continue
            }
            let sameSubnet = local.address.contains(.v4(publicIP))
            switch backend {
            case .hostGW:
                guard sameSubnet else { skip("\(publicIP) is not on \(local.interface)'s subnet \(local.address.network): host-gw needs L2 adjacency"); continue }
                state.nodes[node.name] = NodeEntries(route: directRoute(cidr, via: publicIP, local))
            case .vxlan(_, _, let directRouting):
                if directRouting && sameSubnet {
                    state.nodes[node.name] = NodeEntries(route: directRoute(cidr, via: publicIP, local))
                } else {
                    guard let mac = node.vtepMAC else { skip("no VtepMAC in its backend-data"); continue }
                    let vtep = vtepAddress(of: cidr)
                    state.nodes[node.name] = NodeEntries(
                        route: Route(destination: cidr, gateway: vtep, device: device, onlink: true, proto: routeProtocol),
                        neighbour: Neighbour(ip: vtep, mac: mac, device: device),
                        fdb: FDBEntry(mac: mac, device: device, destination: .v4(publicIP)))
                }
            case .udp:
                state.peers[cidr] = publicIP
            }
            claimed.claim(cidr, by: node.name)
        }
        skipped.sort { $0.node < $1.node }
        return (state, skipped)
    }

    static func directRoute(_ cidr: IPPrefix, via ip: IPv4Address, _ local: LocalNode) -> Route {
        Route(destination: cidr, gateway: .v4(ip), device: local.interface, proto: routeProtocol)
    }
}

/// The subnets handed to nodes so far, by prefix length, so that finding an overlap costs a
/// lookup per distinct length (in a cluster, usually one) instead of a scan of every node.
struct ClaimedSubnets {
    /// Owner by network address, per prefix length.
    var byLength: [Int: [IPAddress: String]] = [:]

    mutating func claim(_ cidr: IPPrefix, by owner: String) {
        byLength[cidr.length, default: [:]][cidr.network.address] = owner
    }

    func owner(overlapping cidr: IPPrefix) -> String? {
        for (length, owners) in byLength {
            if length <= cidr.length {
                // A claimed subnet as large or larger would contain this one's address.
                guard let wider = try? IPPrefix(address: cidr.address, length: length) else { continue }
                if let owner = owners[wider.network.address] { return owner }
            } else if let inside = owners.first(where: { cidr.contains($0.key) }) {
                // Smaller claimed subnets (mixed sizes, rare): any of them inside this one.
                return inside.value
            }
        }
        return nil
    }
}
