import APITypes
import ControllersCore
import JSON
import Testing

/// The ReplicaSet controller's decisions on hand-made pods.
@Suite struct ReplicaSetsTests {
    static let rs = ReplicaSet(json: try! JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web","namespace":"shop","uid":"rs-1","generation":2},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web","tier":"front"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}"#))

    static func pod(_ name: String, owner: String? = "rs-1", labels: String = #"{"app":"web","tier":"front"}"#, phase: String = "Running",
                    ready: Bool = true, node: String? = "n1", created: String = "2026-12-06T10:00:00Z") -> Pod {
        let ref = owner.map { #","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"\#($0)","controller":true}]"# } ?? ""
        let nodeName = node.map { #""nodeName":"\#($0)","# } ?? ""
        return Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"shop","uid":"u-\#(name)","creationTimestamp":"\#(created)","labels":\#(labels)\#(ref)},"spec":{\#(nodeName)"containers":[]},"status":{"phase":"\#(phase)","conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}}"#))
    }

    @Test func makesWhatIsMissingAndCountsOnlyActivePods() {
        let plan = ReplicaSets.plan(Self.rs, pods: [Self.pod("a"), Self.pod("done", phase: "Succeeded")])
        #expect(plan.create == 2 && plan.delete.isEmpty && plan.active.map(\.name) == ["a"])
        let pod = ReplicaSets.newPod(Self.rs)
        #expect(pod[path: ["metadata", "generateName"]] == "web-" && pod[path: ["metadata", "labels", "tier"]] == "front")
        #expect(pod[path: ["metadata", "ownerReferences"]]?.arrayValue?.first?["uid"] == "rs-1")
        #expect(pod[path: ["spec", "containers"]]?.arrayValue?.count == 1)
    }

    @Test func removesTheLeastUsefulPodsFirst() {
        let pods = [Self.pod("running-old", created: "2026-12-06T09:00:00Z"), Self.pod("running-new", created: "2026-12-06T10:00:00Z"),
                    Self.pod("unready", ready: false), Self.pod("pending", phase: "Pending", ready: false),
                    Self.pod("unscheduled", phase: "Pending", ready: false, node: nil)]
        let plan = ReplicaSets.plan(Self.rs, pods: pods)
        #expect(plan.delete.map(\.name) == ["unscheduled", "pending"])
        var five = Self.rs
        five.json[path: ["spec", "replicas"]] = 1
        #expect(ReplicaSets.plan(five, pods: pods).delete.map(\.name) == ["unscheduled", "pending", "unready", "running-new"])
    }

    @Test func adoptsMatchingOrphansAndReleasesPodsThatNoLongerMatch() {
        let pods = [Self.pod("orphan", owner: nil), Self.pod("relabelled", labels: #"{"app":"other"}"#),
                    Self.pod("someone-elses", owner: "rs-2"), Self.pod("mine")]
        let plan = ReplicaSets.plan(Self.rs, pods: pods)
        #expect(plan.adopt.map(\.name) == ["orphan"])
        #expect(plan.release.map(\.name) == ["relabelled"])
        #expect(Set(plan.active.map(\.name)) == ["orphan", "mine"] && plan.create == 1)
    }

    @Test func statusCountsReadyAndAvailablePods() {
        let status = ReplicaSets.status(Self.rs, active: [Self.pod("a"), Self.pod("b", ready: false)], now: 0)
        #expect(status["replicas"] == 2 && status["readyReplicas"] == 1 && status["availableReplicas"] == 1)
        #expect(status["fullyLabeledReplicas"] == 2 && status["observedGeneration"] == 2)
    }
}
