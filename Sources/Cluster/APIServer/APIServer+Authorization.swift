public import Authorization
import APIMachinery
import JSON
import Storage

/// The authorizers `--authorization-mode` chains, in kube-apiserver's names.
public enum AuthorizationMode: String, Sendable, CaseIterable {
    case node = "Node", rbac = "RBAC", alwaysAllow = "AlwaysAllow"
}

extension APIServer {
    /// Who sent the request being served (nil: the server itself), for the admission checks
    /// that depend on it (RBAC escalation, NodeRestriction) deep inside create and update.
    @TaskLocal static var requester: TokenAuthenticator.User?

    static func userInfo(_ user: TokenAuthenticator.User) -> UserInfo {
        UserInfo(name: user.name, groups: user.authenticatedGroups)
    }

    // MARK: - Deciding

    /// The authorizer chain: system:masters first (it bypasses everything, as in
    /// Kubernetes), then each mode in order; the first to allow wins, none is a refusal.
    public func authorize(_ attributes: RequestAttributes) async -> Decision {
        if attributes.user.groups.contains(BootstrapPolicy.mastersGroup) {
            return .allow(reason: "member of \(BootstrapPolicy.mastersGroup)")
        }
        var reasons: [String] = []
        for mode in options.authorizationModes {
            let decision: Decision
            switch mode {
            case .alwaysAllow: return .allow(reason: "AlwaysAllow")
            case .node: decision = await NodeAuthorizer.authorize(attributes, graph: NodeGraph(server: self))
            case .rbac: decision = rbac.policy.authorize(attributes)
            }
            if decision.allowed { return decision }
            if case .deny = decision { return decision }
            if !decision.reason.isEmpty { reasons.append(decision.reason) }
        }
        return .noOpinion(reason: reasons.joined(separator: "; "))
    }

    /// What a request asks, as the authorizers read it.
    func attributes(of request: APIRequest, _ route: Route?, user: UserInfo) -> RequestAttributes {
        // HEAD asks what GET would answer, and is judged as a get.
        var request = request
        if request.method == "HEAD" { request.method = "GET" }
        guard case .resource(let r)? = route else {
            return RequestAttributes(user: user, verb: request.method.lowercased(), target: .nonResource(path: request.path))
        }
        var verb = Self.verb(request, r)
        // Streams into a container are creates, whatever method opened them (kube 1.31+).
        if let sub = r.subresource, ["exec", "attach", "portforward"].contains(sub) { verb = "create" }
        let fieldSelector = request.query["fieldSelector"] ?? ""
        var name = r.name ?? ""
        // A list or watch of one object by name (`kubectl get pod x -w`) is judged by that
        // name, so rules with resourceNames allow it, as kube-apiserver's RequestInfo does.
        if name.isEmpty, verb == "list" || verb == "watch", fieldSelector.hasPrefix("metadata.name="),
           !fieldSelector.contains(",") {
            name = String(fieldSelector.dropFirst("metadata.name=".count))
        }
        // A Namespace is judged in itself: a RoleBinding in `foo` lets `kubectl get ns foo`.
        var namespace = r.namespace ?? ""
        if r.resource.group.isEmpty, r.resource.plural == "namespaces", !name.isEmpty { namespace = name }
        return RequestAttributes(user: user, verb: verb,
                                 target: .resource(group: r.resource.group, resource: r.resource.plural, subresource: r.subresource ?? "",
                                                   namespace: namespace, name: name),
                                 fieldSelector: fieldSelector)
    }

    /// The decision on a request known only by its method and path (the exec upgrades, which
    /// reach the server before `route`), with the attributes it was judged on.
    func authorize(method: String, path: String, user: TokenAuthenticator.User) async -> (RequestAttributes, Decision) {
        let attributes = attributes(of: APIRequest(method: method, path: path), Route.parse(path, registry: registry),
                                    user: Self.userInfo(user))
        return (attributes, await authorize(attributes))
    }

    /// 403 unless the chain allows `attributes`, with Kubernetes' message and details.
    func requireAllowed(_ attributes: RequestAttributes) async throws(APIError) {
        let decision = await authorize(attributes)
        guard !decision.allowed else { return }
        throw Self.forbidden(attributes, reason: decision.reason)
    }

