public import APITypes
public import JSON
import APIMachinery
import Cron

/// The CronJob controller's decisions, as kube-controller-manager's (cronjob controller v2):
/// finished Jobs beyond the history limits go (the oldest first); `status.active` follows the
/// Jobs (finished ones leave it, vanished ones too); unless the CronJob is suspended, the most
/// recent scheduled time not yet started — since `status.lastScheduleTime`, or the creation
/// if none, and no earlier than `startingDeadlineSeconds` ago — gets its Job, named
/// `<cronjob>-<minutes since the epoch>` so a time is never started twice, unless
/// `concurrencyPolicy` Forbid finds one still running (Replace deletes those first); and the
/// next scheduled time is when to look again.
public enum CronJobs {
    /// The scheduled time of a Job, RFC 3339 on the CronJob's clock.
    public static let scheduledTimestampAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"
    /// More missed times than this, and the CronJob gets a TooManyMissedTimes warning.
    public static let tooManyMissed = 100

    /// An Event to record on the CronJob.
    public struct Notice: Sendable, Equatable {
        /// "Normal" or "Warning".
        public var type: String
        public var reason: String
        public var message: String

        public init(_ type: String, _ reason: String, _ message: String) {
            self.type = type
            self.reason = reason
            self.message = message
        }
    }

    public struct Plan: Sendable {
        /// The Job to create (its body), for `scheduledTime`.
        public var create: JSONValue?
        public var scheduledTime: Int?
        /// Jobs to delete with Background propagation, in order: finished ones beyond the
        /// history limits, then (Replace) the running ones.
        public var delete: [Job] = []
        /// The CronJob's new status, before the Job to create is in it (`status(_:started:at:)`
        /// adds it once it exists).
        public var status: JSONValue = .null
        /// Events to record (those of creating and deleting are the caller's, once done).
        public var notices: [Notice] = []
        /// Running Jobs it controls that `status.active` does not list: a status read before
        /// our own last write would show them so, so read the CronJob again before believing it.
        public var unexpected: [String] = []
        /// When to look again without any event (the next scheduled time), Unix seconds.
        public var recheckAt: Int?
    }

    /// The plan for `cronJob` over `jobs` (those of its namespace; it acts on the ones it
    /// controls) at `now` (Unix seconds).
    public static func plan(_ cronJob: CronJob, jobs: [Job], now: Int) -> Plan {
        var plan = Plan()
        let spec = cronJob.json["spec"] ?? .emptyObject
        let owned = jobs.filter { $0.controllerReference?.uid == cronJob.uid }
        var status = cronJob.json["status"] ?? .emptyObject
        var active = status["active"]?.arrayValue ?? []

        plan.delete = beyondHistoryLimits(owned, spec)
        let pruned = Set(plan.delete.map(\.uid))
        active.removeAll { pruned.contains($0["uid"]?.stringValue ?? "") }
        followJobs(owned, active: &active, status: &status, plan: &plan)
        // A CronJob being deleted only keeps its status (the garbage collector takes its Jobs).
        if cronJob.deletionTimestamp == nil {
            let lastScheduled = status["lastScheduleTime"]?.stringValue.flatMap(APITime.parse)
            scheduling(cronJob, spec, owned: owned, lastScheduled: lastScheduled, now: now, active: &active, plan: &plan)
        }
        status["active"] = active.isEmpty ? nil : .array(active)
        plan.status = status
        return plan
    }

    /// The scheduling half of the plan: which time is due, whether its Job may start, and
    /// when to look again.
    static func scheduling(_ cronJob: CronJob, _ spec: JSONValue, owned: [Job], lastScheduled: Int?, now: Int,
                           active: inout [JSONValue], plan: inout Plan) {
        var zone = CronTimeZone.utc
        if let name = spec["timeZone"]?.stringValue {
            guard let named = CronTimeZone(identifier: name) else {
                plan.notices.append(Notice("Warning", "UnknownTimeZone", "invalid timeZone: \"\(name)\": unknown time zone \(name)"))
                return
            }
            zone = named
        }
        guard spec["suspend"]?.boolValue != true,
              let schedule = parseSchedule(spec["schedule"]?.stringValue ?? "", &plan) else { return }

        // The API server always sets creationTimestamp; without one, nothing is overdue.
        let created = cronJob.json[path: ["metadata", "creationTimestamp"]]?.stringValue.flatMap(APITime.parse) ?? now
        let since = lastScheduled ?? created
        let deadline = spec["startingDeadlineSeconds"]?.intValue
        // Times older than the starting deadline are not even looked at.
        let earliest = deadline.map { max(since, now - $0) } ?? since
        guard let recent = mostRecent(schedule, zone, since: earliest, now: now) else {
            plan.notices.append(Notice("Warning", "InvalidSchedule",
                                       "invalid schedule: \(schedule) : time difference between two schedules is less than 1 second"))
            return
        }
        plan.recheckAt = nextCheck(schedule, zone, since: since, now: now)
        guard let scheduled = recent.mostRecent else { return }
        if recent.missed > tooManyMissed {
            plan.notices.append(Notice("Warning", "TooManyMissedTimes",
                                       "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew"))
        }
        if let deadline, scheduled + deadline < now {
            plan.notices.append(Notice("Warning", "MissSchedule", "Missed scheduled time to start a job: \(CronTimeZone.utc.rfc1123Z(scheduled))"))
            return
        }
        let name = jobName(cronJob, scheduled)
        if active.contains(where: { $0["name"]?.stringValue == name }) || lastScheduled == scheduled { return }
        let policy = spec["concurrencyPolicy"]?.stringValue ?? "Allow"
        if policy == "Forbid" && !active.isEmpty {
            plan.notices.append(Notice("Normal", "JobAlreadyActive",
                                       "Not starting job because prior execution is running and concurrency policy is Forbid"))
            return
        }
        if policy == "Replace" {
            // Every Job still listed is in `owned`: followJobs dropped the vanished ones.
            let running = Set(active.compactMap { $0["uid"]?.stringValue })
            plan.delete += owned.filter { running.contains($0.uid) }
            active = []
        }
        plan.create = newJob(cronJob, at: scheduled, zone: zone)
        plan.scheduledTime = scheduled
        // Once the Job exists, this is the last scheduled time: the next check counts from it.
        plan.recheckAt = nextCheck(schedule, zone, since: scheduled, now: now)
    }

