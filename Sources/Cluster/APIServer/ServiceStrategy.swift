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
                let requested = spec["clusterIP"]?.stringValue ?? spec["clusterIPs"]?.arrayValue?.first?.stringValue
                if requested == "None" {
                    spec["clusterIP"] = "None"
                    spec["clusterIPs"] = ["None"]
                } else {
                    let ip = try await server.allocator.allocateIP(requested?.isEmpty == true ? nil : requested, for: owner, resource: resource, name: name)
                    made.ips.append(ip)
                    spec["clusterIP"] = .string(ip)
                    spec["clusterIPs"] = [.string(ip)]
                }
                let v6 = spec["clusterIP"]?.stringValue.flatMap { IPAddress($0) }.map { !$0.isIPv4 } ?? false
                ObjectDefaults.setIfMissing(&spec, ["ipFamilies"], [v6 ? "IPv6" : "IPv4"])
                ObjectDefaults.setIfMissing(&spec, ["ipFamilyPolicy"], "SingleStack")
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
