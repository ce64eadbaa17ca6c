public import JSON

/// One rule of a Role or ClusterRole (rbac.authorization.k8s.io/v1 PolicyRule): the verbs it
/// allows on resources of API groups, optionally only on named objects; or, in a ClusterRole,
/// on non-resource URLs. "*" is every value of its list.
public struct PolicyRule: Sendable, Equatable, Hashable {
    public var verbs: [String]
    public var apiGroups: [String]
    public var resources: [String]
    public var resourceNames: [String]
    public var nonResourceURLs: [String]

    public init(verbs: [String], apiGroups: [String] = [], resources: [String] = [], resourceNames: [String] = [],
                nonResourceURLs: [String] = []) {
        self.verbs = verbs
        self.apiGroups = apiGroups
        self.resources = resources
        self.resourceNames = resourceNames
        self.nonResourceURLs = nonResourceURLs
    }

    /// A rule on resources: `PolicyRule.resource(["get"], "", ["pods", "pods/log"])`.
    public static func resource(_ verbs: [String], _ groups: [String], _ resources: [String], names: [String] = []) -> PolicyRule {
        PolicyRule(verbs: verbs, apiGroups: groups, resources: resources, resourceNames: names)
    }

    /// A rule on non-resource URLs ("/healthz", "/api/*").
    public static func urls(_ verbs: [String], _ urls: [String]) -> PolicyRule {
        PolicyRule(verbs: verbs, nonResourceURLs: urls)
    }

