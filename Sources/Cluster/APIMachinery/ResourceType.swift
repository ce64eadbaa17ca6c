/// One REST resource the API server serves: where it lives in the URL space, what kind of
/// object it holds, and what discovery tells clients about it.
public struct ResourceType: Sendable, Hashable {
    /// "" for the core group.
    public var group: String
    public var version: String
    /// The plural lower-case name in URLs: "pods".
    public var plural: String
    public var singular: String
    public var kind: String
    public var namespaced: Bool
    public var shortNames: [String]
    public var categories: [String]
    /// Subresources served: "status", "scale", "binding".
    public var subresources: Set<String>
    /// Whether `metadata.generation` tracks changes to the object's spec (every kind with a
    /// spec whose controllers report observedGeneration).
    public var hasGeneration: Bool
    /// Whether a create throws away a client-supplied status (it belongs to the status
    /// subresource), as the Kubernetes registry strategies do. Nodes keep theirs: the node
    /// agent registers a node with its addresses and capacity.
    public var resetsStatusOnCreate: Bool
    /// The group and plural whose store keys hold this resource's objects: its own, or
    /// another version's when this one is a view of them (events.k8s.io/v1 Events are stored
    /// as core/v1 Events, and `ResourceConversion` turns one form into the other).
    public var storageGroup: String
    public var storagePlural: String
    /// The verbs the resource takes (every verb unless it is only created, as a review is).
    public var verbs: [String]
    /// Whether a CustomResourceDefinition defines it (its schema, columns and scale paths are
    /// the registry's `CustomResource`); never a built-in kind.
    public var isCustom: Bool = false
    /// The version its objects are stored in: its own, or for one version of a custom resource
    /// served in several, the CRD's storage version (the others are views of it).
    public var storageVersion: String
    /// Fields beyond metadata.name and metadata.namespace that field selectors may name (a
    /// CRD version's `selectableFields`).
    public var selectableFields: [String] = []

    public init(group: String, version: String, plural: String, singular: String, kind: String,
                namespaced: Bool, shortNames: [String] = [], categories: [String] = [],
                subresources: Set<String> = [], hasGeneration: Bool = false, resetsStatusOnCreate: Bool? = nil,
                storedAs storage: (group: String, plural: String)? = nil, verbs: [String] = ResourceType.allVerbs) {
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        self.subresources = subresources
        self.hasGeneration = hasGeneration
        self.resetsStatusOnCreate = resetsStatusOnCreate ?? subresources.contains("status")
        self.storageGroup = storage?.group ?? group
        self.storagePlural = storage?.plural ?? plural
        self.verbs = verbs
        self.storageVersion = version
    }

    /// Whether this resource's objects are stored in another resource's form.
    public var isView: Bool { storageGroup != group || storagePlural != plural || storageVersion != version }

    /// "v1" or "apps/v1": the apiVersion field of this resource's objects.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// "pods" or "deployments.apps": the name kubectl and error messages use.
    public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The store key prefix of every object of this resource.
    public var keyPrefix: String { "/registry/\(storageGroup.isEmpty ? "core" : storageGroup)/\(storagePlural)/" }

    /// The store key prefix of the objects in one namespace (all of them if nil).
    public func keyPrefix(namespace: String?) -> String {
        guard namespaced, let namespace else { return keyPrefix }
        return keyPrefix + namespace + "/"
    }

    /// The store key of one object.
    public func key(namespace: String?, name: String) -> String {
        namespaced ? "\(keyPrefix)\(namespace ?? "")/\(name)" : keyPrefix + name
    }

    public static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
}

/// Every resource Netplane serves, and lookups by URL segment, kind and short name.
public struct ResourceRegistry: Sendable {
    public let resources: [ResourceType]
    /// What the CRDs say of each custom resource version, by "group/version/plural".
    let custom: [String: CustomResource]
    /// The first resource of each group, version and plural (every request looks its own up).
    let byPath: [PathKey: Int]

    struct PathKey: Hashable {
        var group: String, version: String, plural: String
    }

    public init(_ resources: [ResourceType]) {
        self.init(resources, custom: [:])
    }

    init(_ resources: [ResourceType], custom: [String: CustomResource]) {
        self.resources = resources
        self.custom = custom
        var byPath: [PathKey: Int] = [:]
        for (index, r) in resources.enumerated() {
            let key = PathKey(group: r.group, version: r.version, plural: r.plural)
            if byPath[key] == nil { byPath[key] = index }
        }
        self.byPath = byPath
    }

