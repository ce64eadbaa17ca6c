import APIMachinery
import Authorization
import JSON

/// Roles, ClusterRoles and their bindings: rules and subjects checked with Kubernetes' field
/// paths, a binding's roleRef fixed once made, and no privilege escalation: a requester may
/// only write a role whose rules it holds itself, or bind a role whose rules it holds (unless
/// RBAC gives it `escalate` or `bind` on that role), as kube-apiserver's RBAC storage checks.
struct RBACStrategy: KindStrategy {
    let kind: String

    var isBinding: Bool { kind.hasSuffix("Binding") }

    /// rbac/v1's defaults: a roleRef's and a User's or Group's apiGroup is RBAC's when left out.
    func applyDefaults(_ object: inout JSONValue) {
        guard isBinding else { return }
        if case .object = object["roleRef"] ?? .null, (object[path: ["roleRef", "apiGroup"]]?.stringValue ?? "").isEmpty {
            object[path: ["roleRef", "apiGroup"]] = .string(RBACObjects.group)
        }
        guard var subjects = object["subjects"]?.arrayValue else { return }
        for i in subjects.indices where ["User", "Group"].contains(subjects[i]["kind"]?.stringValue ?? "")
            && (subjects[i]["apiGroup"]?.stringValue ?? "").isEmpty {
            subjects[i]["apiGroup"] = .string(RBACObjects.group)
        }
        object["subjects"] = .array(subjects)
    }

    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) { applyDefaults(&object) }

    func validate(_ object: JSONValue, old: JSONValue?) -> [FieldError] {
        if isBinding { return RBACObjects.binding(object, namespace: object.namespace ?? "").problems }
        var problems = RBACObjects.rules(of: object, clusterScoped: kind == "ClusterRole").problems
        do {
            _ = try RBACObjects.aggregationSelectors(of: object)
        } catch {
            problems.append(.invalid("aggregationRule.clusterRoleSelectors", "", error.message))
        }
        return problems
    }

    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError) {
        applyDefaults(&next)
        guard isBinding, next["roleRef"] != current["roleRef"] else { return }
        throw .invalid(resource, name: current.name ?? "", [.invalid("roleRef", next["roleRef"]?["name"]?.stringValue ?? "", "cannot change roleRef")])
    }

    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError) {
        guard let requester = APIServer.requester else { return }
        let user = APIServer.userInfo(requester)
        let namespace = object.namespace ?? ""
        let name = object.name ?? ""
        let held = server.rbac.policy.rules(for: user, namespace: namespace)
        if isBinding {
            guard let binding = RBACObjects.binding(object, namespace: namespace).binding else { return }
            let ref = binding.roleRef
            let roleResource = ref.kind == .role ? "roles" : "clusterroles"
            let bind = RequestAttributes(user: user, verb: "bind", target: .resource(group: RBACObjects.group, resource: roleResource,
                                                                                    subresource: "", namespace: namespace, name: ref.name))
            if await server.authorize(bind).allowed { return }
            let granted = ref.kind == .role ? server.rbac.policy.roles[namespace]?[ref.name] : server.rbac.policy.clusterRoles[ref.name]
            guard let granted else {
                // Kubernetes refuses binding a role it cannot see unless `bind` allows it.
                throw .forbidden("\(resource.qualifiedName) \"\(name)\" is forbidden: \(ref.kind.rawValue.lowercased()) \"\(ref.name)\" not found and user \"\(user.name)\" may not bind it")
            }
            try refuseEscalation(granted, held: held, user: user, resource: resource, name: name)
            return
        }
        let escalate = RequestAttributes(user: user, verb: "escalate", target: .resource(group: RBACObjects.group, resource: resource.plural,
                                                                                        subresource: "", namespace: namespace, name: name))
        if await server.authorize(escalate).allowed { return }
        if object["aggregationRule"].map({ !$0.isNull }) == true, previous?["aggregationRule"] != object["aggregationRule"] {
            throw .forbidden("\(resource.qualifiedName) \"\(name)\" is forbidden: must have cluster-admin privileges to use the aggregationRule")
        }
        // Rules written by a client are checked even on an aggregated role: the aggregation
        // rewrites them, but until it does they would grant what they say.
        try refuseEscalation(RBACObjects.rules(of: object, clusterScoped: kind == "ClusterRole").rules, held: held,
                             user: user, resource: resource, name: name)
    }

    func refuseEscalation(_ rules: [PolicyRule], held: [PolicyRule], user: UserInfo, resource: ResourceType, name: String) throws(APIError) {
        let missing = rules.filter { !$0.isCovered(by: held) }
        guard !missing.isEmpty else { return }
        let groups = user.groups.map { "\"\($0)\"" }.joined(separator: ", ")
        let list = missing.map { rule -> String in
            rule.nonResourceURLs.isEmpty
                ? "{APIGroups:[\(rule.apiGroups.map { "\"\($0)\"" }.joined(separator: ", "))], Resources:[\(rule.resources.map { "\"\($0)\"" }.joined(separator: ", "))]\(rule.resourceNames.isEmpty ? "" : ", ResourceNames:[\(rule.resourceNames.map { "\"\($0)\"" }.joined(separator: ", "))]"), Verbs:[\(rule.verbs.map { "\"\($0)\"" }.joined(separator: ", "))]}"
                : "{NonResourceURLs:[\(rule.nonResourceURLs.map { "\"\($0)\"" }.joined(separator: ", "))], Verbs:[\(rule.verbs.map { "\"\($0)\"" }.joined(separator: ", "))]}"
        }.joined(separator: "\n")
        throw .forbidden("\(resource.qualifiedName) \"\(name)\" is forbidden: user \"\(user.name)\" (groups=[\(groups)]) is attempting to grant RBAC permissions not currently held:\n\(list)")
    }
}

