public import APITypes
public import JSON
import APIMachinery

/// The Deployment controller's decisions, as kube-controller-manager's: one ReplicaSet per
/// pod template (named by the template's hash, which also labels its pods), revisions
/// counted up on the ReplicaSets, and the rollout: RollingUpdate within maxSurge and
/// maxUnavailable, or Recreate (the old pods gone before the new start), paused on request,
/// old ReplicaSets kept up to revisionHistoryLimit. The status is what `kubectl rollout
/// status` reads.
public enum Deployments {
    public static let hashLabel = "pod-template-hash"
    public static let revisionAnnotation = "deployment.kubernetes.io/revision"
    public static let desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
    public static let maxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
    public static let changeCauseAnnotation = "kubernetes.io/change-cause"

    /// What to do for one Deployment now.
    public struct Plan: Sendable {
        /// The ReplicaSet to create for the current template (with its replicas), if none has it.
        public var create: JSONValue?
        /// New spec.replicas (and annotations) for existing ReplicaSets, by name.
        public var scale: [String: Int] = [:]
        /// The revision the Deployment is at (its annotation).
        public var revision: Int = 0
        /// Old ReplicaSets beyond the history limit, to delete.
        public var prune: [String] = []
        /// The Deployment's status once the ReplicaSets report.
        public var status: JSONValue = .null
    }

    /// The hash of a pod template, as the pod-template-hash label carries it: FNV-1a over the
    /// template's JSON and the collision count, in Kubernetes' safe alphabet (no vowels).
    public static func templateHash(_ template: JSONValue, collisionCount: Int = 0) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in template.jsonBytes() + Array(String(collisionCount).utf8) {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String(String(hash).utf8.map { alphabet[Int($0) % alphabet.count] })
    }

    /// The template without the hash label (how a ReplicaSet's template is compared with the
    /// Deployment's).
    static func bareTemplate(_ template: JSONValue) -> JSONValue {
        var t = template
        t[path: ["metadata", "labels", hashLabel]] = nil
        if t[path: ["metadata", "labels"]]?.objectValue?.isEmpty == true { t[path: ["metadata", "labels"]] = nil }
        return t
    }

    /// Whether the ReplicaSet runs the Deployment's current template.
    public static func isCurrent(_ rs: ReplicaSet, of deployment: Deployment) -> Bool {
        bareTemplate(rs.template) == bareTemplate(deployment.template)
    }

    /// The ReplicaSets a Deployment controls, as Kubernetes' controller-ref manager decides:
    /// orphans its selector matches are adopted (a Deployment deleted with
    /// `--cascade=orphan` and made again takes its ReplicaSets back), owned ones it no longer
    /// matches are released. Nothing is adopted by a Deployment being deleted.
    public static func claim(_ deployment: Deployment, _ replicaSets: [ReplicaSet])
        -> (owned: [ReplicaSet], adopt: [ReplicaSet], release: [ReplicaSet]) {
        guard let selector = try? LabelSelector(json: deployment.selector), !selector.isEverything else { return ([], [], []) }
        var owned: [ReplicaSet] = [], adopt: [ReplicaSet] = [], release: [ReplicaSet] = []
        for rs in replicaSets where rs.namespace == deployment.namespace && rs.deletionTimestamp == nil {
            let matches = selector.matches(rs.labels)
            if let ref = rs.controllerReference {
                guard ref.uid == deployment.uid else { continue }
                if matches { owned.append(rs) } else { release.append(rs) }
            } else if matches && deployment.deletionTimestamp == nil {
                adopt.append(rs)
                owned.append(rs)
            }
        }
        return (owned, adopt, release)
    }

    public static func revision(_ rs: ReplicaSet) -> Int { Int(rs.annotations[revisionAnnotation] ?? "") ?? 0 }

    /// An int-or-percent of `total` (maxSurge rounds up, maxUnavailable down).
    static func scaled(_ value: JSONValue?, of total: Int, roundUp: Bool, default fallback: String) -> Int {
        let v = value ?? .string(fallback)
        if let n = v.intValue { return n }
        guard let text = v.stringValue, text.hasSuffix("%"), let percent = Int(text.dropLast()) else { return 0 }
        let product = percent * total
        return roundUp ? (product + 99) / 100 : product / 100
    }