    /// The built-in resources followed by the served versions of these custom resources.
    /// A custom resource never shadows a built-in one or an earlier custom one: one whose
    /// group/version/plural, or group and kind, is already taken is left out (kube-apiserver
    /// reports such a CRD as NamesAccepted=False). Groups are sorted by name and, within a
    /// group, versions by kube's priority, so discovery names the preferred version first.
    public init(builtin: ResourceRegistry, custom crs: [CustomResource]) {
        var resources = builtin.resources
        var custom: [String: CustomResource] = [:]
        var kinds = Set(builtin.resources.map { "\($0.group)/\($0.kind)" })
        var takenBy: [String: String] = [:]   // group/kind → the CRD that took it
        let builtinGroups = Set(builtin.resources.map(\.group))
        let sorted = crs.sorted { a, b in
            let (x, y) = (a.resource, b.resource)
            if x.group != y.group { return x.group < y.group }
            if x.version != y.version { return VersionPriority.precedes(x.version, y.version) }
            return x.plural < y.plural
        }
        for cr in sorted {
            let r = cr.resource
            let key = "\(r.group)/\(r.version)/\(r.plural)"
            let kind = "\(r.group)/\(r.kind)"
            guard !builtinGroups.contains(r.group), custom[key] == nil,
                  takenBy[kind] == cr.crdName || kinds.insert(kind).inserted else { continue }
            takenBy[kind] = cr.crdName
            custom[key] = cr
            resources.append(r)
        }
        self.init(resources, custom: custom)
    }

    /// The custom resource behind a resource, if a CRD defines it.
    public func custom(_ resource: ResourceType) -> CustomResource? {
        guard resource.isCustom else { return nil }
        return custom["\(resource.group)/\(resource.version)/\(resource.plural)"]
    }

    /// Every custom resource version served.
    public var customResources: [CustomResource] { Array(custom.values) }

    /// The resource at /api/v1/<plural> (group "") or /apis/<group>/<version>/<plural>.
    public func resource(group: String, version: String, plural: String) -> ResourceType? {
        byPath[PathKey(group: group, version: version, plural: plural)].map { resources[$0] }
    }

    public func resource(apiVersion: String, kind: String) -> ResourceType? {
        resources.first { $0.apiVersion == apiVersion && $0.kind == kind }
    }

    /// The resource whose form a view's objects are stored in (the resource itself if it is none).
    public func storage(of resource: ResourceType) -> ResourceType {
        guard resource.isView else { return resource }
        return resources.first {
            !$0.isView && $0.group == resource.storageGroup && $0.plural == resource.storagePlural && $0.version == resource.storageVersion
        } ?? resources.first { !$0.isView && $0.group == resource.storageGroup && $0.plural == resource.storagePlural } ?? resource
    }

    /// The group/versions served, in discovery order (core first).
    public var groupVersions: [(group: String, version: String)] {
        var seen: [String] = []
        var out: [(String, String)] = []
        for r in resources where !seen.contains(r.apiVersion) {
            seen.append(r.apiVersion)
            out.append((r.group, r.version))
        }
        return out
    }

