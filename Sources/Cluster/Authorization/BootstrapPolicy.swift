public import JSON

/// The roles and bindings every cluster starts with (kube-apiserver's bootstrap policy, cut
/// to the kinds served here), and one least-privilege role per Netplane daemon. The API server
/// creates what is missing at every start and adds back rules or subjects removed from an
/// object still annotated `rbac.authorization.kubernetes.io/autoupdate: "true"`.
public enum BootstrapPolicy {
    static let read = ["get", "list", "watch"]
    static let write = ["create", "delete", "deletecollection", "patch", "update"]
    static let aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
    static let aggregateToEdit = "rbac.authorization.k8s.io/aggregate-to-edit"
    static let aggregateToView = "rbac.authorization.k8s.io/aggregate-to-view"

    /// A daemon's identity: the user its kubeconfig names, bound to the ClusterRole of the
    /// same name (and to a Role of that name in `namespacedRules`' namespaces).
    public struct DaemonIdentity: Sendable {
        /// The file name stem of its kubeconfig: "proxy" → proxy.kubeconfig.
        public var daemon: String
        public var user: String
        public var rules: [PolicyRule]
        /// Namespace → rules granted there only.
        public var namespacedRules: [String: [PolicyRule]]
    }

    /// The daemons with an identity of their own (`netplane apiserver` writes a kubeconfig
    /// for each). Node agents are not here: each is `system:node:<name>` in group
    /// `system:nodes`, judged by the Node authorizer (`netplane kubeconfig --node NAME`).
    public static let daemons: [DaemonIdentity] = [
        DaemonIdentity(daemon: "controllers", user: "system:netplane:controllers", rules: [
            .resource(read + ["create", "delete", "patch"], [""], ["pods"]),
            .resource(["patch", "update"], [""], ["pods/status", "nodes/status"]),
            .resource(read + ["create", "delete", "patch", "update"], [""], ["endpoints", "serviceaccounts", "persistentvolumeclaims"]),
            .resource(read + ["delete", "patch"], [""], ["services", "configmaps", "secrets", "nodes", "namespaces"]),
            .resource(["get"], [""], ["replicationcontrollers"]),
            .resource(["create", "patch", "update"], [""], ["events"]),
            .resource(read + ["create", "delete", "patch", "update"], ["apps"],
                      ["deployments", "replicasets", "daemonsets", "statefulsets", "controllerrevisions"]),
            .resource(["patch", "update"], ["apps"], ["deployments/status", "replicasets/status", "daemonsets/status", "statefulsets/status"]),
            .resource(read + ["create", "delete", "patch", "update"], ["batch"], ["jobs", "cronjobs"]),
            .resource(["patch", "update"], ["batch"], ["jobs/status", "cronjobs/status"]),
            .resource(read, ["policy"], ["poddisruptionbudgets"]),
            .resource(["patch", "update"], ["policy"], ["poddisruptionbudgets/status"]),
            .resource(read + ["create", "delete", "patch", "update"], ["discovery.k8s.io"], ["endpointslices"]),
            // The garbage collector: any kind may own or be owned, custom resources included
            // (kube's generic-garbage-collector role is the same).
            .resource(read + ["delete", "patch"], ["*"], ["*"]),
        ], namespacedRules: ["kube-node-lease": [.resource(read, ["coordination.k8s.io"], ["leases"])]]),
        DaemonIdentity(daemon: "scheduler", user: "system:netplane:scheduler", rules: [
            .resource(read + ["delete"], [""], ["pods"]),
            .resource(["create"], [""], ["pods/binding"]),
            .resource(["patch", "update"], [""], ["pods/status"]),
            .resource(read, [""], ["nodes", "namespaces"]),
            .resource(read, ["policy"], ["poddisruptionbudgets"]),
            .resource(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
        ], namespacedRules: [:]),
        DaemonIdentity(daemon: "flanneld", user: "system:netplane:flanneld", rules: [
            // Its annotations go through nodes/status (upstream flannel's role): no Node's spec
            // (podCIDR, taints) is within its reach.
            .resource(read, [""], ["nodes"]),
            .resource(["patch"], [""], ["nodes/status"]),
        ], namespacedRules: [:]),
        DaemonIdentity(daemon: "proxy", user: "system:netplane:proxy", rules: [
            .resource(read, [""], ["services", "endpoints", "nodes"]),
            .resource(read, ["discovery.k8s.io"], ["endpointslices"]),
            .resource(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
        ], namespacedRules: [:]),
        DaemonIdentity(daemon: "policy", user: "system:netplane:policy", rules: [
            .resource(read, [""], ["pods", "namespaces"]),
            .resource(read, ["networking.k8s.io"], ["networkpolicies"]),
            .resource(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
        ], namespacedRules: [:]),
    ]

    /// The node agents' group and user prefix (the Node authorizer's).
    public static let nodesGroup = "system:nodes"
    public static let nodeUserPrefix = "system:node:"
    /// The group that bypasses authorization.
    public static let mastersGroup = "system:masters"

    /// Every default ClusterRole, as the API objects to create.
    public static var clusterRoles: [JSONValue] {
        var roles: [JSONValue] = [
            clusterRole("cluster-admin", rules: [.resource(["*"], ["*"], ["*"]), .urls(["*"], ["*"])]),
            clusterRole("admin", aggregating: aggregateToAdmin),
            clusterRole("edit", labels: [aggregateToAdmin: "true"], aggregating: aggregateToEdit),
            clusterRole("view", labels: [aggregateToEdit: "true"], aggregating: aggregateToView),
            clusterRole("system:aggregate-to-admin", labels: [aggregateToAdmin: "true"], rules: [
                .resource(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
                .resource(read + write, ["rbac.authorization.k8s.io"], ["rolebindings", "roles"]),
            ]),
            clusterRole("system:aggregate-to-edit", labels: [aggregateToEdit: "true"], rules: [
                .resource(read, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"]),
                .resource(["impersonate"], [""], ["serviceaccounts"]),
                .resource(write, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
                .resource(["create"], [""], ["pods/eviction"]),
                .resource(write, [""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                                        "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"]),
                .resource(["create"], [""], ["serviceaccounts/token"]),
                .resource(write, ["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                                            "replicasets/scale", "statefulsets", "statefulsets/scale"]),
                .resource(write, ["batch"], ["cronjobs", "jobs"]),
                .resource(write, ["discovery.k8s.io"], ["endpointslices"]),
                .resource(write, ["policy"], ["poddisruptionbudgets"]),
                .resource(write, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
            ]),
            clusterRole("system:aggregate-to-view", labels: [aggregateToView: "true"], rules: [
                .resource(read, [""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                                       "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                                       "services/status"]),
                .resource(read, [""], ["bindings", "events", "pods/log", "pods/status", "replicationcontrollers/status"]),
                .resource(read, [""], ["namespaces", "namespaces/status"]),
                .resource(read, ["discovery.k8s.io"], ["endpointslices"]),
                .resource(read, ["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                           "deployments/status", "replicasets", "replicasets/scale", "replicasets/status",
                                           "statefulsets", "statefulsets/scale", "statefulsets/status"]),
                .resource(read, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
                .resource(read, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
                .resource(read, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
                .resource(read, ["metrics.k8s.io"], ["pods", "nodes"]),
            ]),
            clusterRole("system:discovery", rules: [
                .urls(["get"], ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                                "/version", "/version/"]),
            ]),
            clusterRole("system:basic-user", rules: [
                .resource(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                .resource(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
            ]),
            clusterRole("system:public-info-viewer", rules: [
                .urls(["get"], ["/healthz", "/livez", "/readyz", "/version", "/version/"]),
            ]),
            // Prometheus' scrape of /metrics, bound to the system:monitoring group as in kube.
            clusterRole("system:monitoring", rules: [
                .urls(["get"], ["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*"]),
            ]),
            // What the Node authorizer grants a node agent, written out for people to read
            // (bound to nobody, as in Kubernetes: the authorizer judges nodes itself).
            clusterRole("system:node", rules: [
                .resource(read, [""], ["pods"]),
                .resource(["patch", "update"], [""], ["pods/status"]),
                .resource(["delete"], [""], ["pods"]),
                .resource(["create", "get", "patch"], [""], ["nodes"]),
                .resource(["patch", "update"], [""], ["nodes/status"]),
                .resource(["get"], [""], ["configmaps", "secrets"]),
                .resource(["create"], [""], ["serviceaccounts/token"]),
                .resource(["create", "patch", "update"], [""], ["events"]),
                .resource(["create", "get", "patch", "update", "delete"], ["coordination.k8s.io"], ["leases"]),
            ]),
        ]
        for identity in daemons { roles.append(clusterRole(identity.user, rules: identity.rules)) }
        return roles
    }

    /// The default policy as a new cluster's API server holds it (aggregated roles settled),
    /// for judging requests without a server: tests and benchmarks.
    public static var policy: RBACPolicy {
        var policy = RBACPolicy()
        let aggregated = RBACObjects.aggregatedRules(clusterRoles)
        for role in clusterRoles {
            let name = RBACObjects.name(role)
            policy.setClusterRole(name, rules: aggregated[name] ?? RBACObjects.rules(of: role, clusterScoped: true).rules)
        }
        for binding in clusterRoleBindings {
            policy.setBinding(namespace: "", name: RBACObjects.name(binding), RBACObjects.binding(binding, namespace: "").binding)
        }
        for item in namespaced {
            let name = RBACObjects.name(item.role)
            policy.setRole(namespace: item.namespace, name, rules: RBACObjects.rules(of: item.role, clusterScoped: false).rules)
            policy.setBinding(namespace: item.namespace, name: name, RBACObjects.binding(item.binding, namespace: item.namespace).binding)
        }
        return policy
    }

    /// Every default ClusterRoleBinding.
    public static var clusterRoleBindings: [JSONValue] {
        var bindings: [JSONValue] = [
            binding("cluster-admin", role: "cluster-admin", groups: [mastersGroup]),
            binding("system:discovery", role: "system:discovery", groups: ["system:authenticated"]),
            binding("system:basic-user", role: "system:basic-user", groups: ["system:authenticated"]),
            binding("system:public-info-viewer", role: "system:public-info-viewer",
                    groups: ["system:authenticated", "system:unauthenticated"]),
            binding("system:monitoring", role: "system:monitoring", groups: ["system:monitoring"]),
        ]
        for identity in daemons { bindings.append(binding(identity.user, role: identity.user, users: [identity.user])) }
        return bindings
    }

    /// The default namespaced Roles and RoleBindings: (namespace, role, binding).
    public static var namespaced: [(namespace: String, role: JSONValue, binding: JSONValue)] {
        var out: [(String, JSONValue, JSONValue)] = []
        for identity in daemons {
            for (namespace, rules) in identity.namespacedRules.sorted(by: { $0.key < $1.key }) {
                var role = clusterRole(identity.user, rules: rules)
                role["kind"] = "Role"
                role[path: ["metadata", "namespace"]] = .string(namespace)
                var roleBinding = binding(identity.user, role: identity.user, users: [identity.user])
                roleBinding["kind"] = "RoleBinding"
                roleBinding[path: ["metadata", "namespace"]] = .string(namespace)
                roleBinding[path: ["roleRef", "kind"]] = "Role"
                out.append((namespace, role, roleBinding))
            }
        }
        return out
    }

    static func metadata(_ name: String, labels: [String: String]) -> JSONValue {
        var allLabels = labels
        allLabels["kubernetes.io/bootstrapping"] = "rbac-defaults"
        return ["name": .string(name), "labels": .object(allLabels.mapValues { .string($0) }),
                "annotations": ["rbac.authorization.kubernetes.io/autoupdate": "true"]]
    }

    static func clusterRole(_ name: String, labels: [String: String] = [:], rules: [PolicyRule] = [],
                            aggregating label: String? = nil) -> JSONValue {
        var role: JSONValue = ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                               "metadata": metadata(name, labels: labels), "rules": .array(rules.map(\.json))]
        if let label {
            role["aggregationRule"] = ["clusterRoleSelectors": [["matchLabels": [label: "true"]]]]
        }
        return role
    }

    static func binding(_ name: String, role: String, users: [String] = [], groups: [String] = []) -> JSONValue {
        let subjects = users.map { JSONValue.object(["kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": .string($0)]) }
            + groups.map { JSONValue.object(["kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": .string($0)]) }
        return ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": metadata(name, labels: [:]),
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": .string(role)],
                "subjects": .array(subjects)]
    }

    /// What reconciling an existing default object changes: the rules or subjects it lacks
    /// added back, when it still carries the autoupdate annotation (nil: leave it alone).
    public static func reconciled(existing: JSONValue, wanted: JSONValue) -> JSONValue? {
        guard existing[path: ["metadata", "annotations", "rbac.authorization.kubernetes.io/autoupdate"]]?.stringValue == "true" else {
            return nil
        }
        var next = existing
        var changed = false
        for field in ["rules", "subjects"] {
            let have = existing[field]?.arrayValue ?? []
            let missing = (wanted[field]?.arrayValue ?? []).filter { w in
                field == "rules" ? !have.map(PolicyRule.init(json:)).contains(PolicyRule(json: w)) : !have.contains(w)
            }
            // An aggregated role's rules are the aggregation's to write.
            if field == "rules", case .some = wanted["aggregationRule"] { continue }
            if !missing.isEmpty {
                next[field] = .array(have + missing)
                changed = true
            }
        }
        // A binding whose role was changed by hand is the admin's now (a roleRef is fixed).
        if case .some = existing["roleRef"], existing["roleRef"] != wanted["roleRef"] { return nil }
        guard changed else { return nil }
        return next
    }
}