    /// The plan for `deployment` over the ReplicaSets it controls, at `now` (Unix seconds).
    public static func plan(_ deployment: Deployment, owned: [ReplicaSet], now: Int) -> Plan {
        var plan = Plan()
        let replicas = deployment.replicas
        let current = owned.first { isCurrent($0, of: deployment) }
        let old = owned.filter { $0.uid != current?.uid }.sorted { revision($0) < revision($1) }
        let maxOld = old.map(revision).max() ?? 0
        let paused = deployment.json[path: ["spec", "paused"]]?.boolValue ?? false
        let strategy = deployment.json[path: ["spec", "strategy", "type"]]?.stringValue ?? "RollingUpdate"
        var surge = scaled(deployment.json[path: ["spec", "strategy", "rollingUpdate", "maxSurge"]], of: replicas, roundUp: true, default: "25%")
        var unavailable = scaled(deployment.json[path: ["spec", "strategy", "rollingUpdate", "maxUnavailable"]], of: replicas,
                                 roundUp: false, default: "25%")
        if strategy == "Recreate" { (surge, unavailable) = (0, replicas) }
        if surge == 0 && unavailable == 0 { unavailable = 1 }

        func specReplicas(_ rs: ReplicaSet) -> Int { plan.scale[rs.name] ?? rs.replicas }
        func available(_ rs: ReplicaSet) -> Int { rs.json[path: ["status", "availableReplicas"]]?.intValue ?? 0 }
        func actual(_ rs: ReplicaSet) -> Int { rs.json[path: ["status", "replicas"]]?.intValue ?? 0 }

        plan.revision = current.map { rs in revision(rs) > maxOld ? revision(rs) : maxOld + 1 } ?? maxOld + 1
        if let current, revision(current) < plan.revision { plan.scale[current.name] = current.replicas }  // re-annotate
        if paused {
            // Only proportional scaling: nothing rolls while paused.
            if let current, old.allSatisfy({ $0.replicas == 0 }) { plan.scale[current.name] = replicas }
        } else if strategy == "Recreate" {
            for rs in old where rs.replicas != 0 { plan.scale[rs.name] = 0 }
            let oldGone = old.allSatisfy { actual($0) == 0 && $0.replicas == 0 }
            if let current {
                if oldGone { plan.scale[current.name] = replicas }
            } else {
                plan.create = newReplicaSet(deployment, replicas: oldGone ? replicas : 0, revision: plan.revision)
            }
        } else {
            // RollingUpdate: scale the new ReplicaSet up within the surge...
            let total = owned.map(\.replicas).reduce(0, +)
            let room = max(0, replicas + surge - total)
            let newTarget: Int
            if let current {
                newTarget = current.replicas >= replicas ? replicas : min(replicas, current.replicas + room)
                if newTarget != current.replicas { plan.scale[current.name] = newTarget }
            } else {
                newTarget = old.isEmpty ? replicas : min(replicas, room)
                plan.create = newReplicaSet(deployment, replicas: newTarget, revision: plan.revision)
            }
            // ...and the old ones down, keeping replicas - maxUnavailable available: pods that
            // are not available cost nothing to remove.
            let totalAvailable = owned.map(available).reduce(0, +)
            var budget = max(0, totalAvailable - (replicas - unavailable))
            // A status lags its spec: a ReplicaSet just scaled down reports its old available
            // count until its controller catches up, and counting that twice once took every
            // old pod down before a new one was ready. So, as Kubernetes' maxScaledDown, the
            // cut is also bounded by the specs: all the pods they ask for, less those that
            // must stay available and the new ReplicaSet's not yet available.
            let newUnavailable = current.map { max(0, $0.replicas - available($0)) } ?? 0
            var maxScaledDown = max(0, total - (replicas - unavailable) - newUnavailable)
            for rs in old where rs.replicas > 0 {
                let notAvailable = max(0, rs.replicas - available(rs))
                let cut = min(rs.replicas, notAvailable + budget, maxScaledDown)
                budget -= max(0, cut - notAvailable)
                maxScaledDown -= cut
                if cut > 0 { plan.scale[rs.name] = rs.replicas - cut }
            }
        }
        // History: the oldest empty ReplicaSets beyond revisionHistoryLimit go.
        let limit = deployment.json[path: ["spec", "revisionHistoryLimit"]]?.intValue ?? 10
        let empty = old.filter { specReplicas($0) == 0 && actual($0) == 0 && $0.deletionTimestamp == nil }
        if empty.count > limit { plan.prune = empty.prefix(empty.count - limit).map(\.name) }
        plan.status = status(deployment, current: current, all: owned, unavailable: unavailable, now: now)
        return plan
    }