    /// `status` with `job` (just created, or found made) listed as active and `scheduledTime`
    /// as the last schedule time.
    public static func status(_ status: JSONValue, started job: Job, at scheduledTime: Int) -> JSONValue {
        var status = status.objectValue.map(JSONValue.object) ?? .emptyObject
        var active = status["active"]?.arrayValue ?? []
        if !active.contains(where: { $0["uid"]?.stringValue == job.uid }) { active.append(reference(to: job)) }
        status["active"] = .array(active)
        status["lastScheduleTime"] = .string(APITime.format(scheduledTime))
        return status
    }

    /// The Jobs `status.active` lists: name, namespace and uid.
    public static func activeReferences(_ cronJob: CronJob) -> [(name: String, namespace: String?, uid: String)] {
        (cronJob.json[path: ["status", "active"]]?.arrayValue ?? []).compactMap { ref in
            guard let name = ref["name"]?.stringValue, let uid = ref["uid"]?.stringValue else { return nil }
            return (name, ref["namespace"]?.stringValue, uid)
        }
    }

    /// The name of the Job for `time`: the CronJob's, then the time in minutes since the epoch
    /// (the schedule's granularity), so a time's Job can be made only once.
    public static func jobName(_ cronJob: CronJob, _ time: Int) -> String {
        "\(cronJob.name)-\(time / 60)"
    }

    // MARK: - Steps

    /// Finished Jobs beyond `successfulJobsHistoryLimit` (3) and `failedJobsHistoryLimit` (1),
    /// the oldest first (by start time, those without one last, then by name).
    static func beyondHistoryLimits(_ owned: [Job], _ spec: JSONValue) -> [Job] {
        let succeeded = owned.filter { Jobs.condition($0, "Complete") }
        let failed = owned.filter { Jobs.condition($0, "Failed") && !Jobs.condition($0, "Complete") }
        let keepSucceeded = max(0, spec["successfulJobsHistoryLimit"]?.intValue ?? 3)
        let keepFailed = max(0, spec["failedJobsHistoryLimit"]?.intValue ?? 1)
        return Array(oldestFirst(succeeded).dropLast(keepSucceeded)) + Array(oldestFirst(failed).dropLast(keepFailed))
    }

    static func oldestFirst(_ jobs: [Job]) -> [Job] {
        jobs.sorted { a, b in
            let (aStart, bStart) = (startTime(a), startTime(b))
            switch (aStart, bStart) {
            case let (x?, y?) where x != y: return x < y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a.name < b.name
            }
        }
    }

    static func startTime(_ job: Job) -> Int? {
        job.json[path: ["status", "startTime"]]?.stringValue.flatMap(APITime.parse)
    }

