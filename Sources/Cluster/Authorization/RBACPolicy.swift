public import JSON
public import APIMachinery

/// Every Role, ClusterRole and binding of the cluster at one moment, indexed by subject so
/// a request is judged by looking up its user's and groups' bindings only (the RBAC
/// authorizer's cost must not grow with the number of bindings: RBAC on vs off ≤ 5%).
public struct RBACPolicy: Sendable {
    public struct Binding: Sendable, Equatable {
        public var name: String
        /// "" for a ClusterRoleBinding.
        public var namespace: String
        public var roleRef: RoleRef
        public var subjects: [Subject]

        public init(name: String, namespace: String, roleRef: RoleRef, subjects: [Subject]) {
            self.name = name
            self.namespace = namespace
            self.roleRef = roleRef
            self.subjects = subjects
        }
    }

    /// ClusterRole name → rules.
    public private(set) var clusterRoles: [String: [PolicyRule]] = [:]
    /// Namespace → Role name → rules.
    public private(set) var roles: [String: [String: [PolicyRule]]] = [:]
    /// User or group → the bindings naming it.
    private var bindingsBySubject: [SubjectKey: [Binding]] = [:]
    /// "namespace/name" → binding, to take a changed binding out of the index.
    private var bindingsByName: [String: Binding] = [:]

    public init() {}

    public mutating func setClusterRole(_ name: String, rules: [PolicyRule]?) { clusterRoles[name] = rules }
    public mutating func setRole(namespace: String, _ name: String, rules: [PolicyRule]?) { roles[namespace, default: [:]][name] = rules }

    /// Adds (or with `nil`, only removes) the binding `namespace/name`.
    public mutating func setBinding(namespace: String, name: String, _ binding: Binding?) {
        let id = "\(namespace)/\(name)"
        if let old = bindingsByName.removeValue(forKey: id) {
            for key in Set(old.subjects.map(\.key)) {
                bindingsBySubject[key]?.removeAll { $0.name == name && $0.namespace == namespace }
                if bindingsBySubject[key]?.isEmpty == true { bindingsBySubject[key] = nil }
            }
        }
        guard let binding else { return }
        bindingsByName[id] = binding
        for key in Set(binding.subjects.map(\.key)) { bindingsBySubject[key, default: []].append(binding) }
    }

    /// The rules a binding grants.
    func rules(of binding: Binding) -> [PolicyRule] {
        switch binding.roleRef.kind {
        case .clusterRole: return clusterRoles[binding.roleRef.name] ?? []
        case .role: return roles[binding.namespace]?[binding.roleRef.name] ?? []
        }
    }

    /// The bindings that apply to `user` in `namespace`: its cluster bindings, and that
    /// namespace's bindings when there is one; the user's own first, then each group's.
    func bindings(for user: UserInfo, namespace: String) -> [Binding] {
        var out: [Binding] = []
        _ = firstBinding(of: user, namespace: namespace) { out.append($0); return false }
        return out
    }

    /// The first of `user`'s bindings in `namespace` (in the order `bindings(for:)` lists
    /// them) that `matches`, looked at one by one: a request is judged with no list made.
    func firstBinding(of user: UserInfo, namespace: String, where matches: (Binding) -> Bool) -> Binding? {
        func first(_ key: SubjectKey) -> Binding? {
            bindingsBySubject[key]?.first { ($0.namespace.isEmpty || $0.namespace == namespace) && matches($0) }
        }
        if let found = first(SubjectKey(isGroup: false, name: user.name)) { return found }
        for group in user.groups {
            if let found = first(SubjectKey(isGroup: true, name: group)) { return found }
        }
        return nil
    }

    /// The RBAC authorizer: allowed when a binding of the user's grants a rule allowing it.
    public func authorize(_ attributes: RequestAttributes) -> Decision {
        let granting = firstBinding(of: attributes.user, namespace: attributes.namespace) { binding in
            rules(of: binding).contains { $0.allows(attributes) }
        }
        guard let binding = granting else { return .noOpinion(reason: "") }
        let via = binding.namespace.isEmpty ? "ClusterRoleBinding \"\(binding.name)\""
                                            : "RoleBinding \"\(binding.name)/\(binding.namespace)\""
        return .allow(reason: "RBAC: allowed by \(via) of \(binding.roleRef.kind.rawValue) \"\(binding.roleRef.name)\"")
    }

    /// Every rule `user` holds in `namespace` ("" for cluster-wide rules only): what
    /// SelfSubjectRulesReview lists and what escalation checks compare against.
    public func rules(for user: UserInfo, namespace: String) -> [PolicyRule] {
        var seen = Set<PolicyRule>()
        var out: [PolicyRule] = []
        for binding in bindings(for: user, namespace: namespace) {
            for rule in rules(of: binding) where seen.insert(rule).inserted { out.append(rule) }
        }
        return out
    }
}

// MARK: - Reading the API objects

/// Reading and checking RBAC objects as stored (field paths and messages as Kubernetes' own).
public enum RBACObjects {
    public static let group = "rbac.authorization.k8s.io"

