public import APITypes
public import JSON
import APIMachinery
public import SchedulerCore

/// The DaemonSet controller's decisions, as kube-controller-manager's: one pod on every node
/// the pod template may run on (its node selector and affinity, the taints it tolerates —
/// with the tolerations Kubernetes adds to every daemon pod), pinned to its node by node
/// affinity so the scheduler places it; pods on nodes they may not run on, and extra pods,
/// removed; a RollingUpdate replacing out-of-date pods at most `maxUnavailable` at a time
/// (OnDelete: only when someone deletes them). Every template is a ControllerRevision (for
/// `kubectl rollout history|undo ds`), its hash the pods' `controller-revision-hash`.
public enum DaemonSets {
    public static let hashLabel = ControllerRevisions.hashLabel

    public struct Plan: Sendable {
        /// New pods, by node.
        public var create: [String: JSONValue] = [:]
        public var delete: [Pod] = []
        public var status: JSONValue = .null
        /// The DaemonSet's ControllerRevisions: orphans to adopt, the current template's to
        /// create, a rollback's renumbering; and old ones beyond revisionHistoryLimit to delete.
        public var revisions = ControllerRevisions.Outcome(update: ControllerRevision(json: .emptyObject), history: [], collisionCount: 0)
        public var prune: [String] = []
    }

    /// The tolerations every daemon pod carries, so node conditions do not evict it.
    static let defaultTolerations: [JSONValue] = [
        ["key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"],
        ["key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"],
        ["key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"],
        ["key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"],
    ]

    /// The pod a DaemonSet runs on `node`, before it is pinned there.
    static func podTemplate(_ ds: DaemonSet, hash: String) -> JSONValue {
        var pod = ReplicaSets.newPod(ds)
        pod[path: ["metadata", "labels", hashLabel]] = .string(hash)
        var tolerations = pod[path: ["spec", "tolerations"]]?.arrayValue ?? []
        for t in defaultTolerations where !tolerations.contains(t) { tolerations.append(t) }
        if pod[path: ["spec", "hostNetwork"]]?.boolValue == true {
            tolerations.append(["key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"])
        }
        pod[path: ["spec", "tolerations"]] = .array(tolerations)
        return pod
    }

    /// Whether the daemon pod (parsed once per plan: `Scheduling.PodInfo(Pod(json:
    /// podTemplate(ds, hash: "")))`) may run on the node: its selector, affinity and
    /// tolerations, judged by the scheduler's node filters.
    public static func shouldRun(_ pod: Scheduling.PodInfo, on node: Node) -> Bool {
        guard let reason = Scheduling.nodeFilter(pod, Scheduling.NodeInfo(node: node))?.reason else { return true }
        // Capacity is the scheduler's business: the daemon pod is made and waits there.
        return reason.hasPrefix("Insufficient") || reason == "Too many pods"
    }