    public static let builtin = ResourceRegistry([
        // core/v1
        ResourceType(group: "", version: "v1", plural: "namespaces", singular: "namespace", kind: "Namespace",
                     namespaced: false, shortNames: ["ns"], subresources: ["status", "finalize"],
                     resetsStatusOnCreate: false),
        ResourceType(group: "", version: "v1", plural: "nodes", singular: "node", kind: "Node",
                     namespaced: false, shortNames: ["no"], subresources: ["status"], resetsStatusOnCreate: false),
        ResourceType(group: "", version: "v1", plural: "pods", singular: "pod", kind: "Pod", namespaced: true,
                     shortNames: ["po"], categories: ["all"], subresources: ["status", "binding", "eviction", "log"]),
        ResourceType(group: "", version: "v1", plural: "services", singular: "service", kind: "Service",
                     namespaced: true, shortNames: ["svc"], categories: ["all"], subresources: ["status"]),
        ResourceType(group: "", version: "v1", plural: "endpoints", singular: "endpoints", kind: "Endpoints",
                     namespaced: true, shortNames: ["ep"]),
        ResourceType(group: "", version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap",
                     namespaced: true, shortNames: ["cm"]),
        ResourceType(group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true),
        ResourceType(group: "", version: "v1", plural: "serviceaccounts", singular: "serviceaccount",
                     kind: "ServiceAccount", namespaced: true, shortNames: ["sa"], subresources: ["token"]),
        ResourceType(group: "", version: "v1", plural: "events", singular: "event", kind: "Event", namespaced: true,
                     shortNames: ["ev"]),
        ResourceType(group: "", version: "v1", plural: "persistentvolumeclaims", singular: "persistentvolumeclaim",
                     kind: "PersistentVolumeClaim", namespaced: true, shortNames: ["pvc"], subresources: ["status"]),
        ResourceType(group: "", version: "v1", plural: "persistentvolumes", singular: "persistentvolume",
                     kind: "PersistentVolume", namespaced: false, shortNames: ["pv"], subresources: ["status"]),
        ResourceType(group: "", version: "v1", plural: "replicationcontrollers", singular: "replicationcontroller",
                     kind: "ReplicationController", namespaced: true, shortNames: ["rc"], categories: ["all"],
                     subresources: ["status", "scale"], hasGeneration: true),
        // events.k8s.io/v1: the same Events as core/v1's, in the newer form.
        ResourceType(group: "events.k8s.io", version: "v1", plural: "events", singular: "event", kind: "Event",
                     namespaced: true, shortNames: ["ev"], storedAs: (group: "", plural: "events")),
        // certificates.k8s.io/v1
        ResourceType(group: "certificates.k8s.io", version: "v1", plural: "certificatesigningrequests",
                     singular: "certificatesigningrequest", kind: "CertificateSigningRequest", namespaced: false,
                     shortNames: ["csr"], subresources: ["status", "approval"]),
        // authentication.k8s.io/v1: who the caller is (`kubectl auth whoami`); created, never stored.
        ResourceType(group: "authentication.k8s.io", version: "v1", plural: "selfsubjectreviews", singular: "selfsubjectreview",
                     kind: "SelfSubjectReview", namespaced: false, verbs: ["create"]),
        // rbac.authorization.k8s.io/v1
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", singular: "role", kind: "Role",
                     namespaced: true),
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", singular: "clusterrole",
                     kind: "ClusterRole", namespaced: false),
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", singular: "rolebinding",
                     kind: "RoleBinding", namespaced: true),
        ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", singular: "clusterrolebinding",
                     kind: "ClusterRoleBinding", namespaced: false),
        // authorization.k8s.io/v1: may someone do something (`kubectl auth can-i`); created, never stored.
        ResourceType(group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews", singular: "selfsubjectaccessreview",
                     kind: "SelfSubjectAccessReview", namespaced: false, verbs: ["create"]),
        ResourceType(group: "authorization.k8s.io", version: "v1", plural: "selfsubjectrulesreviews", singular: "selfsubjectrulesreview",
                     kind: "SelfSubjectRulesReview", namespaced: false, verbs: ["create"]),
        ResourceType(group: "authorization.k8s.io", version: "v1", plural: "subjectaccessreviews", singular: "subjectaccessreview",
                     kind: "SubjectAccessReview", namespaced: false, verbs: ["create"]),
        ResourceType(group: "authorization.k8s.io", version: "v1", plural: "localsubjectaccessreviews", singular: "localsubjectaccessreview",
                     kind: "LocalSubjectAccessReview", namespaced: true, verbs: ["create"]),
        // metrics.k8s.io/v1beta1: what `kubectl top` reads, computed on request from the node
        // agents' summaries (metrics-server's API, served by the API server itself); never stored.
        ResourceType(group: "metrics.k8s.io", version: "v1beta1", plural: "nodes", singular: "", kind: "NodeMetrics",
                     namespaced: false, verbs: ["get", "list"]),
        ResourceType(group: "metrics.k8s.io", version: "v1beta1", plural: "pods", singular: "", kind: "PodMetrics",
                     namespaced: true, verbs: ["get", "list"]),
        // discovery.k8s.io/v1
        ResourceType(group: "discovery.k8s.io", version: "v1", plural: "endpointslices", singular: "endpointslice",
                     kind: "EndpointSlice", namespaced: true),
        // networking.k8s.io/v1
        ResourceType(group: "networking.k8s.io", version: "v1", plural: "networkpolicies", singular: "networkpolicy",
                     kind: "NetworkPolicy", namespaced: true, shortNames: ["netpol"], hasGeneration: true),
        ResourceType(group: "networking.k8s.io", version: "v1", plural: "ingresses", singular: "ingress",
                     kind: "Ingress", namespaced: true, shortNames: ["ing"], subresources: ["status"],
                     hasGeneration: true),
        ResourceType(group: "networking.k8s.io", version: "v1", plural: "ingressclasses", singular: "ingressclass",
                     kind: "IngressClass", namespaced: false),
        // apps/v1
        ResourceType(group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind: "Deployment",
                     namespaced: true, shortNames: ["deploy"], categories: ["all"], subresources: ["status", "scale"],
                     hasGeneration: true),
        ResourceType(group: "apps", version: "v1", plural: "replicasets", singular: "replicaset", kind: "ReplicaSet",
                     namespaced: true, shortNames: ["rs"], categories: ["all"], subresources: ["status", "scale"],
                     hasGeneration: true),
        ResourceType(group: "apps", version: "v1", plural: "daemonsets", singular: "daemonset", kind: "DaemonSet",
                     namespaced: true, shortNames: ["ds"], categories: ["all"], subresources: ["status"],
                     hasGeneration: true),
        ResourceType(group: "apps", version: "v1", plural: "statefulsets", singular: "statefulset", kind: "StatefulSet",
                     namespaced: true, shortNames: ["sts"], categories: ["all"], subresources: ["status", "scale"],
                     hasGeneration: true),
        ResourceType(group: "apps", version: "v1", plural: "controllerrevisions", singular: "controllerrevision",
                     kind: "ControllerRevision", namespaced: true),
        // batch/v1
        ResourceType(group: "batch", version: "v1", plural: "jobs", singular: "job", kind: "Job", namespaced: true,
                     categories: ["all"], subresources: ["status"], hasGeneration: true),
        ResourceType(group: "batch", version: "v1", plural: "cronjobs", singular: "cronjob", kind: "CronJob",
                     namespaced: true, shortNames: ["cj"], categories: ["all"], subresources: ["status"],
                     hasGeneration: true),
        // policy/v1
        ResourceType(group: "policy", version: "v1", plural: "poddisruptionbudgets", singular: "poddisruptionbudget",
                     kind: "PodDisruptionBudget", namespaced: true, shortNames: ["pdb"], subresources: ["status"],
                     hasGeneration: true),
        // scheduling.k8s.io/v1
        ResourceType(group: "scheduling.k8s.io", version: "v1", plural: "priorityclasses", singular: "priorityclass",
                     kind: "PriorityClass", namespaced: false, shortNames: ["pc"]),
        // coordination.k8s.io/v1
        ResourceType(group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind: "Lease",
                     namespaced: true),
        // apiextensions.k8s.io/v1: the CRDs that add custom resources to this registry.
        ResourceType(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
                     singular: "customresourcedefinition", kind: "CustomResourceDefinition", namespaced: false,
                     shortNames: ["crd", "crds"], categories: ["api-extensions"], subresources: ["status"], hasGeneration: true),
    ])
}

