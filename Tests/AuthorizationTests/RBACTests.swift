import APIMachinery
import Authorization
import JSON
import Testing

func ask(_ user: UserInfo, _ verb: String, _ resource: String, group: String = "", sub: String = "", ns: String = "", name: String = "") -> RequestAttributes {
    RequestAttributes(user: user, verb: verb, target: .resource(group: group, resource: resource, subresource: sub, namespace: ns, name: name))
}

func bind(_ policy: inout RBACPolicy, _ name: String, ns: String = "", role: String, kind: RoleRef.Kind = .clusterRole, _ subjects: [Subject]) {
    policy.setBinding(namespace: ns, name: name, .init(name: name, namespace: ns, roleRef: RoleRef(kind: kind, name: role), subjects: subjects))
}

let bob = UserInfo(name: "bob", groups: ["system:authenticated"])

@Suite struct RuleMatchingTests {
    @Test func verbsGroupsResourcesAndNamesMustAllMatch() {
        let rule = PolicyRule.resource(["get", "list"], ["apps"], ["deployments", "deployments/scale"], names: ["web"])
        #expect(rule.allows(ask(bob, "get", "deployments", group: "apps", name: "web")))
        #expect(rule.allows(ask(bob, "get", "deployments", group: "apps", sub: "scale", name: "web")))
        #expect(!rule.allows(ask(bob, "get", "deployments", group: "apps", sub: "status", name: "web")))
        #expect(!rule.allows(ask(bob, "get", "deployments", group: "apps", name: "db")))
        // A list names no object, so a rule restricted to names never allows it.
        #expect(!rule.allows(ask(bob, "list", "deployments", group: "apps")))
        #expect(!rule.allows(ask(bob, "delete", "deployments", group: "apps", name: "web")))
        #expect(!rule.allows(ask(bob, "get", "deployments", group: "", name: "web")))
    }

    @Test func wildcardsAndSubresourceWildcards() {
        #expect(PolicyRule.resource(["*"], ["*"], ["*"]).allows(ask(bob, "deletecollection", "anything", group: "x.io", sub: "status")))
        let scale = PolicyRule.resource(["update"], ["apps"], ["*/scale"])
        #expect(scale.allows(ask(bob, "update", "statefulsets", group: "apps", sub: "scale", name: "s")))
        #expect(!scale.allows(ask(bob, "update", "statefulsets", group: "apps", name: "s")))
        // "pods" does not reach pods/log.
        #expect(!PolicyRule.resource(["get"], [""], ["pods"]).allows(ask(bob, "get", "pods", sub: "log", ns: "a", name: "p")))
    }

    @Test func nonResourceURLsMatchExactlyOrByTrailingStar() {
        let rule = PolicyRule.urls(["get"], ["/healthz", "/apis/*"])
        func path(_ p: String, _ verb: String = "get") -> RequestAttributes { RequestAttributes(user: bob, verb: verb, target: .nonResource(path: p)) }
        #expect(rule.allows(path("/healthz")))
        #expect(!rule.allows(path("/healthz/etcd")))
        #expect(rule.allows(path("/apis/apps/v1")))
        #expect(!rule.allows(path("/apis")))
        #expect(!rule.allows(path("/healthz", "post")))
        // A resource rule never allows a path, nor a path rule a resource.
        #expect(!PolicyRule.resource(["*"], ["*"], ["*"]).allows(path("/healthz")))
        #expect(!rule.allows(ask(bob, "get", "pods")))
    }

    @Test func coverageRefusesEscalation() {
        let held = [PolicyRule.resource(["get", "list"], [""], ["pods", "secrets"]), .resource(["*"], ["apps"], ["deployments"])]
        #expect(PolicyRule.resource(["get"], [""], ["pods"]).isCovered(by: held))
        #expect(PolicyRule.resource(["create", "delete"], ["apps"], ["deployments"]).isCovered(by: held))
        #expect(!PolicyRule.resource(["delete"], [""], ["pods"]).isCovered(by: held))
        // A wildcard asked for is only covered by a wildcard held.
        #expect(!PolicyRule.resource(["*"], [""], ["pods"]).isCovered(by: held))
        #expect(!PolicyRule.resource(["get"], ["*"], ["pods"]).isCovered(by: held))
        #expect(PolicyRule.resource(["*"], ["*"], ["*"]).isCovered(by: [.resource(["*"], ["*"], ["*"])]))
        // Held only for named objects: covers those names, not the whole kind.
        let named = [PolicyRule.resource(["get"], [""], ["configmaps"], names: ["a"])]
        #expect(PolicyRule.resource(["get"], [""], ["configmaps"], names: ["a"]).isCovered(by: named))
        #expect(!PolicyRule.resource(["get"], [""], ["configmaps"]).isCovered(by: named))
        #expect(PolicyRule.resource(["update"], ["apps"], ["deployments/scale"]).isCovered(by: [.resource(["update"], ["apps"], ["*/scale"])]))
        #expect(PolicyRule.urls(["get"], ["/apis/apps"]).isCovered(by: [.urls(["get"], ["/apis/*"])]))
        #expect(!PolicyRule.urls(["get"], ["/metrics"]).isCovered(by: [.urls(["get"], ["/apis/*"])]))
    }
}

