import JSON

// The fields of Services and EndpointSlices the service proxy reads, as typed views: the
// proxy's core builds its ports from these, never from paths into the JSON.

extension Service {
    /// One entry of spec.ports.
    public struct Port: Sendable, Hashable {
        public var name: String
        /// TCP, UDP or SCTP (TCP when absent).
        public var proto: String
        public var port: Int
        /// 0 when none is allocated.
        public var nodePort: Int
    }

    /// spec.clusterIPs, or spec.clusterIP for objects written before dual-stack (may hold "None").
    public var allClusterIPs: [String] {
        let listed = clusterIPs
        if !listed.isEmpty || json[path: ["spec", "clusterIPs"]] != nil { return listed }
        return json[path: ["spec", "clusterIP"]]?.stringValue.map { [$0] } ?? []
    }

    public var ports: [Port] {
        (json[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { entry in
            guard let port = entry["port"]?.intValue else { return nil }
            return Port(name: entry["name"]?.stringValue ?? "", proto: entry["protocol"]?.stringValue ?? "TCP", port: port,
                        nodePort: entry["nodePort"]?.intValue ?? 0)
        }
    }

    public var externalIPs: [String] { json[path: ["spec", "externalIPs"]]?.arrayValue?.compactMap(\.stringValue) ?? [] }

    /// status.loadBalancer.ingress[].ip.
    public var loadBalancerIngressIPs: [String] {
        (json[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
    }

    /// spec.sessionAffinity: None or ClientIP.
    public var sessionAffinity: String { json[path: ["spec", "sessionAffinity"]]?.stringValue ?? "None" }

    /// spec.sessionAffinityConfig.clientIP.timeoutSeconds (Kubernetes' default: 3 hours).
    public var sessionAffinityTimeoutSeconds: Int {
        json[path: ["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"]]?.intValue ?? 10800
    }

    /// spec.externalTrafficPolicy: Cluster or Local.
    public var externalTrafficPolicy: String { json[path: ["spec", "externalTrafficPolicy"]]?.stringValue ?? "Cluster" }

    /// spec.internalTrafficPolicy: Cluster or Local.
    public var internalTrafficPolicy: String { json[path: ["spec", "internalTrafficPolicy"]]?.stringValue ?? "Cluster" }
}

extension EndpointSlice {
    /// One entry of ports.
    public struct Port: Sendable, Hashable {
        public var name: String
        public var proto: String
        /// nil when the slice leaves it open (all ports).
        public var port: Int?
    }

    /// One entry of endpoints.
    public struct Endpoint: Sendable, Hashable {
        public var addresses: [String]
        /// conditions.ready (true when absent, as Kubernetes reads it).
        public var ready: Bool
        /// conditions.serving (nil when absent: then it follows ready).
        public var serving: Bool?
        public var terminating: Bool
        public var nodeName: String?
        public var zone: String?
    }

    /// IPv4, IPv6 or FQDN.
    public var addressType: String { json["addressType"]?.stringValue ?? "" }

    public var ports: [Port] {
        (json["ports"]?.arrayValue ?? []).map { entry in
            Port(name: entry["name"]?.stringValue ?? "", proto: entry["protocol"]?.stringValue ?? "TCP", port: entry["port"]?.intValue)
        }
    }

    public var endpoints: [Endpoint] {
        (json["endpoints"]?.arrayValue ?? []).map { entry in
            let conditions = entry["conditions"] ?? .emptyObject
            return Endpoint(addresses: entry["addresses"]?.arrayValue?.compactMap(\.stringValue) ?? [],
                            ready: conditions["ready"]?.boolValue ?? true, serving: conditions["serving"]?.boolValue,
                            terminating: conditions["terminating"]?.boolValue ?? false,
                            nodeName: entry["nodeName"]?.stringValue, zone: entry["zone"]?.stringValue)
        }
    }
}
