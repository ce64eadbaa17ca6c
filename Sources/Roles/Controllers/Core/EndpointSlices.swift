public import APITypes
public import JSON
import APIMachinery

/// What the EndpointSlice and Endpoints controllers write for a Service with a selector, as
/// kube-controller-manager's do: one endpoint per selected pod with an address (ready,
/// serving and terminating from the pod's Ready condition and deletion), target ports
/// resolved per pod (a named port may differ between pods; pods that agree share a slice),
/// one address type per slice (the Service's IP families), at most `maxPerSlice` endpoints a
/// slice, and a placeholder slice with no endpoints when nothing is selected.
public enum EndpointSlices {
    public static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    public static let managedBy = "endpointslice-controller.k8s.io"
    public static let serviceNameLabel = "kubernetes.io/service-name"
    public static let endpointsManagedByLabel = "endpoints.kubernetes.io/managed-by"
    public static let endpointsManagedBy = "endpoint-controller"

    /// The content of one slice, before it has a name.
    public struct Slice: Sendable, Equatable {
        public var addressType: String
        public var ports: [JSONValue]
        public var endpoints: [JSONValue]

        public init(addressType: String, ports: [JSONValue], endpoints: [JSONValue]) {
            self.addressType = addressType
            self.ports = ports
            self.endpoints = endpoints
        }
    }

    /// What to do to the API so the Service's slices are as desired.
    public enum Change: Sendable, Equatable {
        case create(JSONValue)
        case update(JSONValue)
        case delete(name: String)
    }

    /// One selected pod's endpoint, before it is split by address family.
    struct PodEndpoint {
        var pod: Pod
        var ports: [JSONValue]
        var ready: Bool
        var serving: Bool
        var terminating: Bool
    }

    /// The pods a Service selects that can be endpoints: same namespace, labels matching every
    /// selector entry, an address, not finished.
    public static func selected(_ service: Service, from pods: [Pod]) -> [Pod] {
        let selector = service.selector
        guard !selector.isEmpty else { return [] }
        return pods.filter { pod in
            pod.namespace == service.namespace && selector.allSatisfy { pod.labels[$0.key] == $0.value }
                && !pod.addresses.isEmpty && pod.phase != "Succeeded" && pod.phase != "Failed"
        }
    }

    /// The Service's slices over `pods` (already selected), `zones` giving each node's zone.
    public static func desired(_ service: Service, pods: [Pod], zones: [String: String], maxPerSlice: Int = 100) -> [Slice] {
        let publishNotReady = service.json[path: ["spec", "publishNotReadyAddresses"]]?.boolValue ?? false
        let families = service.addressTypes
        // Endpoints per group (address type and ports), each with its address for sorting.
        var groups: [String: (slice: Slice, entries: [(address: String, endpoint: JSONValue)])] = [:]
        // Without named target ports every pod serves the same ports: resolve them once.
        let named = (service.json[path: ["spec", "ports"]]?.arrayValue ?? []).contains { $0["targetPort"]?.stringValue.map { Int($0) == nil } ?? false }
        let shared = named ? nil : pods.first.map { resolvedPorts(service, $0) }
        for pod in pods {
            let ready = pod.isReady
            let terminating = pod.deletionTimestamp != nil
            let ports = shared ?? resolvedPorts(service, pod)
            for address in pod.addresses {
                let type = address.contains(":") ? "IPv6" : "IPv4"
                guard families.contains(type) else { continue }
                var endpoint: JSONValue = [
                    "addresses": [.string(address)],
                    "conditions": ["ready": .bool(publishNotReady || (ready && !terminating)),
                                   "serving": .bool(publishNotReady || ready), "terminating": .bool(terminating)],
                    "targetRef": ["kind": "Pod", "namespace": .string(pod.namespace ?? ""), "name": .string(pod.name),
                                  "uid": .string(pod.uid)],
                ]
                if let node = pod.nodeName, !node.isEmpty {
                    endpoint["nodeName"] = .string(node)
                    if let zone = zones[node] { endpoint["zone"] = .string(zone) }
                }
                let key = type + " " + JSONValue.array(ports).jsonString
                groups[key, default: (Slice(addressType: type, ports: ports, endpoints: []), [])].entries.append((address, endpoint))
            }
        }
        var slices: [Slice] = []
        for key in groups.keys.sorted() {
            let group = groups[key]!.slice
            let sorted = groups[key]!.entries.sorted { $0.address < $1.address }.map(\.endpoint)
            var start = 0
            while start < sorted.count {
                let chunk = Array(sorted[start..<min(start + maxPerSlice, sorted.count)])
                slices.append(Slice(addressType: group.addressType, ports: group.ports, endpoints: chunk))
                start += maxPerSlice
            }
        }
        if slices.isEmpty, let first = families.first {
            // Kubernetes keeps one empty slice, so clients see the Service has no endpoints.
            slices.append(Slice(addressType: first, ports: [], endpoints: []))
        }
        return slices
    }

