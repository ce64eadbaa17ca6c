public import APITypes
public import JSON
import APIMachinery

/// The disruption controller's decisions, as kube-controller-manager's: how many of the pods
/// a PodDisruptionBudget covers must stay healthy, how many are, and so how many may be
/// evicted now (what `pods/eviction` spends). Pods just evicted (`status.disruptedPods`) do
/// not count as healthy until they are gone or two minutes have passed.
public enum Disruptions {
    /// How long an eviction stays counted when its pod does not go.
    public static let disruptionTimeout = 120

    public struct Plan: Sendable {
        public var status: JSONValue
        /// When a counted eviction expires (look again then).
        public var recheckAt: Int?
    }

    /// The status of `budget` over the pods of its namespace; `scale` is the replica count of
    /// a pod's controller (nil: it has none that scales).
    public static func plan(_ budget: PodDisruptionBudget, pods: [Pod], scale: (OwnerReference) -> Int?, now: Int) -> Plan {
        let spec = budget.json["spec"] ?? .emptyObject
        let selector = (try? LabelSelector(json: spec["selector"] ?? .null)).flatMap { spec["selector"] == nil ? nil : $0 }
        let covered = pods.filter { pod in
            pod.namespace == budget.namespace && (selector?.matches(pod.labels) ?? false)
                && pod.phase != "Succeeded" && pod.phase != "Failed"
        }
        // Evictions still counted: their pod is here, not going, and the eviction is recent.
        var disrupted: [String: JSONValue] = [:]
        var recheckAt: Int?
        for (name, at) in budget.json[path: ["status", "disruptedPods"]]?.objectValue ?? [:] {
            guard let time = at.stringValue.flatMap(APITime.parse), now - time < disruptionTimeout,
                  covered.contains(where: { $0.name == name && $0.deletionTimestamp == nil }) else { continue }
            disrupted[name] = at
            recheckAt = min(recheckAt ?? .max, time + disruptionTimeout)
        }
        let healthy = covered.filter { $0.deletionTimestamp == nil && $0.isReady && disrupted[$0.name] == nil }.count
        var failure: String?
        let expected: Int
        let minAvailable = spec["minAvailable"], maxUnavailable = spec["maxUnavailable"]
        if case .int = minAvailable {
            expected = covered.count
        } else {
            // Percentages and maxUnavailable count against what the pods' controllers ask for.
            var owners: [String: Int] = [:]
            for pod in covered {
                guard let ref = pod.controllerReference, let replicas = scale(ref) else {
                    failure = "found no controllers for pod \"\(pod.name)\""
                    break
                }
                owners[ref.uid] = replicas
            }
            expected = owners.values.reduce(0, +)
        }
        func scaled(_ value: JSONValue?) -> Int? {
            switch value {
            case .int(let n)?: return Int(n)
            case .string(let s)? where s.hasSuffix("%"):
                guard let percent = Int(s.dropLast()) else { return nil }
                return (percent * expected + 99) / 100
            case .string(let s)?: return Int(s)
            default: return nil
            }
        }
        var desired = 0
        if let minimum = scaled(minAvailable) {
            desired = minimum
        } else if let maximum = scaled(maxUnavailable) {
            desired = max(0, expected - maximum)
        } else if minAvailable == nil && maxUnavailable == nil {
            desired = 1
        }
        let allowed = failure == nil ? max(0, healthy - desired) : 0
        let condition: JSONValue = [
            "type": "DisruptionAllowed", "status": allowed > 0 ? "True" : "False",
            "reason": .string(failure != nil ? "SyncFailed" : allowed > 0 ? "SufficientPods" : "InsufficientPods"),
            "message": .string(failure ?? ""), "observedGeneration": .int(Int64(budget.json[path: ["metadata", "generation"]]?.intValue ?? 0)),
            "lastTransitionTime": .string(APITime.format(now)),
        ]
        // The transition time moves only when the condition's status does.
        let previous = (budget.json[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "DisruptionAllowed" }
        var kept = condition
        if let previous, previous["status"] == condition["status"], previous["reason"] == condition["reason"] {
            kept["lastTransitionTime"] = previous["lastTransitionTime"] ?? condition["lastTransitionTime"] ?? .null
        }
        var status: JSONValue = [
            "observedGeneration": .int(Int64(budget.json[path: ["metadata", "generation"]]?.intValue ?? 0)),
            "disruptionsAllowed": .int(Int64(allowed)), "currentHealthy": .int(Int64(healthy)),
            "desiredHealthy": .int(Int64(desired)), "expectedPods": .int(Int64(expected)),
            "conditions": [kept],
        ]
        if !disrupted.isEmpty { status["disruptedPods"] = .object(disrupted) }
        return Plan(status: status, recheckAt: recheckAt)
    }
}
