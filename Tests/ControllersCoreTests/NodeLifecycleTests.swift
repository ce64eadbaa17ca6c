import APIMachinery
import APITypes
import ControllersCore
import JSON
import Testing

/// The node lifecycle controller's decisions for a node that stops reporting, and the taint
/// manager's for the pods on it.
@Suite struct NodeLifecycleTests {
    static let now = 1_800_000_000

    static func node(ready: String = "True", taints: String = "[]") -> Node {
        Node(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"},"spec":{"taints":\#(taints)},"status":{"conditions":[{"type":"Ready","status":"\#(ready)","reason":"KubeletReady","lastHeartbeatTime":"2026-12-06T10:00:00Z"}]}}"#))
    }

    static func pod(_ name: String, tolerations: String = "[]", ready: Bool = true) -> Pod {
        Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"default","uid":"u-\#(name)"},"spec":{"nodeName":"n1","tolerations":\#(tolerations)},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}}"#))
    }

    static let patient = #"[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]"#
    static let forever = #"[{"operator":"Exists"}]"#

    @Test func aHealthyNodeIsLeftAlone() {
        let plan = NodeLifecycle.plan(Self.node(), silentFor: 10, gracePeriod: 40, pods: [Self.pod("a")], now: Self.now)
        #expect(plan.conditions == nil && plan.taints == nil && plan.evict.isEmpty && plan.markNotReady.isEmpty)
    }

    @Test func aSilentNodeTurnsUnknownIsTaintedAndItsPodsGoInTime() throws {
        let pods = [Self.pod("plain"), Self.pod("patient", tolerations: Self.patient), Self.pod("forever", tolerations: Self.forever)]
        let plan = NodeLifecycle.plan(Self.node(), silentFor: 41, gracePeriod: 40, pods: pods, now: Self.now)
        let conditions = try #require(plan.conditions?.arrayValue)
        let ready = try #require(conditions.first { $0["type"] == "Ready" })
        #expect(ready["status"] == "Unknown" && ready["reason"] == "NodeStatusUnknown" && ready["message"] == "Kubelet stopped posting node status.")
        #expect(conditions.filter { $0["status"] == "Unknown" }.count == 4)
        let taints = try #require(plan.taints?.arrayValue)
        #expect(taints.map { "\($0["key"]!.stringValue!):\($0["effect"]!.stringValue!)" }.sorted()
                == ["node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"])
        #expect(taints.first { $0["effect"] == "NoExecute" }?["timeAdded"]?.stringValue == APITime.format(Self.now))
        #expect(Set(plan.markNotReady.map(\.name)) == ["plain", "patient", "forever"])
        // The pod without a toleration goes now (the API server gives every pod one; this
        // one was written without); the patient one when its 300 s are up; the other never.
        #expect(plan.evict.map(\.name) == ["plain"])
        #expect(plan.recheckAt == Self.now + 300)

        // Later, with the node already Unknown and tainted.
        var tainted = Self.node(ready: "Unknown", taints: "\(JSONValue.array(taints))")
        tainted.json[path: ["status", "conditions"]] = .array(conditions)
        let later = NodeLifecycle.plan(tainted, silentFor: 400, gracePeriod: 40, pods: Array(pods.dropFirst()), now: Self.now + 300)
        #expect(later.conditions == nil && later.taints == nil)
        #expect(later.evict.map(\.name) == ["patient"])
    }

    @Test func notReadyAndBackAgain() throws {
        let plan = NodeLifecycle.plan(Self.node(ready: "False"), silentFor: 0, gracePeriod: 40, pods: [], now: Self.now)
        #expect(Set(try #require(plan.taints?.arrayValue).compactMap { $0["key"]?.stringValue }) == ["node.kubernetes.io/not-ready"])
        // The agent is back and Ready: the taints it caused go, others stay.
        let back = NodeLifecycle.plan(Self.node(taints: #"[{"key":"node.kubernetes.io/unreachable","effect":"NoExecute"},{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]"#),
                                      silentFor: 0, gracePeriod: 40, pods: [Self.pod("a")], now: Self.now)
        #expect(back.taints?.arrayValue?.compactMap { $0["key"]?.stringValue } == ["dedicated"])
        #expect(back.evict.isEmpty)
    }
}