@Suite struct RBACPolicyTests {
    @Test func aRoleBindingGrantsOnlyInItsNamespaceAClusterBindingEverywhere() {
        var policy = RBACPolicy()
        policy.setRole(namespace: "team-a", "reader", rules: [.resource(["get", "list"], [""], ["pods"])])
        bind(&policy, "bob-reads", ns: "team-a", role: "reader", kind: .role, [Subject(kind: .user, name: "bob")])
        #expect(policy.authorize(ask(bob, "list", "pods", ns: "team-a")).allowed)
        #expect(!policy.authorize(ask(bob, "list", "pods", ns: "team-b")).allowed)
        #expect(!policy.authorize(ask(bob, "list", "pods")).allowed)
        // A Role of another namespace with the same name grants nothing here.
        policy.setRole(namespace: "team-b", "reader", rules: [.resource(["*"], ["*"], ["*"])])
        #expect(!policy.authorize(ask(bob, "delete", "pods", ns: "team-a", name: "x")).allowed)

        policy.setClusterRole("pod-reader", rules: [.resource(["get"], [""], ["pods"])])
        bind(&policy, "everyone", role: "pod-reader", [Subject(kind: .group, name: "system:authenticated")])
        #expect(policy.authorize(ask(bob, "get", "pods", ns: "team-b", name: "p")).allowed)
        // A RoleBinding to a ClusterRole grants it in the binding's namespace only.
        policy.setClusterRole("deleter", rules: [.resource(["delete"], [""], ["pods"])])
        bind(&policy, "bob-deletes", ns: "team-a", role: "deleter", [Subject(kind: .user, name: "bob")])
        #expect(policy.authorize(ask(bob, "delete", "pods", ns: "team-a", name: "p")).allowed)
        #expect(!policy.authorize(ask(bob, "delete", "pods", ns: "team-b", name: "p")).allowed)
        #expect(policy.authorize(ask(bob, "delete", "pods", ns: "team-a", name: "p")).reason
                == #"RBAC: allowed by RoleBinding "bob-deletes/team-a" of ClusterRole "deleter""#)
    }

    @Test func changingOrRemovingABindingTakesItsGrantAway() {
        var policy = RBACPolicy()
        policy.setClusterRole("admin", rules: [.resource(["*"], ["*"], ["*"])])
        bind(&policy, "b", role: "admin", [Subject(kind: .user, name: "bob"), Subject(kind: .user, name: "carol")])
        let carol = UserInfo(name: "carol", groups: [])
        #expect(policy.authorize(ask(carol, "get", "secrets", ns: "x", name: "s")).allowed)
        bind(&policy, "b", role: "admin", [Subject(kind: .user, name: "bob")])
        #expect(!policy.authorize(ask(carol, "get", "secrets", ns: "x", name: "s")).allowed)
        #expect(policy.authorize(ask(bob, "get", "secrets", ns: "x", name: "s")).allowed)
        policy.setBinding(namespace: "", name: "b", nil)
        #expect(!policy.authorize(ask(bob, "get", "secrets", ns: "x", name: "s")).allowed)
        // A binding to a role that does not exist (yet) grants nothing, and the role's
        // arrival grants it.
        bind(&policy, "late", role: "later", [Subject(kind: .user, name: "bob")])
        #expect(!policy.authorize(ask(bob, "get", "pods", ns: "x", name: "p")).allowed)
        policy.setClusterRole("later", rules: [.resource(["get"], [""], ["pods"])])
        #expect(policy.authorize(ask(bob, "get", "pods", ns: "x", name: "p")).allowed)
    }

