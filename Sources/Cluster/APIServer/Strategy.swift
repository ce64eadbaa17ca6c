import APIMachinery
import JSON
import NetAddress

/// What a kind adds to the generic verbs (kube-apiserver's REST strategies): create, update
/// and delete call these hooks, so a kind with rules of its own is a strategy in its own file,
/// registered in `APIServer.strategies`, not a branch in the verbs. Defaults do nothing.
protocol KindStrategy: Sendable {
    /// Fills defaults (and for a custom resource, prunes unknown fields) on create and on
    /// every update, before validation.
    func normalize(_ object: inout JSONValue, _ resource: ResourceType)
    /// On create, after the server set the metadata, before defaulting and validation.
    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?)
    /// On update, after the generic immutable fields (uid, name, …) were restored: restores or
    /// refuses changes to this kind's own.
    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError)
    /// The kind's own rules, after defaulting, beside ObjectValidation's (`old`: the object
    /// before an update, nil on create), for checks that need more than APIMachinery has.
    func validate(_ object: JSONValue, old: JSONValue?) -> [FieldError]
    /// Checks the object against others in the store, or fills fields from them (a pod's
    /// priority from its PriorityClass), after validation (`previous`: the object before an
    /// update).
    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError)
    /// Claims what the object takes from shared pools before it is written (`previous`: the
    /// object before an update); what it returns is released if the write fails.
    func allocate(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType,
                  in server: APIServer) async throws(APIError) -> Allocations
    /// After a create was written.
    func created(_ object: JSONValue, in server: APIServer) async
    /// After an update was written.
    func updated(from old: JSONValue, to new: JSONValue, in server: APIServer) async
    /// The grace period, in seconds, when a DELETE only marks the object for its owner to
    /// finish (a pod bound to a node); nil to delete at once.
    func gracefulDeletion(of current: JSONValue, requested grace: Int?) -> Int?
    /// Before the object goes for good.
    func beforeDelete(_ object: JSONValue, in server: APIServer) async throws(APIError)
    /// After the object is gone.
    func deleted(_ object: JSONValue, in server: APIServer) async
}

extension KindStrategy {
    func normalize(_ object: inout JSONValue, _ resource: ResourceType) { ObjectDefaults.apply(&object, resource) }
    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) {}
    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError) {}
    func validate(_ object: JSONValue, old: JSONValue?) -> [FieldError] { [] }
    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError) {}
    func allocate(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType,
                  in server: APIServer) async throws(APIError) -> Allocations { Allocations() }
    func created(_ object: JSONValue, in server: APIServer) async {}
    func updated(from old: JSONValue, to new: JSONValue, in server: APIServer) async {}
    func gracefulDeletion(of current: JSONValue, requested grace: Int?) -> Int? { nil }
    func beforeDelete(_ object: JSONValue, in server: APIServer) async throws(APIError) {}
    func deleted(_ object: JSONValue, in server: APIServer) async {}
}

/// What an object took from shared pools (a Service's ClusterIPs and node ports).
struct Allocations {
    var ips: [String] = []
    var ports: [Int] = []
}

/// The kinds without rules of their own.
struct DefaultStrategy: KindStrategy {}

extension APIServer {
    /// The kinds with rules of their own, by group and kind.
    static let strategies: [String: any KindStrategy] = [
        "/Pod": PodStrategy(),
        "/Service": ServiceStrategy(),
        "/Namespace": NamespaceStrategy(),
        "certificates.k8s.io/CertificateSigningRequest": CertificateSigningRequestStrategy(),
        "batch/Job": JobStrategy(),
        "batch/CronJob": CronJobStrategy(),
        "scheduling.k8s.io/PriorityClass": PriorityClassStrategy(),
        "rbac.authorization.k8s.io/Role": RBACStrategy(kind: "Role"),
        "rbac.authorization.k8s.io/ClusterRole": RBACStrategy(kind: "ClusterRole"),
        "rbac.authorization.k8s.io/RoleBinding": RBACStrategy(kind: "RoleBinding"),
        "rbac.authorization.k8s.io/ClusterRoleBinding": RBACStrategy(kind: "ClusterRoleBinding"),
        "apiextensions.k8s.io/CustomResourceDefinition": CustomResourceDefinitionStrategy(),
    ]

    func strategy(for resource: ResourceType) -> any KindStrategy {
        if resource.isCustom {
            // A CRD deleted meanwhile leaves nothing to check against; its objects go with it.
            return registry.custom(resource).map(CustomResourceStrategy.init) ?? DefaultStrategy()
        }
        return Self.strategies["\(resource.group)/\(resource.kind)"] ?? DefaultStrategy()
    }

    func release(_ allocations: Allocations) async {
        for ip in allocations.ips { await allocator.releaseIP(ip) }
        for port in allocations.ports { await allocator.releaseNodePort(port) }
    }
}
