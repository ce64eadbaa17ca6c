import APITypes
import ControllersCore
import JSON
import Testing

/// The StatefulSet controller's decisions on hand-made pods, claims and revisions.
@Suite struct StatefulSetsTests {
    static func set(_ spec: String = "", replicas: Int = 3, image: String = "nginx:1", status: String = "{}") -> StatefulSet {
        StatefulSet(json: try! JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"web","namespace":"shop","uid":"ss-1","generation":2},"spec":{"replicas":\#(replicas),"serviceName":"nginx",\#(spec)"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"\#(image)"}],"volumes":[{"name":"config","emptyDir":{}}]}},"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]},"status":\#(status)}"#))
    }

    static func pod(_ ordinal: Int, revision: String, phase: String = "Running", ready: Bool = true, terminating: Bool = false,
                    owner: String? = "ss-1", name: String? = nil, labels: String? = nil,
                    readySince: String = "2026-12-06T10:00:00Z") -> Pod {
        let podName = name ?? "web-\(ordinal)"
        let ref = owner.map { #","ownerReferences":[{"apiVersion":"apps/v1","kind":"StatefulSet","name":"web","uid":"\#($0)","controller":true}]"# } ?? ""
        let deletion = terminating ? #","deletionTimestamp":"2026-12-06T10:00:00Z""# : ""
        let podLabels = labels ?? #"{"app":"web","controller-revision-hash":"\#(revision)","statefulset.kubernetes.io/pod-name":"\#(podName)"}"#
        return Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(podName)","namespace":"shop","uid":"u-\#(podName)","labels":\#(podLabels)\#(ref)\#(deletion)},"spec":{"containers":[]},"status":{"phase":"\#(phase)","conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")","lastTransitionTime":"\#(readySince)"}]}}"#))
    }

    static func claim(_ name: String, owners: String = "") -> PersistentVolumeClaim {
        PersistentVolumeClaim(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"\#(name)","namespace":"shop","uid":"c-\#(name)"\#(owners)},"spec":{}}"#))
    }

    static func claims(_ ordinals: Range<Int>) -> [PersistentVolumeClaim] { ordinals.map { claim("data-web-\($0)") } }

    /// The set's revision as the API server would hold it.
    static func revision(_ set: StatefulSet, _ number: Int) -> ControllerRevision {
        var json = ControllerRevisions.newRevision(set, number: number)
        json[path: ["metadata", "uid"]] = .string("r-\(number)")
        return ControllerRevision(json: json)
    }

    static let now = 1_796_551_260  // 2026-12-06T10:01:00Z

    func names(_ bodies: [JSONValue]) -> [String] { bodies.compactMap { $0[path: ["metadata", "name"]]?.stringValue } }

    func image(_ pod: JSONValue?) -> JSONValue? { pod?[path: ["spec", "containers"]]?.arrayValue?.first?["image"] }

    @Test func createsPodsInOrdinalOrderEachOnceTheOneBeforeIsReady() {
        let set = Self.set()
        let first = StatefulSets.plan(set, pods: [], now: Self.now)
        let revision = first.revisions.create?[path: ["metadata", "name"]]
        #expect(revision != nil && revision == first.status["updateRevision"] && first.revisions.create?["revision"] == 1)
        // The revision holds the template as the patch `kubectl rollout undo` applies, labelled for `rollout history`.
        #expect(first.revisions.create?[path: ["data", "spec", "template", "$patch"]] == "replace")
        #expect(first.revisions.create?[path: ["metadata", "labels", "app"]] == "web")
        #expect(names(first.create) == ["web-0"] && names(first.createClaims) == ["data-web-0"])
        let pod = first.create[0]
        #expect(pod[path: ["spec", "hostname"]] == "web-0" && pod[path: ["spec", "subdomain"]] == "nginx")
        #expect(pod[path: ["metadata", "labels", "statefulset.kubernetes.io/pod-name"]] == "web-0")
        #expect(pod[path: ["metadata", "labels", "apps.kubernetes.io/pod-index"]] == "0")
        #expect(pod[path: ["metadata", "labels", "controller-revision-hash"]] == revision)
        #expect(pod[path: ["metadata", "ownerReferences"]]?.arrayValue?.first?["uid"] == "ss-1")
        #expect(pod[path: ["spec", "volumes"]] == [["name": "data", "persistentVolumeClaim": ["claimName": "data-web-0"]],
                                                   ["name": "config", "emptyDir": [:]]])
        #expect(first.createClaims[0][path: ["metadata", "labels", "app"]] == "web")
        #expect(first.createClaims[0][path: ["spec", "resources", "requests", "storage"]] == "1Gi")

        // web-1 waits until web-0 is Running and Ready.
        let r = Self.revision(set, 1)
        let pending = StatefulSets.plan(set, pods: [Self.pod(0, revision: r.name, phase: "Pending", ready: false)],
                                        claims: Self.claims(0..<1), revisions: [r], now: Self.now)
        #expect(pending.create.isEmpty && pending.createClaims.isEmpty && pending.revisions.create == nil)
        let running = StatefulSets.plan(set, pods: [Self.pod(0, revision: r.name)], claims: Self.claims(0..<1), revisions: [r], now: Self.now)
        #expect(names(running.create) == ["web-1"] && names(running.createClaims) == ["data-web-1"])
        #expect(running.status["replicas"] == 1 && running.status["readyReplicas"] == 1 && running.status["observedGeneration"] == 2)
    }

    @Test func parallelMakesEveryPodAtOnceFromTheStartOrdinal() {
        let set = Self.set(#""podManagementPolicy":"Parallel","ordinals":{"start":5},"#)
        let plan = StatefulSets.plan(set, pods: [], now: Self.now)
        #expect(names(plan.create) == ["web-5", "web-6", "web-7"])
        #expect(names(plan.createClaims) == ["data-web-5", "data-web-6", "data-web-7"])
        #expect(plan.create.last?[path: ["metadata", "labels", "apps.kubernetes.io/pod-index"]] == "7")
    }

    @Test func aFailedOrDeletedPodComesBackUnderItsNameWithItsClaim() {
        let set = Self.set()
        let r = Self.revision(set, 1)
        let failed = StatefulSets.plan(set, pods: [Self.pod(0, revision: r.name), Self.pod(1, revision: r.name, phase: "Failed", ready: false),
                                                   Self.pod(2, revision: r.name)], claims: Self.claims(0..<3), revisions: [r], now: Self.now)
        #expect(failed.delete.map(\.name) == ["web-1"] && failed.create.isEmpty)
        let gone = StatefulSets.plan(set, pods: [Self.pod(0, revision: r.name), Self.pod(2, revision: r.name)],
                                     claims: Self.claims(0..<3), revisions: [r], now: Self.now)
        #expect(names(gone.create) == ["web-1"] && gone.createClaims.isEmpty)
    }

    @Test func scalingDownRemovesTheHighestOrdinalFirstOneAtATimeAndKeepsClaims() {
        let one = Self.set(replicas: 1)
        let r = Self.revision(one, 1)
        let pods = (0..<3).map { Self.pod($0, revision: r.name) }
        func plan(_ set: StatefulSet, _ pods: [Pod]) -> StatefulSets.Plan {
            StatefulSets.plan(set, pods: pods, claims: Self.claims(0..<3), revisions: [r], now: Self.now)
        }
        let down = plan(one, pods)
        #expect(down.delete.map(\.name) == ["web-2"] && down.claimOwners.isEmpty)
        // While web-2 stops, web-1 stays; nothing goes while another pod is not ready.
        #expect(plan(one, [pods[0], pods[1], Self.pod(2, revision: r.name, terminating: true)]).delete.isEmpty)
        #expect(plan(one, [Self.pod(0, revision: r.name, ready: false), pods[1]]).delete.isEmpty)
        #expect(plan(one, [pods[0], pods[1]]).delete.map(\.name) == ["web-1"])
        // Parallel: all at once.
        #expect(plan(Self.set(#""podManagementPolicy":"Parallel","#, replicas: 1), pods).delete.map(\.name) == ["web-2", "web-1"])
    }

    @Test func aRollingUpdateReplacesFromTheHighestOrdinalDownToThePartition() {
        let r1 = Self.revision(Self.set(), 1)
        let v2 = Self.set(image: "nginx:2", status: #"{"currentRevision":"\#(r1.name)"}"#)
        let old = (0..<3).map { Self.pod($0, revision: r1.name) }
        func plan(_ set: StatefulSet, _ pods: [Pod], _ revisions: [ControllerRevision]) -> StatefulSets.Plan {
            StatefulSets.plan(set, pods: pods, claims: Self.claims(0..<3), revisions: revisions, now: Self.now)
        }
        let start = plan(v2, old, [r1])
        #expect(start.revisions.create?["revision"] == 2 && start.delete.map(\.name) == ["web-2"])
        #expect(start.status["currentRevision"] == .string(r1.name) && start.status["currentReplicas"] == 2 && start.status["updatedReplicas"] == 0)
        let r2 = Self.revision(v2, 2)
        #expect(start.status["updateRevision"] == .string(r2.name))

        // web-2 comes back at the update revision; web-1 waits until it is ready.
        let remade = plan(v2, [old[0], old[1]], [r1, r2])
        #expect(names(remade.create) == ["web-2"] && image(remade.create.first) == "nginx:2")
        #expect(remade.create.first?[path: ["metadata", "labels", "controller-revision-hash"]] == .string(r2.name))
        #expect(plan(v2, [old[0], old[1], Self.pod(2, revision: r2.name, ready: false)], [r1, r2]).delete.isEmpty)
        #expect(plan(v2, [old[0], old[1], Self.pod(2, revision: r2.name)], [r1, r2]).delete.map(\.name) == ["web-1"])

        // A partition of 2 keeps web-0 and web-1 at the current revision, even when remade.
        let partitioned = Self.set(#""updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}},"#, image: "nginx:2",
                                   status: #"{"currentRevision":"\#(r1.name)"}"#)
        let held = plan(partitioned, [old[0], old[1], Self.pod(2, revision: r2.name)], [r1, r2])
        #expect(held.delete.isEmpty && held.status["updatedReplicas"] == 1 && held.status["currentRevision"] == .string(r1.name))
        let below = plan(partitioned, [old[0], Self.pod(2, revision: r2.name)], [r1, r2])
        #expect(names(below.create) == ["web-1"] && image(below.create.first) == "nginx:1")
        #expect(below.create.first?[path: ["metadata", "labels", "controller-revision-hash"]] == .string(r1.name))

        // All updated and ready: the update revision is the current one.
        let done = plan(v2, (0..<3).map { Self.pod($0, revision: r2.name) }, [r1, r2])
        #expect(done.delete.isEmpty && done.status["currentRevision"] == .string(r2.name) && done.status["currentReplicas"] == 3)
    }

    @Test func onDeleteReplacesOnlyThePodsSomeoneDeleted() {
        let r1 = Self.revision(Self.set(), 1)
        let v2 = Self.set(#""updateStrategy":{"type":"OnDelete"},"#, image: "nginx:2", status: #"{"currentRevision":"\#(r1.name)"}"#)
        let r2 = Self.revision(v2, 2)
        let old = (0..<3).map { Self.pod($0, revision: r1.name) }
        #expect(StatefulSets.plan(v2, pods: old, claims: Self.claims(0..<3), revisions: [r1, r2], now: Self.now).delete.isEmpty)
        let deleted = StatefulSets.plan(v2, pods: [old[0], old[2]], claims: Self.claims(0..<3), revisions: [r1, r2], now: Self.now)
        #expect(names(deleted.create) == ["web-1"] && image(deleted.create.first) == "nginx:2")
    }

    @Test func revisionsAreRenumberedOnRollbackAndPrunedBeyondTheLimit() {
        let v1 = Self.set(), v2 = Self.set(image: "nginx:2")
        let r1 = Self.revision(v1, 1), r2 = Self.revision(v2, 2)
        // Back to the first template: its revision becomes the newest, none is made.
        let back = Self.set(status: #"{"currentRevision":"\#(r2.name)"}"#)
        let pods = (0..<3).map { Self.pod($0, revision: r2.name) }
        let rollback = StatefulSets.plan(back, pods: pods, claims: Self.claims(0..<3), revisions: [r1, r2], now: Self.now)
        #expect(rollback.revisions.create == nil && rollback.revisions.renumber == [r1.name: 3])
        #expect(rollback.status["updateRevision"] == .string(r1.name) && rollback.status["currentRevision"] == .string(r2.name))
        #expect(rollback.delete.map(\.name) == ["web-2"])

        // Revisions no pod uses beyond revisionHistoryLimit go, the oldest first.
        let history = (1...3).map { Self.revision(Self.set(image: "nginx:\($0)"), $0) }
        let limited = StatefulSets.plan(Self.set(#""revisionHistoryLimit":1,"#, image: "nginx:9"), pods: [], revisions: history, now: Self.now)
        #expect(limited.prune == [history[0].name, history[1].name] && limited.revisions.create?["revision"] == 4)

        // A name held by other data: the collision is counted and the name changes.
        var squatter = Self.revision(v1, 1)
        squatter.json[path: ["metadata", "name"]] = ControllerRevisions.newRevision(v2, number: 2)[path: ["metadata", "name"]]
        let collided = StatefulSets.plan(v2, pods: [], revisions: [squatter], now: Self.now)
        #expect(collided.status["collisionCount"] == 1)
        #expect(collided.revisions.create?[path: ["metadata", "name"]] != squatter.json[path: ["metadata", "name"]])
    }

    @Test func adoptsOrphansNamedAsItsOwnAndReleasesPodsThatNoLongerMatch() {
        let set = Self.set()
        let r = Self.revision(set, 1)
        let pods = [Self.pod(0, revision: r.name, owner: nil, labels: #"{"app":"web"}"#),
                    Self.pod(0, revision: r.name, owner: nil, name: "other-0"),
                    Self.pod(1, revision: r.name, labels: #"{"app":"other"}"#),
                    Self.pod(2, revision: r.name, owner: "ss-2")]
        let plan = StatefulSets.plan(set, pods: pods, claims: Self.claims(0..<3), revisions: [r], now: Self.now)
        #expect(plan.adopt.map(\.name) == ["web-0"] && plan.release.map(\.name) == ["web-1"])
        // The adopted pod gets its identity labels; no web-1 while the released pod holds the name.
        #expect(plan.relabel["web-0"] == ["statefulset.kubernetes.io/pod-name": "web-0", "apps.kubernetes.io/pod-index": "0"])
        #expect(plan.create.isEmpty)
        let freed = StatefulSets.plan(set, pods: [pods[0]], claims: Self.claims(0..<3), revisions: [r], now: Self.now)
        #expect(names(freed.create) == ["web-1"])
    }

    @Test func claimsFollowTheRetentionPolicy() {
        let policy = #""persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"},"#
        let three = Self.set(policy)
        // WhenDeleted: a new claim belongs to the set, so the garbage collector takes it with the set.
        let first = StatefulSets.plan(three, pods: [], now: Self.now)
        #expect(first.createClaims.first?[path: ["metadata", "ownerReferences"]]?.arrayValue?.first?["uid"] == "ss-1")

        // WhenScaled: the claims of the pods a scale-down removes go to those pods first.
        let one = Self.set(policy, replicas: 1)
        let r = Self.revision(one, 1)
        let pods = (0..<3).map { Self.pod($0, revision: r.name) }
        let down = StatefulSets.plan(one, pods: pods, claims: Self.claims(0..<3), revisions: [r], now: Self.now)
        #expect(down.claimOwners["data-web-2"] == [OwnerReference(controlledBy: pods[2])])
        #expect(down.claimOwners["data-web-1"] == [OwnerReference(controlledBy: pods[1])])
        #expect(down.claimOwners["data-web-0"] == [OwnerReference(controlledBy: one)])
        #expect(down.delete.map(\.name) == ["web-2"])

        // A claim still held by the removed pod of that name holds up its successor.
        let stale = Self.claim("data-web-2", owners: #","ownerReferences":[{"apiVersion":"v1","kind":"Pod","name":"web-2","uid":"u-old","controller":true}]"#)
        let held = StatefulSets.plan(three, pods: Array(pods.prefix(2)), claims: Self.claims(0..<2) + [stale], revisions: [r], now: Self.now)
        #expect(held.create.isEmpty)

        // Retain (the default): claims carry no reference to the set or its pods.
        let retained = StatefulSets.plan(Self.set(replicas: 1), pods: pods, claims: Self.claims(0..<3), revisions: [r], now: Self.now)
        #expect(retained.claimOwners.isEmpty && retained.createClaims.allSatisfy { $0[path: ["metadata", "ownerReferences"]] == nil })
    }

    @Test func podsCountAsAvailableMinReadySecondsAfterTheyAreReady() {
        let set = Self.set(#""minReadySeconds":120,"#)
        let r = Self.revision(set, 1)
        let plan = StatefulSets.plan(set, pods: [Self.pod(0, revision: r.name, readySince: "2026-12-06T10:00:00Z")],
                                     claims: Self.claims(0..<1), revisions: [r], now: Self.now)
        #expect(plan.status["readyReplicas"] == 1 && plan.status["availableReplicas"] == 0)
        // OrderedReady waits for availability too, and asks to look again when it comes.
        #expect(plan.create.isEmpty && plan.recheckAt == 1_796_551_320)
    }
}