    /// `status.active` against the Jobs: a finished Job leaves it, a listed Job that no longer
    /// exists too (the caller asked the server, not just its cache, before saying so), and the
    /// latest completion of a succeeded Job is the last successful time.
    static func followJobs(_ owned: [Job], active: inout [JSONValue], status: inout JSONValue, plan: inout Plan) {
        for job in owned {
            let listed = active.contains { $0["uid"]?.stringValue == job.uid }
            if !Jobs.isFinished(job) {
                if !listed {
                    plan.unexpected.append(job.name)
                    plan.notices.append(Notice("Warning", "UnexpectedJob", "Saw a job that the controller did not create or forgot: \(job.name)"))
                }
                continue
            }
            if listed {
                active.removeAll { $0["uid"]?.stringValue == job.uid }
                let condition = Jobs.condition(job, "Complete") ? "Complete" : "Failed"
                plan.notices.append(Notice("Normal", "SawCompletedJob", "Saw completed job: \(job.name), condition: \(condition)"))
            }
            if Jobs.condition(job, "Complete"), let completed = job.json[path: ["status", "completionTime"]]?.stringValue,
               let time = APITime.parse(completed),
               status["lastSuccessfulTime"]?.stringValue.flatMap(APITime.parse).map({ time > $0 }) ?? true {
                status["lastSuccessfulTime"] = .string(completed)
            }
        }
        let present = Set(owned.map(\.uid))
        for ref in active where !present.contains(ref["uid"]?.stringValue ?? "") {
            plan.notices.append(Notice("Normal", "MissingJob", "Active job went missing: \(ref["name"]?.stringValue ?? "")"))
        }
        active.removeAll { !present.contains($0["uid"]?.stringValue ?? "") }
    }

    /// The schedule, or nil and the warning kube gives: TZ= in the schedule is refused (the
    /// zone belongs in spec.timeZone; the API server refuses it on create), the rest as the
    /// parser says.
    static func parseSchedule(_ text: String, _ plan: inout Plan) -> CronSchedule? {
        if text.contains("TZ") {
            plan.notices.append(Notice("Warning", "UnsupportedSchedule",
                                       "CRON_TZ or TZ used in schedule \"\(text)\" is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details"))
            return nil
        }
        do throws(CronError) {
            return try CronSchedule(text)
        } catch {
            plan.notices.append(Notice("Warning", "UnparseableSchedule", "unparseable schedule: \"\(text)\" : \(error)"))
            return nil
        }
    }

    /// What kube's mostRecentScheduleTime finds after `earliest`: the latest scheduled time
    /// not after `now` (nil if the next is still to come) and about how many were missed.
    struct Recent {
        var mostRecent: Int?
        var missed: Int
    }

    /// nil when the schedule has no next time, or no second one to measure a period with
    /// ("0 0 30 2 *"): kube's "time difference between two schedules is less than 1 second".
    static func mostRecent(_ schedule: CronSchedule, _ zone: CronTimeZone, since earliest: Int, now: Int) -> Recent? {
        guard let first = schedule.next(after: earliest, in: zone) else { return nil }
        if now < first { return Recent(mostRecent: nil, missed: 0) }
        guard let second = schedule.next(after: first, in: zone) else { return nil }
        if now < second { return Recent(mostRecent: first, missed: 0) }
        // As kube: count the missed times by the first period, and walk the schedule only
        // from a period before the estimated last one, so a controller that was down a year
        // does not step through every minute of it.
        let period = second - first
        let missed = (now - first) / period + 1
        var latest: Int?
        var t = schedule.next(after: first + (missed - 2) * period, in: zone)
        while let time = t, time <= now {
            latest = time
            t = schedule.next(after: time, in: zone)
        }
        return Recent(mostRecent: latest, missed: missed)
    }

    /// When the next scheduled time comes, counting from `since` (the last scheduled time or
    /// the creation; no starting deadline here), as kube's nextScheduleTimeDuration.
    static func nextCheck(_ schedule: CronSchedule, _ zone: CronTimeZone, since: Int, now: Int) -> Int? {
        let base: Int
        if let recent = mostRecent(schedule, zone, since: since, now: now) {
            base = recent.mostRecent ?? (recent.missed == 0 ? since : now)
        } else {
            base = now
        }
        return schedule.next(after: base, in: zone)
    }

    /// The Job for `time`: the template's spec, labels and annotations, the scheduled time
    /// annotated, controlled by the CronJob.
    static func newJob(_ cronJob: CronJob, at time: Int, zone: CronTimeZone) -> JSONValue {
        let template = cronJob.json[path: ["spec", "jobTemplate"]] ?? .emptyObject
        var metadata: JSONValue = ["name": .string(jobName(cronJob, time)), "ownerReferences": [OwnerReference(controlledBy: cronJob).json]]
        if let namespace = cronJob.namespace { metadata["namespace"] = .string(namespace) }
        if let labels = template[path: ["metadata", "labels"]], labels.objectValue?.isEmpty == false { metadata["labels"] = labels }
        var annotations = template[path: ["metadata", "annotations"]]?.objectValue ?? [:]
        annotations[scheduledTimestampAnnotation] = .string(zone.rfc3339(time))
        metadata["annotations"] = .object(annotations)
        return ["apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"] ?? .emptyObject]
    }

    /// An ObjectReference to a Job, as `status.active` lists them.
    static func reference(to job: Job) -> JSONValue {
        var ref: JSONValue = ["apiVersion": "batch/v1", "kind": "Job", "name": .string(job.name), "uid": .string(job.uid)]
        if let namespace = job.namespace { ref["namespace"] = .string(namespace) }
        if !job.resourceVersion.isEmpty { ref["resourceVersion"] = .string(job.resourceVersion) }
        return ref
    }
}
