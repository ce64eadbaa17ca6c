import APITypes
import ControllersCore
import JSON
import Testing

/// The DaemonSet controller's decisions on hand-made nodes and pods.
@Suite struct DaemonSetsTests {
    static func ds(_ extra: String = "", strategy: String = "") -> DaemonSet {
        DaemonSet(json: try! JSONValue.parse(#"{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent","namespace":"kube-system","uid":"ds-1","generation":1},"spec":{"selector":{"matchLabels":{"app":"agent"}},\#(strategy)"template":{"metadata":{"labels":{"app":"agent"}},"spec":{\#(extra)"containers":[{"name":"c","image":"agent:1"}]}}}}"#))
    }

    static func node(_ name: String, labels: String = "{}", taints: String = "[]") -> Node {
        Node(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(name)","labels":\#(labels)},"spec":{"taints":\#(taints)}}"#))
    }

    static func pod(_ name: String, node: String, hash: String, ready: Bool = true) -> Pod {
        Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"kube-system","uid":"u-\#(name)","labels":{"app":"agent","controller-revision-hash":"\#(hash)"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"DaemonSet","name":"agent","uid":"ds-1","controller":true}]},"spec":{"nodeName":"\#(node)"},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}}"#))
    }

    @Test func onePodPinnedToEveryEligibleNode() {
        let nodes = [Self.node("a"), Self.node("b", taints: #"[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]"#),
                     Self.node("c", taints: #"[{"key":"node.kubernetes.io/unreachable","effect":"NoExecute"}]"#)]
        let plan = DaemonSets.plan(Self.ds(), nodes: nodes, pods: [], now: 0)
        // b's taint is not tolerated; c's is one every daemon pod tolerates.
        #expect(plan.create.keys.sorted() == ["a", "c"])
        let pinned = plan.create["a"]?[path: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                                              "nodeSelectorTerms"]]?.arrayValue?.first?["matchFields"]?.arrayValue?.first
        #expect(pinned?["values"] == ["a"])
        #expect(plan.status["desiredNumberScheduled"] == 2)
        // A node selector narrows it; a pod on a node it may no longer run on goes.
        let selective = Self.ds(#""nodeSelector":{"role":"edge"},"#)
        let labelled = [Self.node("a", labels: #"{"role":"edge"}"#), Self.node("c")]
        let hash = DaemonSets.plan(selective, nodes: labelled, pods: [], now: 0).create["a"]?[path: ["metadata", "labels", "controller-revision-hash"]]?.stringValue ?? ""
        let moved = DaemonSets.plan(selective, nodes: labelled, pods: [Self.pod("p", node: "a", hash: hash), Self.pod("q", node: "c", hash: hash)], now: 0)
        #expect(moved.create.isEmpty && moved.delete.map(\.name) == ["q"])
    }

    @Test func aRollingUpdateReplacesOnePodAtATime() {
        let nodes = [Self.node("a"), Self.node("b"), Self.node("c")]
        let pods = [Self.pod("pa", node: "a", hash: "old"), Self.pod("pb", node: "b", hash: "old"), Self.pod("pc", node: "c", hash: "old")]
        let plan = DaemonSets.plan(Self.ds(), nodes: nodes, pods: pods, now: 0)
        #expect(plan.delete.count == 1 && plan.create.isEmpty)
        // The replacement waits until the old pod has stopped.
        var stopping = pods[0]
        stopping.json[path: ["metadata", "deletionTimestamp"]] = "2026-12-06T10:00:00Z"
        #expect(DaemonSets.plan(Self.ds(), nodes: nodes, pods: [stopping, pods[1], pods[2]], now: 0).create.isEmpty)
        #expect(DaemonSets.plan(Self.ds(), nodes: nodes, pods: [pods[1], pods[2]], now: 0).create.keys.sorted() == ["a"])
        // OnDelete: nothing is replaced by the controller.
        let onDelete = DaemonSets.plan(Self.ds(strategy: #""updateStrategy":{"type":"OnDelete"},"#), nodes: nodes, pods: pods, now: 0)
        #expect(onDelete.delete.isEmpty)
        // While a replacement is not ready yet, no other pod goes.
        let hash = DaemonSets.plan(Self.ds(), nodes: nodes, pods: [], now: 0).create["a"]?[path: ["metadata", "labels", "controller-revision-hash"]]?.stringValue ?? ""
        let waiting = DaemonSets.plan(Self.ds(), nodes: nodes, pods: [Self.pod("pa2", node: "a", hash: hash, ready: false), pods[1], pods[2]], now: 0)
        #expect(waiting.delete.isEmpty, "\(waiting.delete.map(\.name))")
    }
}
