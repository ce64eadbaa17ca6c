public import JSON

/// Kubernetes' Node authorizer: a node agent (user `system:node:<name>` in `system:nodes`)
/// may read and write its own Node and Lease, list and watch only the pods bound to it (the
/// request must select `spec.nodeName=<name>`), read and delete those pods and write their
/// status, read the Secrets
/// and ConfigMaps they use and get tokens for their service accounts, and write Events.
/// Everything else is left to the next authorizer (RBAC, where nodes are bound to nothing).
/// What the body of a create names is checked by NodeRestriction admission in the server.
public enum NodeAuthorizer {
    /// What the authorizer asks of the cluster's objects.
    public protocol Graph: Sendable {
        /// The node a pod is bound to ("" when it is not; nil when there is no such pod).
        func nodeOfPod(namespace: String, name: String) async -> String?
        /// Whether a pod bound to `node` in `namespace` uses `name` (a Secret, ConfigMap or
        /// ServiceAccount, as `kind` says).
        func node(_ node: String, uses kind: PodReferences.Kind, namespace: String, name: String) async -> Bool
    }

    /// The node a user speaks for, if it is a node agent.
    public static func nodeName(of user: UserInfo) -> String? {
        guard user.groups.contains(BootstrapPolicy.nodesGroup), user.name.hasPrefix(BootstrapPolicy.nodeUserPrefix) else { return nil }
        let name = String(user.name.dropFirst(BootstrapPolicy.nodeUserPrefix.count))
        return name.isEmpty ? nil : name
    }

    /// The Secret the API server's calls to node agents are checked against: every node
    /// agent reads it (see ARCHITECTURE's known limits).
    public static let agentClientSecret = (namespace: "kube-system", name: "netplane-kubelet-client")

    public static func authorize(_ a: RequestAttributes, graph: some Graph) async -> Decision {
        guard let node = nodeName(of: a.user) else { return .noOpinion(reason: "") }
        guard case .resource(let group, let resource, let subresource, let namespace, let name) = a.target else {
            return .noOpinion(reason: "")
        }
        let allow = Decision.allow(reason: "node \(node) may \(a.verb) its own \(resource)")
        // Kubernetes' own words, which the 403 carries after the RBAC message.
        let refuse = Decision.noOpinion(reason: "no relationship found between node '\(node)' and this object")
        switch (group, resource) {
        case ("", "nodes"):
            if subresource.isEmpty, ["get", "list", "watch", "create"].contains(a.verb) { return allow }
            if name == node, ["", "status"].contains(subresource), ["get", "patch", "update", "delete"].contains(a.verb) { return allow }
            return refuse
        case ("", "pods"):
            if subresource.isEmpty, ["list", "watch"].contains(a.verb), name.isEmpty {
                return selects(a.fieldSelector, node: node) ? allow
                    : .noOpinion(reason: "node '\(node)' can only \(a.verb) pods with fieldSelector spec.nodeName=\(node)")
            }
            // The pod itself is read or deleted, only its status written: a node that could
            // patch a spec could point its pod at any Secret or service account, then read it.
            let podVerbs = subresource.isEmpty ? ["get", "watch", "delete"] : subresource == "status" ? ["get", "patch", "update"] : []
            guard !name.isEmpty, podVerbs.contains(a.verb) else { return refuse }
            return await graph.nodeOfPod(namespace: namespace, name: name) == node ? allow : refuse
        case ("", "events"), ("events.k8s.io", "events"):
            return ["create", "patch", "update"].contains(a.verb) ? allow : refuse
        case ("", "secrets"), ("", "configmaps"):
            guard a.verb == "get", !name.isEmpty, subresource.isEmpty else { return refuse }
            if resource == "secrets", namespace == agentClientSecret.namespace, name == agentClientSecret.name { return allow }
            return await graph.node(node, uses: resource == "secrets" ? .secret : .configMap, namespace: namespace, name: name) ? allow : refuse
        case ("", "serviceaccounts"):
            guard a.verb == "create", subresource == "token", !name.isEmpty else { return refuse }
            return await graph.node(node, uses: .serviceAccount, namespace: namespace, name: name) ? allow : refuse
        case ("coordination.k8s.io", "leases"):
            guard namespace == "kube-node-lease", subresource.isEmpty else { return refuse }
            if a.verb == "create" && name.isEmpty { return allow }
            return name == node && ["get", "patch", "update", "delete", "create"].contains(a.verb) ? allow : refuse
        default:
            return .noOpinion(reason: "")
        }
    }

    /// Whether a field selector limits a pod list to `node`'s pods.
    static func selects(_ fieldSelector: String, node: String) -> Bool {
        fieldSelector.split(separator: ",").contains { (term: Substring) -> Bool in
            let t = String(term.filter { $0 != " " })
            return t == "spec.nodeName=\(node)" || t == "spec.nodeName==\(node)"
        }
    }
}

/// The objects a pod uses by name: the Secrets, ConfigMaps and ServiceAccount the node
/// agent reads to start it.
public enum PodReferences {
    public enum Kind: Sendable { case secret, configMap, serviceAccount }

    public static func uses(_ pod: JSONValue, _ kind: Kind, name: String) -> Bool {
        names(pod, kind).contains(name)
    }

    public static func names(_ pod: JSONValue, _ kind: Kind) -> Set<String> {
        let spec = pod["spec"] ?? .null
        if kind == .serviceAccount {
            return [spec["serviceAccountName"]?.stringValue ?? spec["serviceAccount"]?.stringValue ?? "default"]
        }
        var out = Set<String>()
        func add(_ value: JSONValue?) { if let s = value?.stringValue, !s.isEmpty { out.insert(s) } }
        let secret = kind == .secret
        for volume in spec["volumes"]?.arrayValue ?? [] {
            add(secret ? volume[path: ["secret", "secretName"]] : volume[path: ["configMap", "name"]])
            for source in volume[path: ["projected", "sources"]]?.arrayValue ?? [] {
                add(secret ? source[path: ["secret", "name"]] : source[path: ["configMap", "name"]])
            }
        }
        let containers = ["initContainers", "containers", "ephemeralContainers"].flatMap { spec[$0]?.arrayValue ?? [] }
        for container in containers {
            for env in container["env"]?.arrayValue ?? [] {
                add(env[path: ["valueFrom", secret ? "secretKeyRef" : "configMapKeyRef", "name"]])
            }
            for from in container["envFrom"]?.arrayValue ?? [] {
                add(from[path: [secret ? "secretRef" : "configMapRef", "name"]])
            }
        }
        if secret { for ref in spec["imagePullSecrets"]?.arrayValue ?? [] { add(ref["name"]) } }
        return out
    }
}