    /// The ReplicaSet for the Deployment's current template.
    static func newReplicaSet(_ deployment: Deployment, replicas: Int, revision: Int) -> JSONValue {
        let hash = templateHash(deployment.template, collisionCount: deployment.json[path: ["status", "collisionCount"]]?.intValue ?? 0)
        var template = deployment.template
        template[path: ["metadata", "labels", hashLabel]] = .string(hash)
        var selector = deployment.selector
        selector[path: ["matchLabels", hashLabel]] = .string(hash)
        var labels = stringMap(template[path: ["metadata", "labels"]])
        labels[hashLabel] = hash
        var annotations: [String: String] = [revisionAnnotation: String(revision),
                                             desiredReplicasAnnotation: String(deployment.replicas)]
        if let cause = deployment.annotations[changeCauseAnnotation] { annotations[changeCauseAnnotation] = cause }
        return ["apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": ["name": .string("\(deployment.name)-\(hash)"), "namespace": .string(deployment.namespace ?? ""),
                             "labels": .object(labels.mapValues(JSONValue.string)),
                             "annotations": .object(annotations.mapValues(JSONValue.string)),
                             "ownerReferences": [OwnerReference(controlledBy: deployment).json]],
                "spec": ["replicas": .int(Int64(replicas)), "minReadySeconds": deployment.json[path: ["spec", "minReadySeconds"]] ?? 0,
                         "selector": selector, "template": template]]
    }

    /// The Deployment's status from its ReplicaSets': counts, and the Available and
    /// Progressing conditions `kubectl rollout status` waits on.
    static func status(_ deployment: Deployment, current: ReplicaSet?, all: [ReplicaSet], unavailable: Int, now: Int) -> JSONValue {
        func sum(_ field: String) -> Int { all.map { $0.json[path: ["status", field]]?.intValue ?? 0 }.reduce(0, +) }
        let replicas = deployment.replicas
        let updated = current?.json[path: ["status", "replicas"]]?.intValue ?? 0
        let available = sum("availableReplicas")
        let total = sum("replicas")
        let time = JSONValue.string(APITime.format(now))
        let complete = updated == replicas && total == replicas && available >= replicas
            && (current?.json[path: ["status", "observedGeneration"]]?.intValue ?? 0) >= (current?.generation ?? 0)
        let previous = deployment.json[path: ["status", "conditions"]]?.arrayValue ?? []
        func condition(_ type: String, _ status: Bool, _ reason: String, _ message: String) -> JSONValue {
            let old = previous.first { $0["type"]?.stringValue == type }
            let same = old?["status"]?.stringValue == (status ? "True" : "False")
            return ["type": .string(type), "status": .string(status ? "True" : "False"), "reason": .string(reason),
                    "message": .string(message), "lastUpdateTime": old?["reason"]?.stringValue == reason ? old?["lastUpdateTime"] ?? time : time,
                    "lastTransitionTime": same ? old?["lastTransitionTime"] ?? time : time]
        }
        let isAvailable = available >= replicas - unavailable
        var conditions = [condition("Available", isAvailable, isAvailable ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                                    isAvailable ? "Deployment has minimum availability." : "Deployment does not have minimum availability.")]
        let name = current.map { "ReplicaSet \"\($0.name)\"" } ?? "The new ReplicaSet"
        if complete {
            conditions.append(condition("Progressing", true, "NewReplicaSetAvailable", "\(name) has successfully progressed."))
        } else {
            // No progress for progressDeadlineSeconds: the rollout is reported stuck.
            let deadline = deployment.json[path: ["spec", "progressDeadlineSeconds"]]?.intValue ?? 600
            let last = previous.first { $0["type"] == "Progressing" }
            let since = last?["lastUpdateTime"]?.stringValue.flatMap(APITime.parse) ?? now
            let stuck = last?["status"] == "True" && last?["reason"] != "NewReplicaSetAvailable" && now - since > deadline
            conditions.append(stuck ? condition("Progressing", false, "ProgressDeadlineExceeded", "\(name) has timed out progressing.")
                                    : condition("Progressing", true, "ReplicaSetUpdated", "\(name) is progressing."))
        }
        var status: JSONValue = [
            "observedGeneration": .int(Int64(deployment.generation)), "replicas": .int(Int64(total)),
            "updatedReplicas": .int(Int64(updated)), "readyReplicas": .int(Int64(sum("readyReplicas"))),
            "availableReplicas": .int(Int64(available)), "unavailableReplicas": .int(Int64(max(0, replicas - available))),
            "conditions": .array(conditions),
        ]
        if let collisions = deployment.json[path: ["status", "collisionCount"]] { status["collisionCount"] = collisions }
        return status
    }
}
