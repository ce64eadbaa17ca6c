public import APITypes
public import JSON
import APIMachinery

/// The ReplicaSet controller's decisions, as kube-controller-manager's: the pods a ReplicaSet
/// controls (adopting matching orphans, releasing pods that no longer match), how many to add
/// or which to remove, the pod made from the template, and the status it reports.
public enum ReplicaSets {
    /// What to do for one ReplicaSet now.
    public struct Plan: Sendable {
        /// Orphan pods the selector matches: take them over.
        public var adopt: [Pod] = []
        /// Owned pods the selector no longer matches: let them go.
        public var release: [Pod] = []
        /// How many pods to create.
        public var create = 0
        /// Which pods to delete, the least useful first.
        public var delete: [Pod] = []
        /// The pods the ReplicaSet controls after this plan (before creations), for its status.
        public var active: [Pod] = []
    }

    /// Whether the pod still counts: not finished, not being deleted.
    public static func isActive(_ pod: Pod) -> Bool {
        pod.deletionTimestamp == nil && pod.phase != "Succeeded" && pod.phase != "Failed"
    }

    /// The plan for `owner` (a ReplicaSet, or anything else with replicas, a selector and a
    /// template) over the pods of its namespace.
    public static func plan<Owner: PodTemplateOwner>(_ owner: Owner, pods: [Pod]) -> Plan {
        var plan = Plan()
        guard let selector = try? LabelSelector(json: owner.selector), !selector.isEverything else { return plan }
        var controlled: [Pod] = []
        for pod in pods where pod.namespace == owner.namespace {
            let matches = selector.matches(pod.labels)
            if let ref = pod.controllerReference {
                guard ref.uid == owner.uid else { continue }
                if matches { controlled.append(pod) } else if pod.deletionTimestamp == nil { plan.release.append(pod) }
            } else if matches && isActive(pod) && owner.deletionTimestamp == nil {
                plan.adopt.append(pod)
                controlled.append(pod)
            }
        }
        plan.active = controlled.filter(isActive)
        // A ReplicaSet being deleted makes and removes nothing (the garbage collector acts).
        guard owner.deletionTimestamp == nil else { return plan }
        let diff = owner.replicas - plan.active.count
        if diff > 0 {
            plan.create = diff
        } else if diff < 0 {
            plan.delete = Array(rankedForDeletion(plan.active).prefix(-diff))
        }
        return plan
    }

    /// Pods in the order they are given up, as Kubernetes ranks them: not on a node before on
    /// one, pending before unknown before running, not ready before ready, then the youngest.
    public static func rankedForDeletion(_ pods: [Pod]) -> [Pod] {
        func phaseRank(_ pod: Pod) -> Int {
            switch pod.phase {
            case "Pending", nil: 0
            case "Unknown": 1
            default: 2
            }
        }
        return pods.sorted { a, b in
            let (aNode, bNode) = (a.nodeName?.isEmpty == false, b.nodeName?.isEmpty == false)
            if aNode != bNode { return !aNode }
            if phaseRank(a) != phaseRank(b) { return phaseRank(a) < phaseRank(b) }
            if a.isReady != b.isReady { return !a.isReady }
            let (aTime, bTime) = (a.json[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "",
                                  b.json[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "")
            if aTime != bTime { return aTime > bTime }
            return a.name > b.name
        }
    }

    /// A new pod from the owner's template: named `<owner>-<random>` by the API server, labelled
    /// and annotated as the template says, controlled by the owner.
    public static func newPod<Owner: PodTemplateOwner>(_ owner: Owner) -> JSONValue {
        let template = owner.template
        var metadata = template["metadata"] ?? .emptyObject
        metadata["name"] = nil
        metadata["generateName"] = .string(owner.name + "-")
        metadata["namespace"] = .string(owner.namespace ?? "")
        metadata["ownerReferences"] = [OwnerReference(controlledBy: owner).json]
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"] ?? .emptyObject]
    }

    /// The status of a ReplicaSet over its active pods: replicas, fully labelled, ready and
    /// available (ready for minReadySeconds at `now`), the generation observed.
    public static func status<Owner: PodTemplateOwner>(_ owner: Owner, active: [Pod], now: Int) -> JSONValue {
        let templateLabels = stringMap(owner.template[path: ["metadata", "labels"]])
        let minReady = owner.json[path: ["spec", "minReadySeconds"]]?.intValue ?? 0
        let ready = active.filter(\.isReady)
        let available = ready.filter { pod in
            guard minReady > 0 else { return true }
            let since = (pod.json[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "Ready" }?["lastTransitionTime"]?
                .stringValue.flatMap(APITime.parse)
            return since.map { now - $0 >= minReady } ?? false
        }
        var status: JSONValue = [
            "replicas": .int(Int64(active.count)),
            "fullyLabeledReplicas": .int(Int64(active.filter { pod in templateLabels.allSatisfy { pod.labels[$0.key] == $0.value } }.count)),
            "readyReplicas": .int(Int64(ready.count)),
            "availableReplicas": .int(Int64(available.count)),
            "observedGeneration": .int(Int64(owner.generation)),
        ]
        if let conditions = owner.json[path: ["status", "conditions"]] { status["conditions"] = conditions }
        return status
    }
}