/// kube's order of API versions (discovery lists the preferred one first): versions of the
/// form v<major>[alpha|beta<minor>] before any other, GA before beta before alpha, higher
/// numbers first (v10 > v2 > v1 > v1beta2 > v1beta1 > v1alpha1); the others by name.
public enum VersionPriority {
    /// (stability: 0 GA, 1 beta, 2 alpha; major; minor), nil for a version of another form.
    static func parse(_ version: String) -> (stability: Int, major: Int, minor: Int)? {
        guard version.hasPrefix("v") else { return nil }
        let rest = version.dropFirst()
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard let major = Int(digits), !digits.hasPrefix("0") else { return nil }
        let tail = rest.dropFirst(digits.count)
        if tail.isEmpty { return (0, major, 0) }
        for (word, stability) in [("beta", 1), ("alpha", 2)] where tail.hasPrefix(word) {
            let number = tail.dropFirst(word.count)
            guard let minor = Int(number), !number.hasPrefix("0") else { return nil }
            return (stability, major, minor)
        }
        return nil
    }

    /// Whether `a` comes before `b` in kube's version priority.
    public static func precedes(_ a: String, _ b: String) -> Bool {
        switch (parse(a), parse(b)) {
        case (let x?, let y?):
            if x.stability != y.stability { return x.stability < y.stability }
            if x.major != y.major { return x.major > y.major }
            return x.minor > y.minor
        case (.some, nil): return true
        case (nil, .some): return false
        case (nil, nil): return a < b
        }
    }
}
