public import APITypes
public import JSON
import APIMachinery

/// The Job controller's decisions, as kube-controller-manager's: pods from the template until
/// `completions` have succeeded (or, without completions, until one has and none runs), at
/// most `parallelism` at once; in Indexed mode each index 0..<completions once, its pods
/// annotated with their index; failure past `backoffLimit` or `activeDeadlineSeconds` fails
/// the Job and removes its running pods; a finished Job goes `ttlSecondsAfterFinished` later.
public enum Jobs {
    public static let indexAnnotation = "batch.kubernetes.io/job-completion-index"

    public struct Plan: Sendable {
        /// Pods to create (their bodies), and running pods to delete.
        public var create: [JSONValue] = []
        public var delete: [Pod] = []
        /// The Job's new status.
        public var status: JSONValue = .null
        /// Delete the Job itself (its TTL after finishing has passed).
        public var expired = false
        /// When to look again without any event (the deadline or the TTL), Unix seconds.
        public var recheckAt: Int?
    }

    static func condition(_ job: Job, _ type: String) -> Bool {
        (job.json[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"]?.stringValue == type && $0["status"] == "True" }
    }

    public static func isFinished(_ job: Job) -> Bool { condition(job, "Complete") || condition(job, "Failed") }

    /// The plan for `job` over the pods it controls, at `now` (Unix seconds).
    public static func plan(_ job: Job, pods: [Pod], now: Int) -> Plan {
        var plan = Plan()
        let spec = job.json["spec"] ?? .emptyObject
        let mine = pods.filter { $0.controllerReference?.uid == job.uid }
        let active = mine.filter { $0.deletionTimestamp == nil && $0.phase != "Succeeded" && $0.phase != "Failed" }
        let succeeded = mine.filter { $0.phase == "Succeeded" }
        let failed = mine.filter { $0.phase == "Failed" }
        let indexed = spec["completionMode"]?.stringValue == "Indexed"
        let completions = spec["completions"]?.intValue
        let parallelism = spec["parallelism"]?.intValue ?? 1
        let backoffLimit = spec["backoffLimit"]?.intValue ?? 6
        let start = job.json[path: ["status", "startTime"]]?.stringValue.flatMap(APITime.parse) ?? now
        var status = job.json["status"] ?? .emptyObject
        var conditions = status["conditions"]?.arrayValue ?? []
        func finish(_ type: String, _ reason: String, _ message: String) {
            let time = JSONValue.string(APITime.format(now))
            conditions.append(["type": .string(type), "status": "True", "reason": .string(reason), "message": .string(message),
                               "lastProbeTime": time, "lastTransitionTime": time])
            if type == "Complete" { status["completionTime"] = time }
        }

        // Indexes that succeeded (Indexed mode), as "0-2,4".
        let doneIndexes = Set(succeeded.compactMap { Int($0.annotations[indexAnnotation] ?? "") })
        let finished = isFinished(job)
        if !finished {
            let deadline = spec["activeDeadlineSeconds"]?.intValue
            let complete: Bool
            if indexed, let completions {
                complete = (0..<completions).allSatisfy(doneIndexes.contains)
            } else if let completions {
                complete = succeeded.count >= completions
            } else {
                complete = !succeeded.isEmpty && active.isEmpty
            }
            if complete {
                finish("Complete", "", "")
                conditions[conditions.count - 1]["reason"] = nil
                conditions[conditions.count - 1]["message"] = nil
            } else if failed.count > backoffLimit {
                finish("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
                plan.delete = active
            } else if let deadline, now - start >= deadline {
                finish("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
                plan.delete = active
            } else if job.json[path: ["spec", "suspend"]]?.boolValue == true {
                plan.delete = active
            } else {
                if let deadline { plan.recheckAt = start + deadline }
                if indexed, let completions {
                    let running = Set(active.compactMap { Int($0.annotations[indexAnnotation] ?? "") })
                    let missing = (0..<completions).filter { !doneIndexes.contains($0) && !running.contains($0) }
                    for index in missing.prefix(max(0, parallelism - active.count)) { plan.create.append(newPod(job, index: index)) }
                } else {
                    let remaining = completions.map { $0 - succeeded.count } ?? (succeeded.isEmpty ? parallelism : 0)
                    let want = min(parallelism, max(0, remaining))
                    if active.count < want {
                        for _ in 0..<(want - active.count) { plan.create.append(newPod(job, index: nil)) }
                    } else if active.count > want {
                        plan.delete = Array(ReplicaSets.rankedForDeletion(active).prefix(active.count - want))
                    }
                }
            }
        }
        status["conditions"] = conditions.isEmpty ? nil : .array(conditions)
        status["startTime"] = status["startTime"] ?? .string(APITime.format(start))
        let nowFinished = isFinished(Job(json: ["status": status]))
        status["active"] = .int(Int64(nowFinished ? 0 : active.count - plan.delete.count + plan.create.count))
        status["ready"] = .int(Int64(active.filter(\.isReady).count))
        status["succeeded"] = .int(Int64(succeeded.count))
        status["failed"] = .int(Int64(failed.count))
        if indexed { status["completedIndexes"] = doneIndexes.isEmpty ? nil : .string(ranges(doneIndexes)) }
        plan.status = status
        // A finished Job goes ttlSecondsAfterFinished after it finished.
        if nowFinished, let ttl = spec["ttlSecondsAfterFinished"]?.intValue {
            let at = (conditions.compactMap { $0["lastTransitionTime"]?.stringValue.flatMap(APITime.parse) }.max() ?? now) + ttl
            if now >= at { plan.expired = true } else { plan.recheckAt = at }
        }
        return plan
    }

    /// A pod of the Job (of `index`, in Indexed mode: annotated, named and with
    /// JOB_COMPLETION_INDEX in every container's environment, as Kubernetes makes them).
    static func newPod(_ job: Job, index: Int?) -> JSONValue {
        var pod = ReplicaSets.newPod(job)
        guard let index else { return pod }
        pod[path: ["metadata", "generateName"]] = .string("\(job.name)-\(index)-")
        pod[path: ["metadata", "annotations", indexAnnotation]] = .string(String(index))
        pod[path: ["metadata", "labels", indexAnnotation]] = .string(String(index))
        if var containers = pod[path: ["spec", "containers"]]?.arrayValue {
            for i in containers.indices {
                var env = containers[i]["env"]?.arrayValue ?? []
                env.append(["name": "JOB_COMPLETION_INDEX", "value": .string(String(index))])
                containers[i]["env"] = .array(env)
            }
            pod[path: ["spec", "containers"]] = .array(containers)
        }
        return pod
    }

    /// "0-2,4,6-7".
    static func ranges(_ indexes: Set<Int>) -> String {
        var parts: [String] = []
        var sorted = indexes.sorted()[...]
        while let first = sorted.popFirst() {
            var last = first
            while sorted.first == last + 1 { last = sorted.removeFirst() }
            parts.append(first == last ? "\(first)" : "\(first)-\(last)")
        }
        return parts.joined(separator: ",")
    }
}
