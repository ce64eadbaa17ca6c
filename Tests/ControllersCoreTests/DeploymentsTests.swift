import APITypes
import ControllersCore
import JSON
import Testing

/// The Deployment controller's decisions on hand-made ReplicaSets.
@Suite struct DeploymentsTests {
    static func deployment(replicas: Int = 4, image: String = "nginx:2", strategy: String = #"{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":1}}"#) -> Deployment {
        Deployment(json: try! JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","uid":"d-1","generation":2},"spec":{"replicas":\#(replicas),"selector":{"matchLabels":{"app":"web"}},"strategy":\#(strategy),"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"\#(image)"}]}}}}"#))
    }

    static func replicaSet(_ name: String, image: String, replicas: Int, available: Int, revision: Int) -> ReplicaSet {
        ReplicaSet(json: try! JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"\#(name)","namespace":"shop","uid":"u-\#(name)","annotations":{"deployment.kubernetes.io/revision":"\#(revision)"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"d-1","controller":true}]},"spec":{"replicas":\#(replicas),"template":{"metadata":{"labels":{"app":"web","pod-template-hash":"h\#(revision)"}},"spec":{"containers":[{"name":"c","image":"\#(image)"}]}}},"status":{"replicas":\#(replicas),"availableReplicas":\#(available),"readyReplicas":\#(available)}}"#))
    }

    @Test func aNewTemplateGetsAReplicaSetNamedByItsHash() {
        let d = Self.deployment(image: "nginx:1")
        let plan = Deployments.plan(d, owned: [], now: 0)
        let hash = Deployments.templateHash(d.template)
        #expect(plan.create?.name == "web-\(hash)" && plan.revision == 1)
        #expect(plan.create?[path: ["spec", "replicas"]] == 4)
        #expect(plan.create?[path: ["spec", "selector", "matchLabels", "pod-template-hash"]] == .string(hash))
        #expect(plan.create?[path: ["spec", "template", "metadata", "labels", "pod-template-hash"]] == .string(hash))
        // The same template, the same hash; another template, another.
        #expect(Deployments.templateHash(d.template) == hash && Deployments.templateHash(Self.deployment().template) != hash)
        #expect(hash.allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
    }

    @Test func aRollingUpdateStaysWithinSurgeAndUnavailability() {
        // 4 replicas, surge 1, unavailable 1: the new ReplicaSet starts with 1 (4 + 1 - 4)...
        let old = Self.replicaSet("web-old", image: "nginx:1", replicas: 4, available: 4, revision: 1)
        let start = Deployments.plan(Self.deployment(), owned: [old], now: 0)
        #expect(start.create?[path: ["spec", "replicas"]] == 1 && start.revision == 2)
        // ...and the old one gives up one available pod (4 available, 3 must stay).
        #expect(start.scale == ["web-old": 3])
        // The new pod not yet available: no old one may go (3 must stay available), but one
        // more new one fits in the surge (3 + 1 < 4 + 1).
        let new = Self.replicaSet("web-new", image: "nginx:2", replicas: 1, available: 0, revision: 2)
        let waiting = Deployments.plan(Self.deployment(), owned: [Self.replicaSet("web-old", image: "nginx:1", replicas: 3, available: 3, revision: 1), new], now: 0)
        #expect(waiting.create == nil && waiting.scale == ["web-new": 2], "\(waiting.scale)")
        // At the surge, with nothing new available: nothing moves.
        let full = Deployments.plan(Self.deployment(), owned: [Self.replicaSet("web-old", image: "nginx:1", replicas: 3, available: 3, revision: 1),
                                                               Self.replicaSet("web-new", image: "nginx:2", replicas: 2, available: 0, revision: 2)], now: 0)
        #expect(full.scale.isEmpty, "\(full.scale)")
        // Once available, the next step.
        let ready = Self.replicaSet("web-new", image: "nginx:2", replicas: 1, available: 1, revision: 2)
        let step = Deployments.plan(Self.deployment(), owned: [Self.replicaSet("web-old", image: "nginx:1", replicas: 3, available: 3, revision: 1), ready], now: 0)
        #expect(step.scale == ["web-new": 2, "web-old": 2], "\(step.scale)")
    }

    @Test func aLaggingStatusNeverTakesMoreThanMaxUnavailable() {
        // The old ReplicaSet was just cut from 4 to 3, but its status still says 4 available;
        // the new pod is not available yet. Nothing more may go (3 must stay available, and
        // only 3 old pods are asked for).
        var old = Self.replicaSet("web-old", image: "nginx:1", replicas: 3, available: 4, revision: 1)
        old.json[path: ["status", "replicas"]] = 4
        let new = Self.replicaSet("web-new", image: "nginx:2", replicas: 2, available: 0, revision: 2)
        let plan = Deployments.plan(Self.deployment(), owned: [old, new], now: 0)
        #expect(plan.scale.isEmpty, "\(plan.scale)")
        // Old pods that are not available still go first, within the same bound.
        var broken = Self.replicaSet("web-old", image: "nginx:1", replicas: 4, available: 2, revision: 1)
        broken.json[path: ["status", "replicas"]] = 4
        let fresh = Self.replicaSet("web-new", image: "nginx:2", replicas: 1, available: 1, revision: 2)
        #expect(Deployments.plan(Self.deployment(), owned: [broken, fresh], now: 0).scale == ["web-old": 2])
    }

    @Test func recreateStopsTheOldPodsBeforeStartingTheNew() {
        let recreate = Self.deployment(strategy: #"{"type":"Recreate"}"#)
        let old = Self.replicaSet("web-old", image: "nginx:1", replicas: 4, available: 4, revision: 1)
        let first = Deployments.plan(recreate, owned: [old], now: 0)
        #expect(first.scale == ["web-old": 0] && first.create?[path: ["spec", "replicas"]] == 0)
        let stopped = Self.replicaSet("web-old", image: "nginx:1", replicas: 0, available: 0, revision: 1)
        let new = Self.replicaSet("web-new", image: "nginx:2", replicas: 0, available: 0, revision: 2)
        #expect(Deployments.plan(recreate, owned: [stopped, new], now: 0).scale == ["web-new": 4])
    }

    @Test func aCompleteRolloutReportsSoAndPrunesHistory() {
        var d = Self.deployment(replicas: 2)
        d.json[path: ["spec", "revisionHistoryLimit"]] = 1
        let current = Self.replicaSet("web-new", image: "nginx:2", replicas: 2, available: 2, revision: 3)
        let olds = [Self.replicaSet("web-a", image: "nginx:0", replicas: 0, available: 0, revision: 1),
                    Self.replicaSet("web-b", image: "nginx:1", replicas: 0, available: 0, revision: 2)]
        let plan = Deployments.plan(d, owned: olds + [current], now: 0)
        #expect(plan.prune == ["web-a"] && plan.revision == 3)
        #expect(plan.status["updatedReplicas"] == 2 && plan.status["availableReplicas"] == 2)
        let progressing = plan.status["conditions"]?.arrayValue?.first { $0["type"] == "Progressing" }
        #expect(progressing?["reason"] == "NewReplicaSetAvailable")
    }

    @Test func orphansItsSelectorMatchesAreAdoptedAndStrangersLeftAlone() {
        func rs(_ name: String, labels: String, owner: String?) -> ReplicaSet {
            let refs = owner.map { #","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"x","uid":"\#($0)","controller":true}]"# } ?? ""
            return ReplicaSet(json: try! JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"\#(name)","namespace":"shop","uid":"u-\#(name)","labels":\#(labels)\#(refs)},"spec":{"replicas":1}}"#))
        }
        let sets = [rs("orphan", labels: #"{"app":"web"}"#, owner: nil), rs("mine", labels: #"{"app":"web"}"#, owner: "d-1"),
                    rs("drifted", labels: #"{"app":"api"}"#, owner: "d-1"), rs("theirs", labels: #"{"app":"web"}"#, owner: "d-2"),
                    rs("unrelated", labels: #"{"app":"db"}"#, owner: nil)]
        let claimed = Deployments.claim(Self.deployment(), sets)
        #expect(claimed.owned.map(\.name).sorted() == ["mine", "orphan"])
        #expect(claimed.adopt.map(\.name) == ["orphan"])
        #expect(claimed.release.map(\.name) == ["drifted"])
        var going = Self.deployment()
        going.json[path: ["metadata", "deletionTimestamp"]] = "2026-12-06T10:00:00Z"
        #expect(Deployments.claim(going, sets).adopt.isEmpty)
    }
}