    public static func plan(_ ds: DaemonSet, nodes: [Node], pods: [Pod], revisions: [ControllerRevision] = [], now: Int) -> Plan {
        var plan = Plan()
        plan.revisions = ControllerRevisions.resolve(ds, revisions)
        let hash = ControllerRevisions.hash(of: plan.revisions.update)
        let owned = pods.filter { $0.controllerReference?.uid == ds.uid }
        let live = Set(owned.compactMap { $0.labels[hashLabel] } + [hash])
        plan.prune = ControllerRevisions.prune(plan.revisions.history, live: live,
                                               limit: ds.json[path: ["spec", "revisionHistoryLimit"]]?.intValue ?? 10)
        let mine = owned.filter(ReplicaSets.isActive)
        // A node whose old pod is still stopping gets its new one once it is gone (they may
        // share host ports), as Kubernetes does without maxSurge.
        let stopping = Set(owned.filter { $0.deletionTimestamp != nil }.compactMap(\.pinnedNode))
        var byNode: [String: [Pod]] = [:]
        for pod in mine { byNode[pod.pinnedNode ?? "", default: []].append(pod) }
        let daemonPod = Scheduling.PodInfo(Pod(json: podTemplate(ds, hash: "")))
        let eligible = nodes.filter { $0.deletionTimestamp == nil && shouldRun(daemonPod, on: $0) }.sorted { $0.name < $1.name }
        let eligibleNames = Set(eligible.map(\.name))
        for (node, podsThere) in byNode where !eligibleNames.contains(node) { plan.delete += podsThere }
        var outdated: [Pod] = []
        var unavailable = 0
        for node in eligible {
            let there = byNode[node.name] ?? []
            if there.isEmpty {
                unavailable += 1
                if stopping.contains(node.name) { continue }
                var pod = podTemplate(ds, hash: hash)
                pod[path: ["metadata", "generateName"]] = .string(ds.name + "-")
                pod[path: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"]] =
                    ["nodeSelectorTerms": [["matchFields": [["key": "metadata.name", "operator": "In", "values": [.string(node.name)]]]]]]
                plan.create[node.name] = pod
                continue
            }
            // One pod a node: the newest up-to-date ready one stays.
            let ranked = there.sorted { a, b in
                let (ua, ub) = (a.labels[hashLabel] == hash, b.labels[hashLabel] == hash)
                if ua != ub { return ua }
                if a.isReady != b.isReady { return a.isReady }
                return (a.json[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "") > (b.json[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "")
            }
            plan.delete += ranked.dropFirst()
            let kept = ranked[0]
            if !kept.isReady { unavailable += 1 }
            if kept.labels[hashLabel] != hash { outdated.append(kept) }
        }
        let strategy = ds.json[path: ["spec", "updateStrategy", "type"]]?.stringValue ?? "RollingUpdate"
        if strategy == "RollingUpdate" {
            let maxUnavailable = Deployments.scaled(ds.json[path: ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"]],
                                                    of: eligible.count, roundUp: false, default: "1")
            // Not-ready outdated pods first: replacing them costs no availability.
            let order = outdated.sorted { !$0.isReady && $1.isReady }
            var budget = max(0, max(1, maxUnavailable) - unavailable)
            for pod in order {
                if !pod.isReady { plan.delete.append(pod); continue }
                guard budget > 0 else { break }
                plan.delete.append(pod)
                budget -= 1
            }
        }
        let scheduled = eligible.filter { !(byNode[$0.name] ?? []).isEmpty }
        let kept = eligible.compactMap { node in (byNode[node.name] ?? []).first { $0.labels[hashLabel] == hash } ?? byNode[node.name]?.first }
        let ready = kept.filter(\.isReady).count
        plan.status = [
            "desiredNumberScheduled": .int(Int64(eligible.count)),
            "currentNumberScheduled": .int(Int64(scheduled.count)),
            "numberMisscheduled": .int(Int64(byNode.keys.filter { !$0.isEmpty && !eligibleNames.contains($0) }.count)),
            "numberReady": .int(Int64(ready)),
            "numberAvailable": .int(Int64(ready)),
            "numberUnavailable": .int(Int64(max(0, eligible.count - ready))),
            "updatedNumberScheduled": .int(Int64(kept.filter { $0.labels[hashLabel] == hash }.count)),
            "observedGeneration": .int(Int64(ds.generation)),
        ]
        if plan.revisions.collisionCount > 0 { plan.status["collisionCount"] = .int(Int64(plan.revisions.collisionCount)) }
        return plan
    }
}

extension Pod {
    /// The node the pod runs on, or the one its node affinity pins it to (a daemon pod not yet bound).
    var pinnedNode: String? {
        if let node = nodeName, !node.isEmpty { return node }
        let terms = json[path: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?.arrayValue ?? []
        for term in terms {
            for field in term["matchFields"]?.arrayValue ?? [] where field["key"] == "metadata.name" && field["operator"] == "In" {
                if let name = field["values"]?.arrayValue?.first?.stringValue { return name }
            }
        }
        return nil
    }
}
