public import APIMachinery
public import JSON

/// A Kubernetes object type: a view over the object's JSON that names the fields a Netplane
/// daemon reads. The whole tree is kept, so an update writes back every field, known or not.
public protocol KubernetesObject: Sendable {
    static var resource: ResourceType { get }
    var json: JSONValue { get set }
    init(json: JSONValue)
}

extension KubernetesObject {
    public var name: String { json.name ?? "" }
    public var namespace: String? { json.namespace }
    public var uid: String { json.uid ?? "" }
    public var resourceVersion: String { json.resourceVersion ?? "" }
    public var labels: [String: String] { json.labels }
    public var annotations: [String: String] { json.annotations }
    public var deletionTimestamp: String? { json.deletionTimestamp }
    /// "namespace/name", or "name" for a cluster-scoped object: the informer cache's key.
    public var cacheKey: String { namespace.map { "\($0)/\(name)" } ?? name }

    /// A new object of this type with apiVersion, kind and metadata filled in.
    public init(name: String, namespace: String? = nil, labels: [String: String] = [:]) {
        var metadata: JSONValue = ["name": .string(name)]
        if Self.resource.namespaced, let namespace { metadata["namespace"] = .string(namespace) }
        if !labels.isEmpty { metadata["labels"] = .object(labels.mapValues(JSONValue.string)) }
        self.init(json: ["apiVersion": .string(Self.resource.apiVersion), "kind": .string(Self.resource.kind),
                         "metadata": metadata])
    }

    static func builtin(_ apiVersion: String, _ kind: String) -> ResourceType {
        guard let found = ResourceRegistry.builtin.resource(apiVersion: apiVersion, kind: kind) else {
            preconditionFailure("\(apiVersion) \(kind) is not in the built-in registry")
        }
        return found
    }
}

// MARK: - The types Netplane's daemons use

public struct Namespace: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "Namespace")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
    public var phase: String? { json[path: ["status", "phase"]]?.stringValue }
}

public struct ServiceAccount: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "ServiceAccount")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct ConfigMap: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "ConfigMap")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
    public var data: [String: String] {
        get { stringMap(json["data"]) }
        set { json["data"] = .object(newValue.mapValues(JSONValue.string)) }
    }
}

public struct Node: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "Node")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
    public var podCIDRs: [String] {
        json[path: ["spec", "podCIDRs"]]?.arrayValue?.compactMap(\.stringValue)
            ?? json[path: ["spec", "podCIDR"]]?.stringValue.map { [$0] } ?? []
    }
    /// status.addresses as (type, address) pairs: InternalIP, ExternalIP, Hostname.
    public var addresses: [(type: String, address: String)] {
        (json[path: ["status", "addresses"]]?.arrayValue ?? []).compactMap { entry in
            guard let type = entry["type"]?.stringValue, let address = entry["address"]?.stringValue else { return nil }
            return (type, address)
        }
    }
}

public struct Pod: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "Pod")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
    public var nodeName: String? { json[path: ["spec", "nodeName"]]?.stringValue }
    public var phase: String? { json[path: ["status", "phase"]]?.stringValue }
    public var podIPs: [String] {
        (json[path: ["status", "podIPs"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
    }
    public var hostNetwork: Bool { json[path: ["spec", "hostNetwork"]]?.boolValue ?? false }
}

public struct Service: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "Service")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
    public var type: String { json[path: ["spec", "type"]]?.stringValue ?? "ClusterIP" }
    public var clusterIPs: [String] { json[path: ["spec", "clusterIPs"]]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    public var selector: [String: String] { stringMap(json[path: ["spec", "selector"]]) }
}

public struct EndpointSlice: KubernetesObject {
    public static let resource: ResourceType = builtin("discovery.k8s.io/v1", "EndpointSlice")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
    /// The Service this slice belongs to (its kubernetes.io/service-name label).
    public var serviceName: String? { labels["kubernetes.io/service-name"] }
}

public struct NetworkPolicy: KubernetesObject {
    public static let resource: ResourceType = builtin("networking.k8s.io/v1", "NetworkPolicy")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct Ingress: KubernetesObject {
    public static let resource: ResourceType = builtin("networking.k8s.io/v1", "Ingress")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct Lease: KubernetesObject {
    public static let resource: ResourceType = builtin("coordination.k8s.io/v1", "Lease")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
    public var holderIdentity: String? { json[path: ["spec", "holderIdentity"]]?.stringValue }
}