    /// The Service's ports as this pod serves them: a named target port looked up among the
    /// pod's container ports (a port the pod lacks is left out), a number as given.
    static func resolvedPorts(_ service: Service, _ pod: Pod) -> [JSONValue] {
        var out: [JSONValue] = []
        for entry in service.json[path: ["spec", "ports"]]?.arrayValue ?? [] {
            let proto = entry["protocol"]?.stringValue ?? "TCP"
            var number: Int?
            switch entry["targetPort"] {
            case .int(let n)?: number = Int(n)
            case .string(let name)?:
                if let n = Int(name) { number = n; break }
                for container in pod.json[path: ["spec", "containers"]]?.arrayValue ?? [] {
                    for port in container["ports"]?.arrayValue ?? []
                    where port["name"]?.stringValue == name && (port["protocol"]?.stringValue ?? "TCP") == proto {
                        number = port["containerPort"]?.intValue
                    }
                }
            default: number = entry["port"]?.intValue
            }
            guard let number else { continue }
            var port: JSONValue = ["name": .string(entry["name"]?.stringValue ?? ""), "protocol": .string(proto),
                                   "port": .int(Int64(number))]
            if let app = entry["appProtocol"] { port["appProtocol"] = app }
            out.append(port)
        }
        return out.sorted { ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "") }
    }

    static func address(_ endpoint: JSONValue) -> String {
        endpoint["addresses"]?.arrayValue?.first?.stringValue ?? ""
    }

    /// The labels of the Service's slices: its own, the service name, the manager, and
    /// `service.kubernetes.io/headless` for a headless Service.
    static func labels(_ service: Service) -> JSONValue {
        var labels = service.labels
        labels[serviceNameLabel] = service.name
        labels[managedByLabel] = managedBy
        if service.json[path: ["spec", "clusterIP"]]?.stringValue == "None" { labels["service.kubernetes.io/headless"] = "" }
        return .object(labels.mapValues(JSONValue.string))
    }

    /// The changes that turn the Service's `existing` slices (the ones this controller owns)
    /// into `desired`: a slice with the same address type and ports is updated in place (the
    /// names stay), what is left over is created or deleted.
    public static func changes(_ service: Service, desired: [Slice], existing: [EndpointSlice]) -> [Change] {
        var unused = existing.sorted { $0.name < $1.name }
        var changes: [Change] = []
        let owner = OwnerReference(controlledBy: service).json
        for slice in desired {
            var body: JSONValue = [
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": ["namespace": .string(service.namespace ?? ""), "labels": labels(service),
                             "ownerReferences": [owner]],
                "addressType": .string(slice.addressType), "endpoints": .array(slice.endpoints), "ports": .array(slice.ports),
            ]
            if let i = unused.firstIndex(where: { $0.addressType == slice.addressType && portsOf($0) == slice.ports }) {
                let current = unused.remove(at: i)
                body[path: ["metadata", "name"]] = .string(current.name)
                body[path: ["metadata", "resourceVersion"]] = .string(current.resourceVersion)
                if !sameContent(current.json, body) { changes.append(.update(body)) }
            } else {
                body[path: ["metadata", "generateName"]] = .string(service.name + "-")
                changes.append(.create(body))
            }
        }
        changes += unused.map { .delete(name: $0.name) }
        return changes
    }

    static func portsOf(_ slice: EndpointSlice) -> [JSONValue] {
        (slice.json["ports"]?.arrayValue ?? []).sorted { ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "") }
    }

    static func sameContent(_ current: JSONValue, _ body: JSONValue) -> Bool {
        current["endpoints"] ?? .array([]) == body["endpoints"] && current[path: ["metadata", "labels"]] == body[path: ["metadata", "labels"]]
            && current[path: ["metadata", "ownerReferences"]] == body[path: ["metadata", "ownerReferences"]]
    }

    /// The legacy Endpoints object of the Service: a subset per port mapping, ready addresses
    /// and not-ready ones (terminating pods left out unless the Service publishes not-ready
    /// addresses), as the endpoints controller writes it.
    /// The most addresses an Endpoints object holds, and the annotation that says it held more.
    public static let maxEndpointsAddresses = 1000
    public static let overCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"

    public static func endpoints(_ service: Service, pods: [Pod]) -> JSONValue {
        let publishNotReady = service.json[path: ["spec", "publishNotReadyAddresses"]]?.boolValue ?? false
        var subsets: [String: (ports: [JSONValue], ready: [JSONValue], notReady: [JSONValue])] = [:]
        // Kubernetes keeps at most 1000 addresses in an Endpoints object (ready ones first) and
        // says so in an annotation: the slices carry the rest. Only what is kept is built.
        var room = maxEndpointsAddresses
        var truncated = false
        let candidates = pods.filter { publishNotReady || $0.deletionTimestamp == nil }.sorted { $0.name < $1.name }
        for wantReady in [true, false] {
            for pod in candidates where (publishNotReady || pod.isReady) == wantReady {
                let addresses = pod.addresses
                if addresses.isEmpty { continue }
                guard room >= addresses.count else {
                    truncated = true
                    continue
                }
                room -= addresses.count
                let ports = resolvedPorts(service, pod).map { port -> JSONValue in
                    var p = port
                    if p["name"] == "" { p["name"] = nil }
                    return p
                }
                let key = JSONValue.array(ports).jsonString
                for ip in addresses {
                    var address: JSONValue = ["ip": .string(ip),
                                              "targetRef": ["kind": "Pod", "namespace": .string(pod.namespace ?? ""),
                                                            "name": .string(pod.name), "uid": .string(pod.uid)]]
                    if let node = pod.nodeName, !node.isEmpty { address["nodeName"] = .string(node) }
                    if wantReady {
                        subsets[key, default: (ports, [], [])].ready.append(address)
                    } else {
                        subsets[key, default: (ports, [], [])].notReady.append(address)
                    }
                }
            }
        }
        var list: [JSONValue] = []
        for key in subsets.keys.sorted() {
            let s = subsets[key]!
            if s.ready.isEmpty && s.notReady.isEmpty { continue }
            var subset: JSONValue = ["ports": .array(s.ports)]
            if !s.ready.isEmpty { subset["addresses"] = .array(s.ready) }
            if !s.notReady.isEmpty { subset["notReadyAddresses"] = .array(s.notReady) }
            list.append(subset)
        }
        var labels = service.labels
        labels[endpointsManagedByLabel] = endpointsManagedBy
        var object: JSONValue = ["apiVersion": "v1", "kind": "Endpoints",
                                 "metadata": ["name": .string(service.name), "namespace": .string(service.namespace ?? ""),
                                              "labels": .object(labels.mapValues(JSONValue.string))]]
        if !list.isEmpty { object["subsets"] = .array(list) }
        if truncated { object[path: ["metadata", "annotations"]] = [overCapacityAnnotation: "truncated"] }
        return object
    }
}
