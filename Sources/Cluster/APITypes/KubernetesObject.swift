public import APIMachinery
public import JSON

/// An object of the API as a view over its JSON: the metadata every object has. The whole
/// tree is kept, so an update writes back every field, known or not.
public protocol APIObject: Sendable {
    var json: JSONValue { get set }
    init(json: JSONValue)
}

/// A Kubernetes object type known when Netplane is built: a view that also names the fields
/// a Netplane daemon reads, and its resource.
public protocol KubernetesObject: APIObject {
    static var resource: ResourceType { get }
}

/// An object of a kind known only at run time (a custom resource): metadata only.
public struct CustomObject: APIObject {
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

extension APIObject {
    public var name: String { json.name ?? "" }
    public var namespace: String? { json.namespace }
    public var uid: String { json.uid ?? "" }
    public var resourceVersion: String { json.resourceVersion ?? "" }
    public var labels: [String: String] { json.labels }
    public var annotations: [String: String] { json.annotations }
    public var deletionTimestamp: String? { json.deletionTimestamp }
    /// "namespace/name", or "name" for a cluster-scoped object: the informer cache's key.
    public var cacheKey: String { namespace.map { "\($0)/\(name)" } ?? name }
}

extension KubernetesObject {
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

public struct CustomResourceDefinition: KubernetesObject {
    public static let resource: ResourceType = builtin("apiextensions.k8s.io/v1", "CustomResourceDefinition")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }

    public var group: String { json[path: ["spec", "group"]]?.stringValue ?? "" }
    public var kind: String { json[path: ["spec", "names", "kind"]]?.stringValue ?? "" }

    /// The resource its objects are read through: `apiVersion`'s version when it is served,
    /// else the storage version when it is, else the first served one (every served version
    /// shows the same objects). Nil until the definition is Established, and once it is being
    /// deleted.
    public func servedResource(apiVersion: String? = nil) -> ResourceType? {
        let served = CustomResourceDefinitions.resources(of: json).map(\.resource)
        return served.first { $0.apiVersion == apiVersion } ?? served.first { $0.version == $0.storageVersion } ?? served.first
    }
}

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