    /// Reads a rule as stored; a missing list is empty (and so matches nothing).
    public init(json: JSONValue) {
        func strings(_ key: String) -> [String] { json[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        self.init(verbs: strings("verbs"), apiGroups: strings("apiGroups"), resources: strings("resources"),
                  resourceNames: strings("resourceNames"), nonResourceURLs: strings("nonResourceURLs"))
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = ["verbs": .array(verbs.map { .string($0) })]
        if !apiGroups.isEmpty || !resources.isEmpty { object["apiGroups"] = .array(apiGroups.map { .string($0) }) }
        if !resources.isEmpty { object["resources"] = .array(resources.map { .string($0) }) }
        if !resourceNames.isEmpty { object["resourceNames"] = .array(resourceNames.map { .string($0) }) }
        if !nonResourceURLs.isEmpty { object["nonResourceURLs"] = .array(nonResourceURLs.map { .string($0) }) }
        return .object(object)
    }

    // MARK: Matching (k8s.io/kubernetes/pkg/apis/rbac/v1 helpers)

    /// Whether this rule allows `attributes`.
    public func allows(_ attributes: RequestAttributes) -> Bool {
        guard verbs.contains("*") || verbs.contains(attributes.verb) else { return false }
        switch attributes.target {
        case .resource(let group, let resource, let subresource, _, let name):
            guard apiGroups.contains("*") || apiGroups.contains(group) else { return false }
            guard matchesResource(resource, subresource: subresource) else { return false }
            return resourceNames.isEmpty || (!name.isEmpty && resourceNames.contains(name))
        case .nonResource(let path):
            return nonResourceURLs.contains { Self.urlMatches($0, path) }
        }
    }

    /// "pods" matches pods; "pods/log" only that subresource; "*/scale" the scale
    /// subresource of every resource; "*" everything.
    func matchesResource(_ resource: String, subresource: String) -> Bool {
        let combined = subresource.isEmpty ? resource : "\(resource)/\(subresource)"
        return resources.contains { r in
            r == "*" || r == combined || (!subresource.isEmpty && r == "*/\(subresource)")
        }
    }

    /// "/healthz" matches itself; "/api/*" every path under /api/ (and "/api/" itself); "*" all.
    static func urlMatches(_ rule: String, _ path: String) -> Bool {
        if rule == "*" || rule == path { return true }
        return rule.hasSuffix("*") && path.hasPrefix(String(rule.dropLast()))
    }

    /// Whether a requester holding `owner` may grant this rule (kube's rule coverage, used to
    /// refuse privilege escalation): every verb × group × resource × name this rule names must
    /// be one `owner` allows. A "*" here is only covered by a "*" there.
    public func isCovered(by owner: [PolicyRule]) -> Bool {
        if !nonResourceURLs.isEmpty {
            return verbs.allSatisfy { verb in
                nonResourceURLs.allSatisfy { url in
                    owner.contains { o in
                        (o.verbs.contains("*") || o.verbs.contains(verb))
                            && o.nonResourceURLs.contains { $0 == url || $0 == "*" || ($0.hasSuffix("*") && url.hasPrefix(String($0.dropLast()))) }
                    }
                }
            }
        }
        let names: [String?] = resourceNames.isEmpty ? [nil] : resourceNames
        for verb in verbs {
            for group in apiGroups {
                for resource in resources {
                    for name in names {
                        let covered = owner.contains { o in
                            guard o.verbs.contains("*") || o.verbs.contains(verb) else { return false }
                            guard o.apiGroups.contains("*") || o.apiGroups.contains(group) else { return false }
                            let resourceCovered = o.resources.contains { r in
                                if r == "*" || r == resource { return true }
                                // "*/scale" covers "deployments/scale".
                                if r.hasPrefix("*/"), let slash = resource.firstIndex(of: "/") {
                                    return resource[slash...] == r.dropFirst()
                                }
                                return false
                            }
                            guard resourceCovered else { return false }
                            if o.resourceNames.isEmpty { return true }
                            return name.map { o.resourceNames.contains($0) } ?? false
                        }
                        if !covered { return false }
                    }
                }
            }
        }
        return true
    }

    /// Kubernetes' compact form, as `kubectl describe` and `auth can-i --list` print it.
    public var summary: String {
        if !nonResourceURLs.isEmpty { return "\(nonResourceURLs.joined(separator: ",")) [\(verbs.joined(separator: ","))]" }
        let what = resources.flatMap { r in apiGroups.map { $0.isEmpty ? r : "\(r).\($0)" } }.joined(separator: ",")
        let names = resourceNames.isEmpty ? "" : " [\(resourceNames.joined(separator: ","))]"
        return "\(what)\(names) [\(verbs.joined(separator: ","))]"
    }
}

/// Who a binding grants its role to.
public struct Subject: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable { case user = "User", group = "Group", serviceAccount = "ServiceAccount" }
    public var kind: Kind
    public var name: String
    /// A ServiceAccount's namespace.
    public var namespace: String

    public init(kind: Kind, name: String, namespace: String = "") {
        self.kind = kind
        self.name = name
        self.namespace = namespace
    }

    /// The user or group this subject stands for (a ServiceAccount is the user
    /// system:serviceaccount:NS:NAME), as a request's user is looked up.
    var key: SubjectKey {
        switch kind {
        case .user: return SubjectKey(isGroup: false, name: name)
        case .group: return SubjectKey(isGroup: true, name: name)
        case .serviceAccount: return SubjectKey(isGroup: false, name: "system:serviceaccount:\(namespace):\(name)")
        }
    }
}

/// A user name or a group name, the key of the binding index. A request's keys are its
/// user's name and group names as they are, with no string made per request.
struct SubjectKey: Hashable, Sendable {
    var isGroup: Bool
    var name: String
}

/// The role a binding grants: a ClusterRole, or a Role of the binding's namespace.
public struct RoleRef: Sendable, Equatable, Hashable {
    public enum Kind: String, Sendable { case role = "Role", clusterRole = "ClusterRole" }
    public var kind: Kind
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// Who asks: an authenticated user's name and groups.
public struct UserInfo: Sendable, Equatable, Hashable {
    public var name: String
    public var groups: [String]

    public init(name: String, groups: [String]) {
        self.name = name
        self.groups = groups
    }

}