    static func forbidden(_ attributes: RequestAttributes, reason: String) -> APIError {
        let suffix = reason.isEmpty ? "" : ": \(reason)"
        switch attributes.target {
        case .resource(let group, let resource, _, _, let name):
            let qualified = group.isEmpty ? resource : "\(resource).\(group)"
            var details: JSONValue = ["kind": .string(resource)]
            if !group.isEmpty { details["group"] = .string(group) }
            if !name.isEmpty { details["name"] = .string(name) }
            return APIError(code: 403, reason: "Forbidden",
                            message: "\(qualified)\(name.isEmpty ? "" : " \"\(name)\"") is forbidden: \(attributes.forbiddenMessage)\(suffix)",
                            details: details)
        case .nonResource:
            return APIError(code: 403, reason: "Forbidden", message: "forbidden: \(attributes.forbiddenMessage)\(suffix)")
        }
    }

    // MARK: - Reviews (`kubectl auth can-i`)

    /// POST of a SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview or
    /// SelfSubjectRulesReview: the object back with its status filled in. Nothing is stored.
    func review(_ request: APIRequest, _ resource: ResourceType, namespace: String?) async throws(APIError) -> JSONValue {
        var body = try request.jsonBody()
        guard case .object = body else { throw .badRequest("the body must be a JSON object") }
        let spec = body["spec"] ?? .emptyObject
        let kind = resource.kind
        let user: UserInfo
        if kind.hasPrefix("Self") {
            user = request.user.map(Self.userInfo) ?? UserInfo(name: "system:apiserver", groups: [BootstrapPolicy.mastersGroup])
        } else {
            let name = spec["user"]?.stringValue ?? ""
            let groups = spec["groups"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard !name.isEmpty || !groups.isEmpty else {
                throw .invalid(resource, name: "", [.invalid("spec.user", "", "at least one of user or group must be specified")])
            }
            user = UserInfo(name: name, groups: groups)
        }
        body["metadata"] = body["metadata"] ?? ["creationTimestamp": nil]
        if kind == "SelfSubjectRulesReview" {
            body["status"] = rulesReview(user, namespace: spec["namespace"]?.stringValue ?? "")
            return body
        }
        let resourceAttributes = spec["resourceAttributes"].flatMap { $0.isNull ? nil : $0 }
        let nonResourceAttributes = spec["nonResourceAttributes"].flatMap { $0.isNull ? nil : $0 }
        let attributes: RequestAttributes
        switch (resourceAttributes, nonResourceAttributes) {
        case (let r?, nil):
            let reviewNamespace = r["namespace"]?.stringValue ?? ""
            if kind == "LocalSubjectAccessReview", reviewNamespace != (namespace ?? "") {
                throw .invalid(resource, name: "", [.invalid("spec.resourceAttributes.namespace", reviewNamespace,
                                                             "must match metadata.namespace")])
            }
            attributes = RequestAttributes(user: user, verb: r["verb"]?.stringValue ?? "",
                                           target: .resource(group: r["group"]?.stringValue ?? "", resource: r["resource"]?.stringValue ?? "",
                                                             subresource: r["subresource"]?.stringValue ?? "", namespace: reviewNamespace,
                                                             name: r["name"]?.stringValue ?? ""),
                                           fieldSelector: r[path: ["fieldSelector", "rawSelector"]]?.stringValue ?? "")
        case (nil, let n?):
            if kind == "LocalSubjectAccessReview" {
                throw .invalid(resource, name: "", [.invalid("spec.nonResourceAttributes", n["path"]?.stringValue ?? "",
                                                             "disallowed on this kind of request")])
            }
            attributes = RequestAttributes(user: user, verb: n["verb"]?.stringValue ?? "", target: .nonResource(path: n["path"]?.stringValue ?? ""))
        default:
            throw .invalid(resource, name: "", [.invalid("spec.resourceAttributes", "",
                                                         "exactly one of nonResourceAttributes or resourceAttributes must be specified")])
        }
        let decision = await authorize(attributes)
        var status: JSONValue = ["allowed": .bool(decision.allowed)]
        if !decision.reason.isEmpty { status["reason"] = .string(decision.reason) }
        body["status"] = status
        return body
    }

    /// What `user` may do in `namespace`, as SelfSubjectRulesReview lists it.
    func rulesReview(_ user: UserInfo, namespace: String) -> JSONValue {
        var rules = rbac.policy.rules(for: user, namespace: namespace)
        var incomplete = false
        var evaluationError: String?
        if options.authorizationModes.contains(.alwaysAllow) || user.groups.contains(BootstrapPolicy.mastersGroup) && rules.isEmpty {
            rules = [.resource(["*"], ["*"], ["*"]), .urls(["*"], ["*"])]
        }
        if NodeAuthorizer.nodeName(of: user) != nil, options.authorizationModes.contains(.node) {
            incomplete = true
            evaluationError = "node authorizer does not support user rule resolution"
        }
        let resourceRules = rules.filter { $0.nonResourceURLs.isEmpty }.map { rule -> JSONValue in
            var o: JSONValue = ["verbs": .array(rule.verbs.map { .string($0) }), "apiGroups": .array(rule.apiGroups.map { .string($0) }),
                                "resources": .array(rule.resources.map { .string($0) })]
            if !rule.resourceNames.isEmpty { o["resourceNames"] = .array(rule.resourceNames.map { .string($0) }) }
            return o
        }
        let nonResourceRules = rules.filter { !$0.nonResourceURLs.isEmpty }.map { rule -> JSONValue in
            ["verbs": .array(rule.verbs.map { .string($0) }), "nonResourceURLs": .array(rule.nonResourceURLs.map { .string($0) })]
        }
        var status: JSONValue = ["resourceRules": .array(resourceRules), "nonResourceRules": .array(nonResourceRules),
                                 "incomplete": .bool(incomplete)]
        if let evaluationError { status["evaluationError"] = .string(evaluationError) }
        return status
    }

    // MARK: - Bootstrap

    /// Creates the default roles and bindings that are missing and mends those still marked
    /// for autoupdate, then starts the RBAC cache (with ClusterRole aggregation) and waits
    /// for its first read, so the first request is judged against the whole policy.
    func bootstrapRBAC() async throws(APIError) {
        let group = RBACObjects.group
        let clusterRoles = registry.resource(group: group, version: "v1", plural: "clusterroles")!
        let clusterRoleBindings = registry.resource(group: group, version: "v1", plural: "clusterrolebindings")!
        let roles = registry.resource(group: group, version: "v1", plural: "roles")!
        let roleBindings = registry.resource(group: group, version: "v1", plural: "rolebindings")!
        var wanted: [(ResourceType, String?, JSONValue)] = BootstrapPolicy.clusterRoles.map { (clusterRoles, nil, $0) }
            + BootstrapPolicy.clusterRoleBindings.map { (clusterRoleBindings, nil, $0) }
        for item in BootstrapPolicy.namespaced {
            wanted.append((roles, item.namespace, item.role))
            wanted.append((roleBindings, item.namespace, item.binding))
        }
        for (resource, namespace, object) in wanted {
            do {
                _ = try await create(resource, namespace: namespace, object)
            } catch where error.code == 409 {
                let (existing, _) = try await objects.get(resource, namespace: namespace, name: object.name ?? "")
                if let next = BootstrapPolicy.reconciled(existing: existing, wanted: object) {
                    _ = try await update(resource, next, subresource: nil)
                }
            }
        }
        rbac.start(store: store) { [weak self] roles in await self?.aggregateClusterRoles(roles) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while !rbac.isLoaded && clock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        guard rbac.isLoaded else { throw .serviceUnavailable("the RBAC policy could not be read from the store") }
    }

    /// Writes each aggregated ClusterRole's rules (the union of the rules of the
    /// ClusterRoles its selectors pick) where they differ from what is stored.
    func aggregateClusterRoles(_ roles: [JSONValue]) async {
        let clusterRoles = registry.resource(group: RBACObjects.group, version: "v1", plural: "clusterroles")!
        let aggregated = RBACObjects.aggregatedRules(roles)
        for role in roles {
            guard let name = role.name, let rules = aggregated[name] else { continue }
            guard (role["rules"]?.arrayValue ?? []).map(PolicyRule.init(json:)) != rules else { continue }
            _ = try? await modify(clusterRoles, namespace: nil, name: name, precondition: nil) { object throws(APIError) in
                object["rules"] = .array(rules.map(\.json))
            }
        }
    }
}

/// The Node authorizer's questions, answered from the store.
struct NodeGraph: NodeAuthorizer.Graph {
    let server: APIServer

    func nodeOfPod(namespace: String, name: String) async -> String? {
        let pods = server.registry.resource(group: "", version: "v1", plural: "pods")!
        guard let (pod, _) = try? await server.objects.get(pods, namespace: namespace, name: name) else { return nil }
        return pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
    }

    func node(_ node: String, uses kind: PodReferences.Kind, namespace: String, name: String) async -> Bool {
        // The server's own watch of the pods answers yes at once; no (a pod bound a moment
        // ago, or the watch restarting) is checked against the store.
        if server.podUses.isIndexed(PodUses.key(node: node, namespace: namespace, kind, name)) { return true }
        let pods = server.registry.resource(group: "", version: "v1", plural: "pods")!
        guard let page = try? await server.store.list(prefix: pods.keyPrefix(namespace: namespace), after: nil, limit: nil) else { return false }
        for item in page.items {
            guard let pod = try? JSONValue.parse(item.value), pod[path: ["spec", "nodeName"]]?.stringValue == node else { continue }
            if PodReferences.uses(pod, kind, name: name) { return true }
        }
        return false
    }
}
