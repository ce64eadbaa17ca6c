public import IPVSModel
public import NetAddress

/// IPVS mode's settings.
public struct IPVSOptions: Sendable, Hashable {
    /// rr, wrr, lc, wlc, sh, dh, sed or nq: one scheduler for every virtual server.
    public var scheduler: String
    public var clusterCIDRs: [IPPrefix]
    public var masqueradeAll: Bool
    /// Where node ports answer (one virtual server per address and node port).
    public var nodePortAddresses: [IPAddress]
    /// The dummy device the service addresses are bound to.
    public var device: String
    public var tableName: String

    public static let schedulers: Set<String> = ["rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq"]

    public init(scheduler: String = "rr", clusterCIDRs: [IPPrefix] = [], masqueradeAll: Bool = false,
                nodePortAddresses: [IPAddress] = [], device: String = "netplane-ipvs0", tableName: String = "netplane-ipvs") {
        self.scheduler = scheduler
        self.clusterCIDRs = clusterCIDRs
        self.masqueradeAll = masqueradeAll
        self.nodePortAddresses = nodePortAddresses
        self.device = device
        self.tableName = tableName
    }
}

/// A frontend (address, protocol, port) as the nftables sets key it.
public struct Frontend: Hashable, Sendable, Comparable {
    public var address: IPAddress
    public var proto: ServiceProtocol
    public var port: UInt16

    public static func < (a: Self, b: Self) -> Bool { (a.address, a.proto, a.port) < (b.address, b.proto, b.port) }
}

/// What one service port needs in IPVS mode. The kernel state is the union of these over
/// all ports; the applier keeps use counts, so an address two ports share stays bound.
public struct IPVSPortState: Hashable, Sendable {
    /// Virtual servers and their real servers.
    public var services: [VirtualServer.Key: ServiceEntry] = [:]
    /// Service addresses bound to the dummy device (ClusterIPs, external and LB IPs).
    public var addresses: Set<IPAddress> = []
    /// Frontends masqueraded when the client is outside the cluster CIDRs (ClusterIPs).
    public var clusterFrontends: Set<Frontend> = []
    /// Frontends always masqueraded (node ports, external and LB IPs under policy Cluster).
    public var externalFrontends: Set<Frontend> = []
    /// Endpoints (address, port) that reach themselves through the service: masqueraded so
    /// the reply comes back through the node.
    public var hairpins: Set<Frontend> = []

    public struct ServiceEntry: Hashable, Sendable {
        public var service: VirtualServer
        public var destinations: Set<RealServer>

        public init(service: VirtualServer, destinations: Set<RealServer>) {
            self.service = service
            self.destinations = destinations
        }
    }
}

public enum IPVSCompiler {
    /// The IPVS state of one service port. Pure.
    public static func compile(_ port: ServicePort, _ options: IPVSOptions) -> IPVSPortState {
        var state = IPVSPortState()
        let proto = IPVSProtocol(rawValue: UInt16(port.proto.number)) ?? .tcp
        func add(_ address: IPAddress, _ portNumber: UInt16, _ endpoints: [ProxyEndpoint]) {
            let service = VirtualServer(address: address, port: portNumber, proto: proto, scheduler: options.scheduler,
                                        persistenceTimeout: port.affinitySeconds)
            let destinations = endpoints.filter { $0.address.isIPv4 == address.isIPv4 }
                .map { RealServer(address: $0.address, port: $0.port, weight: 1) }
            state.services[service.key] = .init(service: service, destinations: Set(destinations))
        }
        let cluster = port.clusterEndpoints, external = port.externalEndpoints
        for ip in port.clusterIPs {
            add(ip, port.port, cluster)
            state.addresses.insert(ip)
            state.clusterFrontends.insert(Frontend(address: ip, proto: port.proto, port: port.port))
        }
        for ip in port.externalIPs + port.loadBalancerIPs {
            add(ip, port.port, external)
            state.addresses.insert(ip)
            // Policy Local keeps the client's address (and serves only from local endpoints).
            if !port.externalTrafficLocal { state.externalFrontends.insert(Frontend(address: ip, proto: port.proto, port: port.port)) }
        }
        if let nodePort = port.nodePort {
            for ip in options.nodePortAddresses {
                add(ip, nodePort, external)
                if !port.externalTrafficLocal { state.externalFrontends.insert(Frontend(address: ip, proto: port.proto, port: nodePort)) }
            }
        }
        for endpoint in port.endpoints {
            state.hairpins.insert(Frontend(address: endpoint.address, proto: port.proto, port: endpoint.port))
        }
        return state
    }
}