    @Test func serviceAccountSubjectsAreTheirUsers() throws {
        let binding = try JSONValue.parse(#"{"metadata":{"name":"ci"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"ServiceAccount","name":"builder"}]}"#)
        let (parsed, problems) = RBACObjects.binding(binding, namespace: "ci")
        #expect(problems.isEmpty)
        var policy = RBACPolicy()
        policy.setClusterRole("view", rules: [.resource(["list"], [""], ["pods"])])
        policy.setBinding(namespace: "ci", name: "ci", parsed)
        let sa = UserInfo(name: "system:serviceaccount:ci:builder", groups: ["system:serviceaccounts", "system:serviceaccounts:ci"])
        #expect(policy.authorize(ask(sa, "list", "pods", ns: "ci")).allowed)
        #expect(!policy.authorize(ask(UserInfo(name: "system:serviceaccount:other:builder", groups: []), "list", "pods", ns: "ci")).allowed)
    }

    @Test func invalidObjectsAreRefusedWithKubernetesFieldPaths() throws {
        let binding = try JSONValue.parse(#"{"metadata":{"name":"x"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":""},"subjects":[{"kind":"Robot","name":"r"},{"kind":"User","name":"u"},{"kind":"ServiceAccount","name":"s"}]}"#)
        let problems = RBACObjects.binding(binding, namespace: "").problems.map(\.description)
        #expect(problems.contains(#"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#))
        #expect(problems.contains("roleRef.name: Required value"))
        #expect(problems.contains(#"subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#))
        #expect(problems.contains(#"subjects[1].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io""#))
        #expect(problems.contains("subjects[2].namespace: Required value"))
        let role = try JSONValue.parse(#"{"rules":[{"verbs":[],"apiGroups":[""],"resources":["pods"]},{"verbs":["get"],"resources":["pods"]},{"verbs":["get"],"nonResourceURLs":["/x"]}]}"#)
        let roleProblems = RBACObjects.rules(of: role, clusterScoped: false).problems.map(\.description)
        #expect(roleProblems == ["rules[0].verbs: Required value: verbs must contain at least one value",
                                 "rules[1].apiGroups: Required value: resource rules must supply at least one api group",
                                 #"rules[2].nonResourceURLs: Invalid value: "/x": namespaced rules cannot apply to non-resource URLs"#])
    }
}

@Suite struct DefaultPolicyTests {
    let policy = BootstrapPolicy.policy

    @Test func viewEditAndAdminAggregateAsInKubernetes() {
        let aggregated = RBACObjects.aggregatedRules(BootstrapPolicy.clusterRoles)
        #expect(Set(aggregated.keys) == ["admin", "edit", "view"])
        func can(_ role: String, _ verb: String, _ resource: String, group: String = "") -> Bool {
            (aggregated[role] ?? []).contains { $0.allows(ask(bob, verb, resource, group: group, ns: "a", name: "x")) }
        }
        #expect(can("view", "get", "pods") && !can("view", "get", "secrets") && !can("view", "delete", "pods"))
        #expect(can("edit", "get", "secrets") && can("edit", "delete", "pods") && can("edit", "update", "deployments", group: "apps"))
        #expect(!can("edit", "create", "rolebindings", group: "rbac.authorization.k8s.io"))
        // admin picks edit, which picks view: settled in one pass.
        #expect(can("admin", "create", "rolebindings", group: "rbac.authorization.k8s.io") && can("admin", "get", "pods")
                && can("admin", "delete", "pods"))
        // A new role labelled for view reaches view, edit and admin.
        let extra = try! JSONValue.parse(#"{"metadata":{"name":"widgets-view","labels":{"rbac.authorization.k8s.io/aggregate-to-view":"true"}},"rules":[{"verbs":["get"],"apiGroups":["example.com"],"resources":["widgets"]}]}"#)
        let more = RBACObjects.aggregatedRules(BootstrapPolicy.clusterRoles + [extra])
        for role in ["view", "edit", "admin"] {
            #expect(more[role]!.contains { $0.allows(ask(bob, "get", "widgets", group: "example.com", ns: "a", name: "w")) })
        }
    }

    @Test func everyAuthenticatedUserMayDiscoverAndAskAboutItself() {
        let anyone = UserInfo(name: "nobody-in-particular", groups: ["system:authenticated"])
        #expect(policy.authorize(RequestAttributes(user: anyone, verb: "get", target: .nonResource(path: "/apis/apps/v1"))).allowed)
        #expect(policy.authorize(RequestAttributes(user: anyone, verb: "get", target: .nonResource(path: "/version"))).allowed)
        #expect(policy.authorize(ask(anyone, "create", "selfsubjectaccessreviews", group: "authorization.k8s.io")).allowed)
        #expect(policy.authorize(ask(anyone, "create", "selfsubjectreviews", group: "authentication.k8s.io")).allowed)
        #expect(!policy.authorize(ask(anyone, "list", "pods", ns: "default")).allowed)
        #expect(!policy.authorize(ask(anyone, "create", "subjectaccessreviews", group: "authorization.k8s.io")).allowed)
        let masters = UserInfo(name: "root", groups: ["system:masters"])
        #expect(policy.authorize(ask(masters, "delete", "nodes", name: "n1")).allowed)
    }

    @Test func eachDaemonMayDoItsWorkAndNoMore() {
        func user(_ daemon: String) -> UserInfo { UserInfo(name: "system:netplane:\(daemon)", groups: ["system:authenticated"]) }
        let proxy = user("proxy"), policyDaemon = user("policy"), flanneld = user("flanneld")
        let scheduler = user("scheduler"), controllers = user("controllers")
        #expect(policy.authorize(ask(proxy, "watch", "endpointslices", group: "discovery.k8s.io")).allowed)
        #expect(policy.authorize(ask(proxy, "list", "services")).allowed)
        #expect(!policy.authorize(ask(proxy, "get", "secrets", ns: "kube-system", name: "x")).allowed)
        #expect(!policy.authorize(ask(proxy, "update", "services", ns: "default", name: "x")).allowed)
        #expect(policy.authorize(ask(policyDaemon, "watch", "networkpolicies", group: "networking.k8s.io")).allowed)
        #expect(!policy.authorize(ask(policyDaemon, "delete", "networkpolicies", group: "networking.k8s.io", ns: "a", name: "p")).allowed)
        #expect(policy.authorize(ask(flanneld, "patch", "nodes", sub: "status", name: "n1")).allowed)
        #expect(!policy.authorize(ask(flanneld, "patch", "nodes", name: "n1")).allowed)
        #expect(!policy.authorize(ask(flanneld, "list", "pods")).allowed)
        #expect(policy.authorize(ask(scheduler, "create", "pods", sub: "binding", ns: "a", name: "p")).allowed)
        #expect(!policy.authorize(ask(scheduler, "create", "pods", ns: "a")).allowed)
        #expect(policy.authorize(ask(controllers, "create", "pods", ns: "a")).allowed)
        #expect(policy.authorize(ask(controllers, "update", "deployments", group: "apps", sub: "status", ns: "a", name: "d")).allowed)
        #expect(policy.authorize(ask(controllers, "watch", "leases", group: "coordination.k8s.io", ns: "kube-node-lease")).allowed)
        // Its garbage collector reads, patches and deletes any kind (custom resources are
        // defined at run time), as kube's does; it creates and updates only what it manages.
        #expect(policy.authorize(ask(controllers, "delete", "widgets", group: "example.com", ns: "a", name: "w")).allowed)
        #expect(!policy.authorize(ask(controllers, "create", "widgets", group: "example.com", ns: "a")).allowed)
        #expect(!policy.authorize(ask(controllers, "update", "leases", group: "coordination.k8s.io", ns: "kube-system", name: "l")).allowed)
        #expect(!policy.authorize(ask(controllers, "create", "secrets", ns: "kube-system")).allowed)
        #expect(!policy.authorize(ask(controllers, "create", "pods", sub: "exec", ns: "a", name: "p")).allowed)
        #expect(!policy.authorize(ask(controllers, "create", "clusterrolebindings", group: "rbac.authorization.k8s.io")).allowed)
    }

    @Test func reconcilingAddsBackWhatWasRemovedOnlyWhenAutoupdateIsKept() throws {
        let wanted = BootstrapPolicy.clusterRoleBindings.first { $0[path: ["metadata", "name"]] == "system:basic-user" }!
        var trimmed = wanted
        trimmed["subjects"] = []
        let mended = try #require(BootstrapPolicy.reconciled(existing: trimmed, wanted: wanted))
        #expect(mended["subjects"] == wanted["subjects"])
        #expect(BootstrapPolicy.reconciled(existing: wanted, wanted: wanted) == Optional<JSONValue>.none)
        trimmed[path: ["metadata", "annotations", "rbac.authorization.kubernetes.io/autoupdate"]] = "false"
        #expect(BootstrapPolicy.reconciled(existing: trimmed, wanted: wanted) == Optional<JSONValue>.none)
    }
}

/// Pods and what they use, for the Node authorizer.
struct FakeGraph: NodeAuthorizer.Graph {
    var pods: [String: JSONValue]   // "ns/name" → pod

    func nodeOfPod(namespace: String, name: String) async -> String? {
        pods["\(namespace)/\(name)"].map { $0[path: ["spec", "nodeName"]]?.stringValue ?? "" }
    }

    func node(_ node: String, uses kind: PodReferences.Kind, namespace: String, name: String) async -> Bool {
        pods.contains { key, pod in
            key.hasPrefix("\(namespace)/") && pod[path: ["spec", "nodeName"]]?.stringValue == node && PodReferences.uses(pod, kind, name: name)
        }
    }
}

@Suite struct NodeAuthorizerTests {
    let node1 = UserInfo(name: "system:node:n1", groups: ["system:nodes", "system:authenticated"])
    let graph = FakeGraph(pods: [
        "a/web": try! JSONValue.parse(#"{"spec":{"nodeName":"n1","serviceAccountName":"web-sa","volumes":[{"name":"c","secret":{"secretName":"tls"}},{"name":"p","projected":{"sources":[{"configMap":{"name":"settings"}}]}}],"containers":[{"name":"c","envFrom":[{"secretRef":{"name":"env"}}]}]}}"#),
        "a/db": try! JSONValue.parse(#"{"spec":{"nodeName":"n2","volumes":[{"name":"s","secret":{"secretName":"db-password"}}],"containers":[{"name":"c"}]}}"#),
        "a/pending": try! JSONValue.parse(#"{"spec":{"containers":[{"name":"c"}]}}"#),
    ])

    func decide(_ a: RequestAttributes) async -> Bool { await NodeAuthorizer.authorize(a, graph: graph).allowed }

    @Test func aNodeTouchesItsOwnNodeAndLeaseOnly() async {
        #expect(await decide(ask(node1, "patch", "nodes", sub: "status", name: "n1")))
        #expect(await decide(ask(node1, "get", "nodes", name: "n2")))
        #expect(!(await decide(ask(node1, "patch", "nodes", sub: "status", name: "n2"))))
        #expect(!(await decide(ask(node1, "delete", "nodes", name: "n2"))))
        #expect(await decide(ask(node1, "patch", "leases", group: "coordination.k8s.io", ns: "kube-node-lease", name: "n1")))
        #expect(!(await decide(ask(node1, "patch", "leases", group: "coordination.k8s.io", ns: "kube-node-lease", name: "n2"))))
        #expect(!(await decide(ask(node1, "get", "leases", group: "coordination.k8s.io", ns: "kube-system", name: "n1"))))
    }

    @Test func aNodeSeesAndChangesOnlyThePodsBoundToIt() async {
        var list = ask(node1, "list", "pods")
        #expect(!(await decide(list)))
        list.fieldSelector = "spec.nodeName=n2"
        #expect(!(await decide(list)))
        list.fieldSelector = "spec.nodeName=n1"
        #expect(await decide(list))
        #expect(await decide(ask(node1, "patch", "pods", sub: "status", ns: "a", name: "web")))
        #expect(await decide(ask(node1, "delete", "pods", ns: "a", name: "web")))
        #expect(!(await decide(ask(node1, "patch", "pods", sub: "status", ns: "a", name: "db"))))
        #expect(!(await decide(ask(node1, "get", "pods", ns: "a", name: "pending"))))
        #expect(!(await decide(ask(node1, "create", "pods", ns: "a"))))
        let refusal = await NodeAuthorizer.authorize(ask(node1, "delete", "pods", ns: "a", name: "db"), graph: graph)
        #expect(refusal.reason == "no relationship found between node 'n1' and this object")
    }

    @Test func aNodeReadsWhatItsPodsUse() async {
        #expect(await decide(ask(node1, "get", "secrets", ns: "a", name: "tls")))
        #expect(await decide(ask(node1, "get", "secrets", ns: "a", name: "env")))
        #expect(await decide(ask(node1, "get", "configmaps", ns: "a", name: "settings")))
        #expect(!(await decide(ask(node1, "get", "secrets", ns: "a", name: "db-password"))))
        #expect(!(await decide(ask(node1, "list", "secrets", ns: "a"))))
        #expect(await decide(ask(node1, "create", "serviceaccounts", sub: "token", ns: "a", name: "web-sa")))
        #expect(!(await decide(ask(node1, "create", "serviceaccounts", sub: "token", ns: "a", name: "default"))))
        #expect(await decide(ask(node1, "create", "events", ns: "a")))
    }

    @Test func othersAreLeftToTheNextAuthorizer() async {
        // Not a node (no system:nodes group), or a kind the Node authorizer has no word on.
        #expect(await NodeAuthorizer.authorize(ask(UserInfo(name: "system:node:n1", groups: []), "get", "nodes", name: "n1"), graph: graph)
                == .noOpinion(reason: ""))
        #expect(await NodeAuthorizer.authorize(ask(node1, "get", "deployments", group: "apps", ns: "a", name: "d"), graph: graph)
                == .noOpinion(reason: ""))
    }
}