    /// A Role's or ClusterRole's rules, with the problems found (empty when valid).
    public static func rules(of role: JSONValue, clusterScoped: Bool) -> (rules: [PolicyRule], problems: [FieldError]) {
        var problems: [FieldError] = []
        var rules: [PolicyRule] = []
        for (i, raw) in (role["rules"]?.arrayValue ?? []).enumerated() {
            let rule = PolicyRule(json: raw)
            let path = "rules[\(i)]"
            if rule.verbs.isEmpty { problems.append(FieldError(field: "\(path).verbs", reason: "FieldValueRequired", message: "Required value: verbs must contain at least one value")) }
            if !rule.nonResourceURLs.isEmpty {
                if !clusterScoped { problems.append(.invalid("\(path).nonResourceURLs", rule.nonResourceURLs.joined(separator: ","), "namespaced rules cannot apply to non-resource URLs")) }
                if !rule.resources.isEmpty || !rule.apiGroups.isEmpty {
                    problems.append(.invalid("\(path).nonResourceURLs", rule.nonResourceURLs.joined(separator: ","), "rules cannot apply to both regular resources and non-resource URLs"))
                }
            } else if rule.resources.isEmpty {
                problems.append(FieldError(field: "\(path).resources", reason: "FieldValueRequired", message: "Required value: resource rules must supply at least one resource"))
            } else if raw["apiGroups"] == nil {
                problems.append(FieldError(field: "\(path).apiGroups", reason: "FieldValueRequired", message: "Required value: resource rules must supply at least one api group"))
            }
            rules.append(rule)
        }
        return (rules, problems)
    }

    /// A ClusterRole's aggregationRule selectors (nil when it aggregates nothing).
    public static func aggregationSelectors(of role: JSONValue) throws(APIError) -> [LabelSelector]? {
        guard let selectors = role[path: ["aggregationRule", "clusterRoleSelectors"]]?.arrayValue else { return nil }
        var out: [LabelSelector] = []
        for s in selectors { out.append(try LabelSelector(json: s)) }
        return out
    }

    /// A binding as stored, with the problems found (empty when valid).
    public static func binding(_ object: JSONValue, namespace: String) -> (binding: RBACPolicy.Binding?, problems: [FieldError]) {
        var problems: [FieldError] = []
        let name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        let ref = object["roleRef"]
        let refKind = ref?["kind"]?.stringValue ?? ""
        let refName = ref?["name"]?.stringValue ?? ""
        if ref?["apiGroup"]?.stringValue != group {
            problems.append(.notSupported("roleRef.apiGroup", ref?["apiGroup"]?.stringValue ?? "", [group]))
        }
        var roleKind = RoleRef.Kind(rawValue: refKind)
        if roleKind == nil || (namespace.isEmpty && roleKind == .role) {
            problems.append(.notSupported("roleRef.kind", refKind, namespace.isEmpty ? ["ClusterRole"] : ["Role", "ClusterRole"]))
            roleKind = nil
        }
        if refName.isEmpty { problems.append(.required("roleRef.name")) }
        var subjects: [Subject] = []
        for (i, raw) in (object["subjects"]?.arrayValue ?? []).enumerated() {
            let kind = raw["kind"]?.stringValue ?? ""
            let subjectName = raw["name"]?.stringValue ?? ""
            let path = "subjects[\(i)]"
            guard let k = Subject.Kind(rawValue: kind) else {
                problems.append(.notSupported("\(path).kind", kind, ["ServiceAccount", "User", "Group"]))
                continue
            }
            if subjectName.isEmpty { problems.append(.required("\(path).name")) }
            var subjectNamespace = raw["namespace"]?.stringValue ?? ""
            if k == .serviceAccount {
                if raw["apiGroup"]?.stringValue.map({ !$0.isEmpty }) == true {
                    problems.append(.notSupported("\(path).apiGroup", raw["apiGroup"]?.stringValue ?? "", [""]))
                }
                if subjectNamespace.isEmpty {
                    if namespace.isEmpty { problems.append(.required("\(path).namespace")) }
                    subjectNamespace = namespace
                }
            } else if raw["apiGroup"]?.stringValue != group {
                problems.append(.notSupported("\(path).apiGroup", raw["apiGroup"]?.stringValue ?? "", [group]))
            }
            subjects.append(Subject(kind: k, name: subjectName, namespace: subjectNamespace))
        }
        guard let roleKind, problems.isEmpty else { return (nil, problems) }
        return (RBACPolicy.Binding(name: name, namespace: namespace, roleRef: RoleRef(kind: roleKind, name: refName), subjects: subjects), [])
    }

    /// The rules of aggregated ClusterRoles: for each ClusterRole with an aggregationRule, the
    /// union of the rules of every other ClusterRole its selectors pick (in name order, each
    /// rule once), as the clusterrole-aggregation controller writes them. Aggregated roles
    /// that pick each other (admin picks edit, which picks view) are settled together: the
    /// union is taken again with the new rules until nothing changes.
    public static func aggregatedRules(_ clusterRoles: [JSONValue]) -> [String: [PolicyRule]] {
        let byName = clusterRoles.sorted { name($0) < name($1) }
        var rulesByName: [String: [PolicyRule]] = [:]
        var selectorsByName: [String: [LabelSelector]] = [:]
        for role in byName {
            rulesByName[name(role)] = (role["rules"]?.arrayValue ?? []).map(PolicyRule.init(json:))
            if let selectors = try? aggregationSelectors(of: role) { selectorsByName[name(role)] = selectors }
        }
        for _ in 0...byName.count {
            var changed = false
            for role in byName {
                guard let selectors = selectorsByName[name(role)] else { continue }
                var seen = Set<PolicyRule>()
                var rules: [PolicyRule] = []
                for other in byName where name(other) != name(role) {
                    let labels = (other[path: ["metadata", "labels"]]?.objectValue ?? [:]).compactMapValues(\.stringValue)
                    guard selectors.contains(where: { $0.matches(labels) }) else { continue }
                    for rule in rulesByName[name(other)] ?? [] where seen.insert(rule).inserted { rules.append(rule) }
                }
                if rulesByName[name(role)] != rules {
                    rulesByName[name(role)] = rules
                    changed = true
                }
            }
            if !changed { break }
        }
        return rulesByName.filter { selectorsByName[$0.key] != nil }
    }

    static func name(_ object: JSONValue) -> String { object[path: ["metadata", "name"]]?.stringValue ?? "" }
}
