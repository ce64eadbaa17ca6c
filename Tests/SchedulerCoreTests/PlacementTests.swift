import Foundation
import APIMachinery
import APITypes
import JSON
import SchedulerCore
import Testing

/// Topology spread, inter-pod affinity, preemption and the search over part of a large
/// cluster, on a `Cluster` built from hand-made nodes and pods.
@Suite struct PlacementTests {
    static func node(_ name: String, zone: String = "z", cpu: String = "4", pods: Int = 110) -> Node {
        Node(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(name)","labels":{"kubernetes.io/hostname":"\#(name)","topology.kubernetes.io/zone":"\#(zone)"}},"status":{"allocatable":{"cpu":"\#(cpu)","memory":"8Gi","pods":"\#(pods)"}}}"#))
    }

    static func pod(_ name: String, labels: String = #"{"app":"web"}"#, cpu: String = "100m", priority: Int = 0,
                    node: String? = nil, spec: String = "", namespace: String = "default") -> Scheduling.PodInfo {
        let bound = node.map { #","nodeName":"\#($0)""# } ?? ""
        return Scheduling.PodInfo(Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"\#(namespace)","uid":"uid-\#(name)","labels":\#(labels),"creationTimestamp":"2026-12-06T10:00:00Z"},"spec":{"priority":\#(priority),"containers":[{"name":"c","resources":{"requests":{"cpu":"\#(cpu)"}}}]\#(bound)\#(spec)}}"#)))
    }

    static func cluster(_ nodes: [Node], _ placed: [(Scheduling.PodInfo, String)] = []) -> Scheduling.Cluster {
        var cluster = Scheduling.Cluster()
        for node in nodes { cluster.upsert(node) }
        for (pod, node) in placed { cluster.place(pod, on: node) }
        return cluster
    }

    static let zoneSpread = #","topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"web"}}}]"#

    @Test func spreadKeepsZonesWithinTheSkew() {
        let nodes = [Self.node("a1", zone: "a"), Self.node("a2", zone: "a"), Self.node("b1", zone: "b"), Self.node("c1", zone: "c")]
        // Zone a has two web pods, b one, c none: with maxSkew 1 only c may take the next.
        var cluster = Self.cluster(nodes, [(Self.pod("w1"), "a1"), (Self.pod("w2"), "a2"), (Self.pod("w3"), "b1"),
                                           (Self.pod("other", labels: #"{"app":"db"}"#), "c1")])
        #expect(cluster.schedule(Self.pod("w4", spec: Self.zoneSpread)) == .node("c1"))
        // Placed one by one, six pods end two per zone.
        var fresh = Self.cluster(nodes)
        var perZone: [String: Int] = [:]
        for i in 0..<6 {
            let pod = Self.pod("s\(i)", spec: Self.zoneSpread)
            guard case .node(let name) = fresh.schedule(pod) else { Issue.record("s\(i) unschedulable"); return }
            fresh.place(pod, on: name)
            perZone[String(name.prefix(1)), default: 0] += 1
        }
        #expect(perZone == ["a": 2, "b": 2, "c": 2])
        // A node without the zone label cannot take a pod that spreads by zone.
        var unlabeled = Self.cluster([Node(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"bare"},"status":{"allocatable":{"cpu":"4","memory":"8Gi"}}}"#))])
        #expect(unlabeled.schedule(Self.pod("x", spec: Self.zoneSpread)).message
                == "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label).")
    }

    @Test func matchFieldsPinAPodToANodeByName() {
        // How the DaemonSet controller pins its pods.
        let pinned = #","affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchFields":[{"key":"metadata.name","operator":"In","values":["n2"]}]}]}}}"#
        var cluster = Self.cluster([Self.node("n1"), Self.node("n2"), Self.node("n3")])
        #expect(cluster.schedule(Self.pod("d", spec: pinned)) == .node("n2"))
        var elsewhere = Self.cluster([Self.node("n1")])
        #expect(elsewhere.schedule(Self.pod("d", spec: pinned)).message == "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.")
    }

    @Test func softSpreadPrefersTheEmptierZone() {
        let soft = Self.zoneSpread.replacingOccurrences(of: "DoNotSchedule", with: "ScheduleAnyway")
        var cluster = Self.cluster([Self.node("a1", zone: "a"), Self.node("b1", zone: "b")],
                                   [(Self.pod("w1"), "a1"), (Self.pod("w2"), "a1")])
        #expect(cluster.schedule(Self.pod("w3", spec: soft)) == .node("b1"))
    }

    static let antiWeb = #","affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"kubernetes.io/hostname","labelSelector":{"matchLabels":{"app":"web"}}}]}}"#

    @Test func antiAffinityKeepsReplicasApartBothWays() {
        var cluster = Self.cluster([Self.node("n1"), Self.node("n2"), Self.node("n3")])
        var used = Set<String>()
        for i in 0..<3 {
            let pod = Self.pod("w\(i)", spec: Self.antiWeb)
            guard case .node(let name) = cluster.schedule(pod) else { Issue.record("w\(i) unschedulable"); return }
            cluster.place(pod, on: name)
            used.insert(name)
        }
        #expect(used.count == 3)
        #expect(cluster.schedule(Self.pod("w3", spec: Self.antiWeb)).message
                == "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
        // The rule of a placed pod keeps a plain web pod away from it (symmetry).
        var guarded = Self.cluster([Self.node("n1"), Self.node("n2")], [(Self.pod("lonely", labels: #"{"app":"solo"}"#, spec: Self.antiWeb), "n1")])
        #expect(guarded.schedule(Self.pod("web")) == .node("n2"))
        var full = Self.cluster([Self.node("n1")], [(Self.pod("lonely", labels: #"{"app":"solo"}"#, spec: Self.antiWeb), "n1")])
        #expect(full.schedule(Self.pod("web")).message == "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules.")
        // Other namespaces are not covered by a term that does not name them.
        #expect(full.schedule(Self.pod("web", namespace: "elsewhere")) == .node("n1"))
    }

    @Test func affinityFollowsItsGroupAndTheFirstMayGoAnywhere() {
        let withDB = #","affinity":{"podAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"topology.kubernetes.io/zone","labelSelector":{"matchLabels":{"app":"db"}}}]}}"#
        let nodes = [Self.node("a1", zone: "a"), Self.node("b1", zone: "b"), Self.node("b2", zone: "b")]
        var cluster = Self.cluster(nodes, [(Self.pod("db", labels: #"{"app":"db"}"#), "b2")])
        // Only zone b has a db pod; of its two nodes b1 is emptier.
        #expect(cluster.schedule(Self.pod("w", spec: withDB)) == .node("b1"))
        // No db pod anywhere: an app pod waits...
        var empty = Self.cluster(nodes)
        #expect(empty.schedule(Self.pod("w", spec: withDB)).message == "0/3 nodes are available: 3 node(s) didn't match pod affinity rules.")
        // ...but the first db pod with affinity to its own kind may go anywhere.
        let selfAffine = withDB
        if case .unschedulable = empty.schedule(Self.pod("db0", labels: #"{"app":"db"}"#, spec: selfAffine)) { Issue.record("first of its group refused") }
    }

    @Test func preferredAntiAffinitySpreadsWithoutRefusing() {
        let prefer = #","affinity":{"podAntiAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":100,"podAffinityTerm":{"topologyKey":"kubernetes.io/hostname","labelSelector":{"matchLabels":{"app":"web"}}}}]}}"#
        var cluster = Self.cluster([Self.node("n1"), Self.node("n2")], [(Self.pod("w1"), "n1")])
        #expect(cluster.schedule(Self.pod("w2", spec: prefer)) == .node("n2"))
        cluster.place(Self.pod("w2"), on: "n2")
        // Both taken: still placed.
        if case .unschedulable = cluster.schedule(Self.pod("w3", spec: prefer)) { Issue.record("preferred term refused a pod") }
    }

    @Test func preemptionTakesTheFewestAndLeastImportantVictims() {
        // n1: two low pods of 1 CPU (priority 10 and 20); n2: one pod of 2 CPU at priority 5.
        var cluster = Self.cluster([Self.node("n1", cpu: "2"), Self.node("n2", cpu: "2")],
                                   [(Self.pod("l10", cpu: "1", priority: 10), "n1"), (Self.pod("l20", cpu: "1", priority: 20), "n1"),
                                    (Self.pod("big5", cpu: "2", priority: 5), "n2")])
        let urgent = Self.pod("urgent", cpu: "1", priority: 100)
        #expect(cluster.schedule(urgent).message == "0/2 nodes are available: 2 Insufficient cpu.")
        let choice = cluster.preemption(for: urgent)
        // One victim either way; n2's victim has the lowest priority.
        #expect(choice?.node == "n2" && choice?.victims.map(\.name) == ["big5"])
        // On n1 alone, the lower of the two goes and the other stays.
        var one = Self.cluster([Self.node("n1", cpu: "2")], [(Self.pod("l10", cpu: "1", priority: 10), "n1"),
                                                             (Self.pod("l20", cpu: "1", priority: 20), "n1")])
        #expect(one.preemption(for: urgent)?.victims.map(\.name) == ["l10"])
        // Pods of the same or higher priority are never victims; nor does a pod that says Never preempt.
        #expect(one.preemption(for: Self.pod("peer", cpu: "1", priority: 10))?.node == nil)
        #expect(one.preemption(for: Self.pod("meek", cpu: "1", priority: 100, spec: #","preemptionPolicy":"Never""#))?.node == nil)
        // Taints cannot be preempted away.
        var tainted = Self.cluster([Node(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"t"},"spec":{"taints":[{"key":"k","effect":"NoSchedule"}]},"status":{"allocatable":{"cpu":"4","memory":"8Gi"}}}"#))],
                                   [(Self.pod("low", priority: 1), "t")])
        #expect(tainted.preemption(for: urgent)?.node == nil)
    }

    @Test func preemptionAvoidsBreakingADisruptionBudget() {
        var cluster = Self.cluster([Self.node("n1", cpu: "1"), Self.node("n2", cpu: "1")],
                                   [(Self.pod("guarded", labels: #"{"app":"db"}"#, cpu: "1", priority: 1), "n1"),
                                    (Self.pod("free", labels: #"{"app":"batch"}"#, cpu: "1", priority: 5), "n2")])
        cluster.budgets = [Scheduling.Budget(namespace: "default", selector: try! LabelSelector(parsing: "app=db"), disruptionsAllowed: 0)]
        let choice = cluster.preemption(for: Self.pod("urgent", cpu: "1", priority: 100))
        // The budget outweighs the lower priority on n1.
        #expect(choice?.node == "n2" && choice?.budgetViolations == 0)
        cluster.budgets = []
        #expect(cluster.preemption(for: Self.pod("urgent", cpu: "1", priority: 100))?.node == "n1")
    }

    @Test func nominatedPodsKeepTheirRoom() {
        var cluster = Self.cluster([Self.node("n1", cpu: "1"), Self.node("n2", cpu: "1")])
        var waiting = Self.pod("urgent", cpu: "1", priority: 100)
        waiting.nominatedNode = "n1"
        cluster.nominate(waiting)
        // A lower-priority pod does not take the room kept on n1.
        #expect(cluster.schedule(Self.pod("low", cpu: "1", priority: 1)) == .node("n2"))
        // The nominated pod itself goes to its node.
        #expect(cluster.schedule(waiting) == .node("n1"))
    }

    @Test func largeClustersAreSearchedInPartAndRoundRobin() {
        var nodes: [Node] = []
        for i in 0..<1000 { nodes.append(Self.node("n\(1000 + i)")) }
        var cluster = Self.cluster(nodes)
        var chosen = Set<String>()
        for i in 0..<20 {
            let pod = Self.pod("p\(i)")
            guard case .node(let name) = cluster.schedule(pod) else { Issue.record("unschedulable"); return }
            cluster.place(pod, on: name)
            chosen.insert(name)
        }
        // Each search starts where the last stopped, so the pods spread over many nodes.
        #expect(chosen.count == 20)
        var everything = Scheduling.Settings()
        everything.percentageOfNodesToScore = 100
        var all = Self.cluster(nodes)
        #expect(all.schedule(Self.pod("q"), settings: everything) == .node("n1000"))
    }
}

/// The scheduling queue's three places and its back-off.
@Suite struct SchedulingQueueTests {
    @Test func mostUrgentFirstThenBackoffAndEvents() {
        var queue = SchedulingQueue()
        let now = ContinuousClock.now
        queue.add(PlacementTests.pod("low", priority: 1))
        queue.add(PlacementTests.pod("high", priority: 100))
        queue.add(PlacementTests.pod("low2", priority: 1))
        #expect(queue.pop()?.name == "high")
        #expect(queue.pop()?.name == "low")
        // "high" found no node: it waits in the unschedulable set, not active.
        queue.unschedulable("default/high", now: now)
        #expect(queue.counts.unschedulable == 1)
        #expect(queue.pop()?.name == "low2")
        #expect(queue.pop() == nil)
        // A cluster event moves it to back-off (1 s from its attempt), then active.
        queue.clusterChanged(now: now)
        #expect(queue.counts.backoff == 1 && queue.pop() == nil)
        queue.flush(now: now + .seconds(1))
        #expect(queue.pop()?.name == "high")
        // An event while a pod is being tried sends it to back-off, not to the unschedulable set.
        queue.clusterChanged(now: now + .seconds(1))
        queue.unschedulable("default/high", now: now + .seconds(1))
        #expect(queue.counts.backoff == 1)
        // The second failure waits 2 s.
        queue.flush(now: now + .seconds(2))
        #expect(queue.pop() == nil)
        queue.flush(now: now + .seconds(3))
        #expect(queue.pop()?.name == "high")
        // An update to a waiting pod makes it active at once.
        queue.unschedulable("default/high", now: now + .seconds(3))
        queue.add(PlacementTests.pod("high", priority: 100))
        #expect(queue.pop()?.name == "high")
        // Unschedulable for five minutes: tried again without an event.
        queue.unschedulable("default/high", now: now + .seconds(4))
        queue.flush(now: now + .seconds(200))
        #expect(queue.counts.unschedulable == 1)
        #expect(queue.nextChange() == now + .seconds(304))
        queue.flush(now: now + .seconds(305))
        #expect(queue.pop()?.name == "high")
        queue.done("default/high")
        #expect(!queue.contains("default/high") && queue.nextChange() == nil)
    }
}
