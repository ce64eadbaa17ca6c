public import APIMachinery
public import JSON

// The workload kinds the controllers read and write, and the ownership every object may carry.

/// One entry of metadata.ownerReferences.
public struct OwnerReference: Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    /// The managing controller (at most one reference has it).
    public var controller: Bool
    /// A foreground deletion of the owner waits for this dependent to go.
    public var blockOwnerDeletion: Bool

    /// The API group of `apiVersion` ("" for the core group's "v1").
    public var group: String { apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : "" }

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool = false,
                blockOwnerDeletion: Bool = false) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }

    /// A controller reference to `owner` (controller and blockOwnerDeletion set, as the
    /// Kubernetes controllers write them).
    public init<T: KubernetesObject>(controlledBy owner: T) {
        self.init(apiVersion: T.resource.apiVersion, kind: T.resource.kind, name: owner.name, uid: owner.uid,
                  controller: true, blockOwnerDeletion: true)
    }

    public var json: JSONValue {
        ["apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "uid": .string(uid),
         "controller": .bool(controller), "blockOwnerDeletion": .bool(blockOwnerDeletion)]
    }
}

extension APIObject {
    public var ownerReferences: [OwnerReference] {
        (json[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).compactMap { entry in
            guard let uid = entry["uid"]?.stringValue else { return nil }
            return OwnerReference(apiVersion: entry["apiVersion"]?.stringValue ?? "", kind: entry["kind"]?.stringValue ?? "",
                                  name: entry["name"]?.stringValue ?? "", uid: uid,
                                  controller: entry["controller"]?.boolValue ?? false,
                                  blockOwnerDeletion: entry["blockOwnerDeletion"]?.boolValue ?? false)
        }
    }

    /// The reference to the controller managing this object, if any.
    public var controllerReference: OwnerReference? { ownerReferences.first { $0.controller } }

    public var finalizers: [String] { json.finalizers }
}

/// A workload object with a pod template and a selector.
public protocol PodTemplateOwner: KubernetesObject {}

extension PodTemplateOwner {
    public var replicas: Int { json[path: ["spec", "replicas"]]?.intValue ?? 1 }
    public var selector: JSONValue { json[path: ["spec", "selector"]] ?? .emptyObject }
    public var template: JSONValue { json[path: ["spec", "template"]] ?? .emptyObject }
    public var generation: Int { json[path: ["metadata", "generation"]]?.intValue ?? 0 }
}

public struct ReplicaSet: PodTemplateOwner {
    public static let resource: ResourceType = builtin("apps/v1", "ReplicaSet")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct Deployment: PodTemplateOwner {
    public static let resource: ResourceType = builtin("apps/v1", "Deployment")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct DaemonSet: PodTemplateOwner {
    public static let resource: ResourceType = builtin("apps/v1", "DaemonSet")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct StatefulSet: PodTemplateOwner {
    public static let resource: ResourceType = builtin("apps/v1", "StatefulSet")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct ControllerRevision: KubernetesObject {
    public static let resource: ResourceType = builtin("apps/v1", "ControllerRevision")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct Job: PodTemplateOwner {
    public static let resource: ResourceType = builtin("batch/v1", "Job")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct CronJob: KubernetesObject {
    public static let resource: ResourceType = builtin("batch/v1", "CronJob")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct Endpoints: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "Endpoints")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct Secret: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "Secret")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct PersistentVolumeClaim: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "PersistentVolumeClaim")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct PodDisruptionBudget: KubernetesObject {
    public static let resource: ResourceType = builtin("policy/v1", "PodDisruptionBudget")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct PriorityClass: KubernetesObject {
    public static let resource: ResourceType = builtin("scheduling.k8s.io/v1", "PriorityClass")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

public struct Event: KubernetesObject {
    public static let resource: ResourceType = builtin("v1", "Event")
    public var json: JSONValue
    public init(json: JSONValue) { self.json = json }
}

extension Pod {
    /// status.podIPs, or status.podIP for a pod written without the list.
    public var addresses: [String] {
        let listed = podIPs
        if !listed.isEmpty { return listed }
        return json[path: ["status", "podIP"]]?.stringValue.map { [$0] } ?? []
    }

    /// Whether the pod's Ready condition is True.
    public var isReady: Bool {
        (json[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
    }
}

extension Service {
    /// The address types of the Service's slices: its IP families (IPv4 when it names none).
    public var addressTypes: [String] {
        let families = json[path: ["spec", "ipFamilies"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        return families.isEmpty ? ["IPv4"] : families
    }
}
