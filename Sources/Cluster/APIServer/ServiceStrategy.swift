import APIMachinery
import JSON
import NetAddress

/// Services hold ClusterIPs and node ports from the server's pools: claimed on create (and
/// when an update asks for node ports), freed on delete and when an update drops them; a
/// ClusterIP never changes once set.
struct ServiceStrategy: KindStrategy {
    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError) {
        let was = current[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        let now = next[path: ["spec", "clusterIP"]]?.stringValue ?? ""
        if now.isEmpty, !was.isEmpty, next[path: ["spec", "type"]]?.stringValue != "ExternalName" {
            next[path: ["spec", "clusterIP"]] = .string(was)
            next[path: ["spec", "clusterIPs"]] = current[path: ["spec", "clusterIPs"]]
        } else if now != was, !was.isEmpty {
            throw .invalid(resource, name: current.name ?? "", [.invalid("spec.clusterIPs[0]", now, "may not change once set")])
        }
        guard next[path: ["spec", "type"]]?.stringValue != "ExternalName", !was.isEmpty else { return }
        // The families a Service was made with stay: converting one between single- and
        // dual-stack is not done here, and is refused rather than ignored.
        for field in ["clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
            guard let old = current[path: ["spec", field]] else { continue }
            guard let new = next[path: ["spec", field]], !new.isNull else {
                next[path: ["spec", field]] = old
                continue
            }
            if new != old {
                throw .invalid(resource, name: current.name ?? "", [.invalid("spec.\(field)", new.stringValue ?? new.jsonString,
                    "may not change once set: this server does not convert a Service between single- and dual-stack (delete and recreate it)")])
            }
        }
    }

    /// The families a new Service gets (in order), its policy, and the addresses it asks
    /// for per family, by kube-apiserver's rules: ipFamilies, else the requested clusterIPs'
    /// families, else the cluster's primary family; PreferDualStack and RequireDualStack add
    /// the other family when the cluster has both.
    static func families(_ spec: JSONValue, allocator: ServiceAllocator, _ resource: ResourceType, _ name: String)
        throws(APIError) -> (v4: [Bool], policy: String, requested: [String?], headless: Bool) {
        var errors: [FieldError] = []
        let policy = spec["ipFamilyPolicy"]?.stringValue ?? "SingleStack"
        let policies = ["SingleStack", "PreferDualStack", "RequireDualStack"]
        if !policies.contains(policy) { errors.append(.notSupported("spec.ipFamilyPolicy", policy, policies)) }
        var families: [Bool] = []
        let names = spec["ipFamilies"]?.arrayValue ?? []
        if names.count > 2 { errors.append(.invalid("spec.ipFamilies", "\(names.count)", "may specify at most 2 IP families")) }
        for (i, family) in names.enumerated() {
            switch family.stringValue {
            case "IPv4", "IPv6":
                let v4 = family.stringValue == "IPv4"
                if families.contains(v4) { errors.append(.duplicate("spec.ipFamilies[\(i)]", family.stringValue ?? "")) }
                families.append(v4)
            default:
                errors.append(.notSupported("spec.ipFamilies[\(i)]", family.stringValue ?? family.jsonString, ["IPv4", "IPv6"]))
            }
        }
        var requested = spec["clusterIPs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let single = spec["clusterIP"]?.stringValue, !single.isEmpty {
            if requested.isEmpty { requested = [single] } else if requested[0] != single {
                errors.append(.invalid("spec.clusterIPs[0]", requested[0], "must match `clusterIP` (\(single))"))
            }
        }
        requested = requested.filter { !$0.isEmpty }
        let headless = requested.first == "None"
        var requestedFamilies: [Bool] = []
        if !headless {
            for (i, text) in requested.enumerated() {
                guard let ip = IPAddress(text) else {
                    errors.append(.invalid("spec.clusterIPs[\(i)]", text, "must be a valid IP address"))
                    continue
                }
                if requestedFamilies.contains(ip.isIPv4) {
                    errors.append(.invalid("spec.clusterIPs[\(i)]", text, "may not be of the same IP family as an earlier entry"))
                }
                requestedFamilies.append(ip.isIPv4)
            }
        }
        if families.isEmpty { families = requestedFamilies }
        for (i, v4) in requestedFamilies.enumerated() where i < families.count && families[i] != v4 {
            errors.append(.invalid("spec.clusterIPs[\(i)]", requested[i], "expected an \(families[i] ? "IPv4" : "IPv6") value as indicated by `ipFamilies[\(i)]`"))
        }
        if families.isEmpty { families = [allocator.serviceRange.address.isIPv4] }
        let dualStack = allocator.secondaryRange != nil
        if policy == "SingleStack", families.count > 1 {
            errors.append(.invalid("spec.ipFamilyPolicy", policy, "must be RequireDualStack or PreferDualStack when multiple IP families are specified"))
        }
        if policy == "RequireDualStack", !dualStack {
            errors.append(.invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services"))
        }
        if policy != "SingleStack", families.count == 1, dualStack { families.append(!families[0]) }
        for (i, v4) in families.enumerated() where allocator.range(v4: v4) == nil {
            errors.append(.invalid("spec.ipFamilies[\(i)]", v4 ? "IPv4" : "IPv6", "not configured on this cluster"))
        }
        guard errors.isEmpty else { throw .invalid(resource, name: name, errors) }
        return (families, policy, families.indices.map { headless || $0 >= requested.count ? nil : requested[$0] }, headless)
    }

    /// Fills in spec.clusterIP(s) and node ports on create (or when an update turns a
    /// ClusterIP Service into a NodePort one), claiming each in the store.
    func allocate(_ service: inout JSONValue, previous: JSONValue?, _ resource: ResourceType,
                  in server: APIServer) async throws(APIError) -> Allocations {
        var made = Allocations()
        let name = service.name ?? ""
        let owner = resource.key(namespace: service.namespace, name: name)
        var spec = service["spec"] ?? .emptyObject
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        do {
            if type == "ExternalName" {
                spec["clusterIP"] = nil
                spec["clusterIPs"] = nil
            } else if previous == nil {
                let plan = try Self.families(spec, allocator: server.allocator, resource, name)
                if plan.headless {
                    spec["clusterIP"] = "None"
                    spec["clusterIPs"] = ["None"]
                } else {
                    var ips: [JSONValue] = []
                    for (i, v4) in plan.v4.enumerated() {
                        let ip = try await server.allocator.allocateIP(plan.requested[i], v4: v4, for: owner, resource: resource, name: name,
                                                                       field: "spec.clusterIPs[\(i)]")
                        made.ips.append(ip)
                        ips.append(.string(ip))
                    }
                    spec["clusterIP"] = ips[0]
                    spec["clusterIPs"] = .array(ips)
                }
                spec["ipFamilies"] = .array(plan.v4.map { $0 ? "IPv4" : "IPv6" })
                spec["ipFamilyPolicy"] = .string(plan.policy)
            }
            let held = previous.map(ServiceAllocator.heldNodePorts) ?? []
            if type == "NodePort" || (type == "LoadBalancer" && spec["allocateLoadBalancerNodePorts"]?.boolValue != false) {
                var ports = spec["ports"]?.arrayValue ?? []
                var byNumber: [Int64: Int] = [:]   // a port number shared by TCP and UDP gets one node port
                for i in ports.indices {
                    let field = "spec.ports[\(i)].nodePort"
                    if let requested = ports[i]["nodePort"]?.intValue, requested != 0 {
                        if !held.contains(requested) && !made.ports.contains(requested) {
                            made.ports.append(try await server.allocator.allocateNodePort(requested, for: owner, resource: resource, name: name, field: field))
                        }
                    } else if let port = ports[i]["port"]?.int64Value, let shared = byNumber[port] {
                        ports[i]["nodePort"] = .int(Int64(shared))
                    } else {
                        let port = try await server.allocator.allocateNodePort(nil, for: owner, resource: resource, name: name, field: field)
                        made.ports.append(port)
                        ports[i]["nodePort"] = .int(Int64(port))
                    }
                    if let port = ports[i]["port"]?.int64Value, let node = ports[i]["nodePort"]?.intValue { byNumber[port] = node }
                }
                spec["ports"] = .array(ports)
            } else if type == "ClusterIP" || type == "ExternalName" {
                if var ports = spec["ports"]?.arrayValue {
                    for i in ports.indices { ports[i]["nodePort"] = nil }
                    spec["ports"] = .array(ports)
                }
            }
            if type == "LoadBalancer" || type == "NodePort", spec["externalTrafficPolicy"] == "Local",
               spec["healthCheckNodePort"] == nil, type == "LoadBalancer" {
                let port = try await server.allocator.allocateNodePort(nil, for: owner, resource: resource, name: name, field: "spec.healthCheckNodePort")
                made.ports.append(port)
                spec["healthCheckNodePort"] = .int(Int64(port))
            }
        } catch {
            await server.release(made)
            throw error
        }
        service["spec"] = spec
        return made
    }

    /// Frees the node ports an update dropped (a NodePort Service turned ClusterIP, say).
    func updated(from old: JSONValue, to new: JSONValue, in server: APIServer) async {
        for port in ServiceAllocator.heldNodePorts(old).subtracting(ServiceAllocator.heldNodePorts(new)) {
            await server.allocator.releaseNodePort(port)
        }
    }

    func deleted(_ object: JSONValue, in server: APIServer) async {
        for ip in ServiceAllocator.clusterIPs(object) { await server.allocator.releaseIP(ip) }
        for port in ServiceAllocator.heldNodePorts(object) { await server.allocator.releaseNodePort(port) }
    }
}
