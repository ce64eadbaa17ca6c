public import APITypes
public import NetAddress

/// The transport protocols a Service port can name.
public enum ServiceProtocol: String, Sendable, Hashable, Comparable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP"

    /// The IP protocol number (`meta l4proto`).
    public var number: UInt8 {
        switch self { case .tcp: 6; case .udp: 17; case .sctp: 132 }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One backend of a service port, as an EndpointSlice lists it.
public struct ProxyEndpoint: Sendable, Hashable {
    public var address: IPAddress
    public var port: UInt16
    /// EndpointSlice conditions (absent `ready` counts as ready, absent `serving` as `ready`).
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool
    /// On this proxy's node (for the Local traffic policies).
    public var isLocal: Bool

    public init(address: IPAddress, port: UInt16, ready: Bool = true, serving: Bool? = nil,
                terminating: Bool = false, isLocal: Bool = false) {
        self.address = address
        self.port = port
        self.ready = ready
        self.serving = serving ?? ready
        self.terminating = terminating
        self.isLocal = isLocal
    }
}

/// One (Service, port) the proxy programs: where clients reach it and which endpoints serve
/// it. Headless and ExternalName services have none.
public struct ServicePort: Sendable, Hashable {
    public var namespace: String
    public var name: String
    /// The port's name in the Service ("" for a single unnamed port).
    public var portName: String
    public var proto: ServiceProtocol
    public var port: UInt16
    public var clusterIPs: [IPAddress]
    public var nodePort: UInt16?
    public var externalIPs: [IPAddress]
    public var loadBalancerIPs: [IPAddress]
    /// ClientIP session affinity: how long a client sticks to its endpoint.
    public var affinitySeconds: UInt32?
    public var externalTrafficLocal: Bool
    public var internalTrafficLocal: Bool
    public var endpoints: [ProxyEndpoint]

    public init(namespace: String, name: String, portName: String = "", proto: ServiceProtocol = .tcp, port: UInt16,
                clusterIPs: [IPAddress], nodePort: UInt16? = nil, externalIPs: [IPAddress] = [],
                loadBalancerIPs: [IPAddress] = [], affinitySeconds: UInt32? = nil, externalTrafficLocal: Bool = false,
                internalTrafficLocal: Bool = false, endpoints: [ProxyEndpoint] = []) {
        self.namespace = namespace
        self.name = name
        self.portName = portName
        self.proto = proto
        self.port = port
        self.clusterIPs = clusterIPs
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.loadBalancerIPs = loadBalancerIPs
        self.affinitySeconds = affinitySeconds
        self.externalTrafficLocal = externalTrafficLocal
        self.internalTrafficLocal = internalTrafficLocal
        self.endpoints = endpoints
    }

    /// "namespace/name:port/proto": how logs and chain names refer to it.
    public var id: String { "\(namespace)/\(name):\(portName.isEmpty ? String(port) : portName)/\(proto.rawValue.lowercased())" }
    /// The id as nftables names take it (`namespace/name/port/proto`): nft's syntax has no
    /// colons in a name, and a ruleset saved with `nft list ruleset` must load again with
    /// `nft -f`. Unique: none of the parts can hold a slash.
    public var nftName: String { "\(namespace)/\(name)/\(portName.isEmpty ? String(port) : portName)/\(proto.rawValue.lowercased())" }

    /// Whether anything is exposed outside the cluster network (a node port, external or
    /// load-balancer IPs), which takes the external traffic policy.
    public var hasExternalFrontends: Bool { nodePort != nil || !externalIPs.isEmpty || !loadBalancerIPs.isEmpty }

    /// Endpoints for traffic to the ClusterIP: local ones only under internalTrafficPolicy
    /// Local; ready ones, or when none is ready the serving terminating ones (so a rolling
    /// update does not drop connections while old pods drain).
    public var clusterEndpoints: [ProxyEndpoint] { Self.usable(endpoints, localOnly: internalTrafficLocal) }

    /// Endpoints for traffic from outside (node port, external/LB IPs): local ones only under
    /// externalTrafficPolicy Local.
    public var externalEndpoints: [ProxyEndpoint] { Self.usable(endpoints, localOnly: externalTrafficLocal) }

    static func usable(_ endpoints: [ProxyEndpoint], localOnly: Bool) -> [ProxyEndpoint] {
        let candidates = localOnly ? endpoints.filter(\.isLocal) : endpoints
        let ready = candidates.filter { $0.ready && !$0.terminating }
        if !ready.isEmpty { return ready }
        return candidates.filter { $0.serving && $0.terminating }
    }
}

/// Builds the proxy's view from API objects: every port of every Service with a ClusterIP,
/// with the endpoints of the EndpointSlices labelled for it.
public enum ServicePorts {
    public static func build(services: [Service], slices: [EndpointSlice], nodeName: String) -> [ServicePort] {
        // Slices by "namespace/service".
        var slicesByService: [String: [EndpointSlice]] = [:]
        for slice in slices {
            guard let service = slice.serviceName, let namespace = slice.namespace else { continue }
            slicesByService["\(namespace)/\(service)", default: []].append(slice)
        }
        var ports: [ServicePort] = []
        for service in services {
            guard let namespace = service.namespace, !service.name.isEmpty, service.type != "ExternalName" else { continue }
            let clusterIPs = addresses(service.allClusterIPs)
            if clusterIPs.isEmpty { continue }  // headless ("None") or not yet allocated
            let affinity = service.sessionAffinity == "ClientIP" ? UInt32(clamping: service.sessionAffinityTimeoutSeconds) : nil
            let balancers = service.type == "LoadBalancer" ? addresses(service.loadBalancerIngressIPs) : []
            let exposesNodePorts = service.type == "NodePort" || service.type == "LoadBalancer"
            let mySlices = slicesByService["\(namespace)/\(service.name)"] ?? []
            for entry in service.ports {
                guard let portNumber = UInt16(exactly: entry.port) else { continue }
                let proto = ServiceProtocol(rawValue: entry.proto) ?? .tcp
                let nodePort = exposesNodePorts ? UInt16(exactly: entry.nodePort) : nil
                ports.append(ServicePort(
                    namespace: namespace, name: service.name, portName: entry.name, proto: proto, port: portNumber,
                    clusterIPs: clusterIPs, nodePort: nodePort == 0 ? nil : nodePort,
                    externalIPs: addresses(service.externalIPs), loadBalancerIPs: balancers,
                    affinitySeconds: affinity,
                    externalTrafficLocal: service.externalTrafficPolicy == "Local",
                    internalTrafficLocal: service.internalTrafficPolicy == "Local",
                    endpoints: endpoints(mySlices, portName: entry.name, proto: proto, nodeName: nodeName)))
            }
        }
        return ports.sorted { ($0.id) < ($1.id) }
    }

    /// The endpoints serving the slice port named `portName` (and of `proto`), deduplicated
    /// (an address may appear in two slices while a controller moves it).
    static func endpoints(_ slices: [EndpointSlice], portName: String, proto: ServiceProtocol, nodeName: String) -> [ProxyEndpoint] {
        var seen = Set<String>()
        var out: [ProxyEndpoint] = []
        for slice in slices {
            guard let slicePort = slice.ports.first(where: { $0.name == portName && $0.proto == proto.rawValue }),
                  let port = slicePort.port.flatMap({ UInt16(exactly: $0) }) else { continue }
            for endpoint in slice.endpoints {
                // kube-proxy uses the first address of an endpoint (the others are the same pod).
                guard let text = endpoint.addresses.first, let address = IPAddress(text),
                      seen.insert("\(text):\(port)").inserted else { continue }
                out.append(ProxyEndpoint(address: address, port: port, ready: endpoint.ready, serving: endpoint.serving,
                                         terminating: endpoint.terminating, isLocal: endpoint.nodeName == nodeName))
            }
        }
        return out.sorted { ($0.address, $0.port) < ($1.address, $1.port) }
    }

    static func addresses(_ texts: [String]) -> [IPAddress] {
        texts.filter { $0 != "None" && !$0.isEmpty }.compactMap { IPAddress($0) }
    }
}