/// Kubernetes' NodeRestriction admission: what a node agent creates must be its own (its
/// Node, its Lease), and it may only ask tokens for its own pods.
enum NodeRestriction {
    static func check(create object: JSONValue, _ resource: ResourceType, requester: TokenAuthenticator.User?) throws(APIError) {
        guard let requester, let node = NodeAuthorizer.nodeName(of: APIServer.userInfo(requester)) else { return }
        let name = object.name ?? ""
        switch (resource.group, resource.plural) {
        case ("", "nodes") where name != node,
             ("coordination.k8s.io", "leases") where name != node:
            throw .forbidden("\(resource.qualifiedName) \"\(name)\" is forbidden: node \"\(node)\" is not allowed to modify \(resource.singular) \"\(name)\"")
        default:
            return
        }
    }

    /// A node's TokenRequest must be bound to a pod on that node.
    static func check(tokenRequest body: JSONValue, serviceAccount: String, namespace: String, requester: TokenAuthenticator.User?,
                      server: APIServer) async throws(APIError) {
        guard let requester, let node = NodeAuthorizer.nodeName(of: APIServer.userInfo(requester)) else { return }
        let ref = body[path: ["spec", "boundObjectRef"]]
        let pods = server.registry.resource(group: "", version: "v1", plural: "pods")!
        guard ref?["kind"]?.stringValue == "Pod", let name = ref?["name"]?.stringValue,
              let (pod, _) = try? await server.objects.get(pods, namespace: namespace, name: name),
              pod[path: ["spec", "nodeName"]]?.stringValue == node else {
            throw .forbidden("serviceaccounts \"\(serviceAccount)\" is forbidden: node requested token not bound to a pod scheduled on it")
        }
        guard PodReferences.names(pod, .serviceAccount).contains(serviceAccount) else {
            throw .forbidden("serviceaccounts \"\(serviceAccount)\" is forbidden: node requested token bound to a pod that runs as another service account")
        }
    }
}
