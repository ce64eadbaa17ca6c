public import APITypes
public import JSON
import APIMachinery
import SchedulerCore

/// The node lifecycle controller's decisions, as kube-controller-manager's: a node whose
/// agent has not been heard from (its Lease or its Ready heartbeat) for the grace period has
/// its conditions set to Unknown; a node that is not Ready carries the NoSchedule and NoExecute
/// taints of its state (`node.kubernetes.io/unreachable` or `…/not-ready`); its pods are
/// marked not ready, and those that do not tolerate a NoExecute taint are evicted at once or
/// after their `tolerationSeconds` (the taint manager's rule).
public enum NodeLifecycle {
    public static let unreachable = "node.kubernetes.io/unreachable"
    public static let notReady = "node.kubernetes.io/not-ready"
    /// The conditions a node agent reports that turn Unknown when it goes silent.
    static let agentConditions = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]

    public struct Plan: Sendable {
        /// The node's new status.conditions, when they change.
        public var conditions: JSONValue?
        /// The node's new spec.taints, when they change.
        public var taints: JSONValue?
        /// Pods whose Ready condition turns False (their node is not ready).
        public var markNotReady: [Pod] = []
        /// Pods to evict now.
        public var evict: [Pod] = []
        /// When a pod's toleration runs out (look again then).
        public var recheckAt: Int?
    }

    /// `silentFor`: seconds since the controller last saw the node's heartbeat change.
    public static func plan(_ node: Node, silentFor: Int, gracePeriod: Int, pods: [Pod], now: Int) -> Plan {
        var plan = Plan()
        var conditions = node.json[path: ["status", "conditions"]]?.arrayValue ?? []
        if silentFor > gracePeriod {
            var changed = false
            let stamp = JSONValue.string(APITime.format(now))
            for type in agentConditions {
                let i = conditions.firstIndex { $0["type"]?.stringValue == type }
                if let i, conditions[i]["status"] == "Unknown" { continue }
                var condition: JSONValue = i.map { conditions[$0] } ?? ["type": .string(type)]
                condition["status"] = "Unknown"
                condition["reason"] = "NodeStatusUnknown"
                condition["message"] = "Kubelet stopped posting node status."
                condition["lastTransitionTime"] = stamp
                if condition["lastHeartbeatTime"] == nil { condition["lastHeartbeatTime"] = stamp }
                if let i { conditions[i] = condition } else { conditions.append(condition) }
                changed = true
            }
            if changed { plan.conditions = .array(conditions) }
        }
        let ready = conditions.first { $0["type"] == "Ready" }?["status"]?.stringValue ?? "Unknown"
        // The taints this state calls for, keeping the time a NoExecute taint was first added.
        let wanted: String? = ready == "True" ? nil : ready == "False" ? notReady : unreachable
        let current = node.json[path: ["spec", "taints"]]?.arrayValue ?? []
        var taints = current.filter { taint in
            let key = taint["key"]?.stringValue ?? ""
            return !((key == unreachable || key == notReady) && key != wanted)
        }
        if let wanted {
            for effect in ["NoSchedule", "NoExecute"] where !taints.contains(where: { $0["key"]?.stringValue == wanted && $0["effect"]?.stringValue == effect }) {
                var taint: JSONValue = ["key": .string(wanted), "effect": .string(effect)]
                if effect == "NoExecute" { taint["timeAdded"] = .string(APITime.format(now)) }
                taints.append(taint)
            }
        }
        if taints != current { plan.taints = .array(taints) }

        let running = pods.filter { $0.nodeName == node.name && $0.deletionTimestamp == nil && $0.phase != "Succeeded" && $0.phase != "Failed" }
        if ready != "True" {
            plan.markNotReady = running.filter { $0.isReady }
        }
        // The taint manager: NoExecute taints against each pod's tolerations.
        let noExecute = taints.filter { $0["effect"] == "NoExecute" }
        guard !noExecute.isEmpty else { return plan }
        for pod in running {
            let tolerations = (pod.json[path: ["spec", "tolerations"]]?.arrayValue ?? []).map(Scheduling.Toleration.init)
            var deadline: Int? = nil
            var evictNow = false
            for taint in noExecute {
                let matching = tolerations.filter {
                    $0.tolerates(key: taint["key"]?.stringValue ?? "", value: taint["value"]?.stringValue ?? "", effect: "NoExecute")
                }
                if matching.isEmpty { evictNow = true; break }
                // The shortest of the matching tolerations counts; none with seconds: forever.
                let seconds = matching.compactMap(\.tolerationSeconds)
                guard seconds.count == matching.count, let shortest = seconds.min() else { continue }
                let added = taint["timeAdded"]?.stringValue.flatMap(APITime.parse) ?? now
                deadline = min(deadline ?? .max, added + max(0, shortest))
            }
            if evictNow || (deadline.map { $0 <= now } ?? false) {
                plan.evict.append(pod)
            } else if let deadline {
                plan.recheckAt = min(plan.recheckAt ?? .max, deadline)
            }
        }
        return plan
    }
}
