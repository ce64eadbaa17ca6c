import APIMachinery
import APITypes
import ControllersCore
import JSON
import Testing

/// The CronJob controller's decisions on hand-made CronJobs and Jobs, at chosen times (the
/// planner takes `now`: the clock is the test's).
@Suite struct CronJobsTests {
    /// A CronJob "tick" (uid cj-1) made at `created`; `spec` is spliced before its jobTemplate.
    static func cronJob(_ spec: String, status: String = "{}", created: String = "2024-01-01T10:00:30Z",
                        deleting: Bool = false) -> CronJob {
        let deletion = deleting ? #","deletionTimestamp":"2024-01-01T10:00:40Z""# : ""
        return CronJob(json: try! JSONValue.parse(#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"tick","namespace":"default","uid":"cj-1","creationTimestamp":"\#(created)"\#(deletion)},"spec":{\#(spec)"jobTemplate":{"metadata":{"labels":{"app":"tick"},"annotations":{"note":"hi"}},"spec":{"backoffLimit":2,"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}}},"status":\#(status)}"#))
    }

    /// A Job `name` (uid u-name) controlled by `owner`, started at `started`, finished with
    /// `condition` (Complete or Failed) at `finished`.
    static func job(_ name: String, started: String? = "2024-01-01T10:01:01Z", condition: String? = nil,
                    finished: String? = nil, owner: String = "cj-1") -> Job {
        var status: JSONValue = .emptyObject
        if let started { status["startTime"] = .string(started) }
        if let condition { status["conditions"] = [["type": .string(condition), "status": "True"]] }
        if let finished { status["completionTime"] = .string(finished) }
        return Job(json: ["apiVersion": "batch/v1", "kind": "Job",
                          "metadata": ["name": .string(name), "namespace": "default", "uid": .string("u-\(name)"),
                                       "ownerReferences": [["apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                                                            "uid": .string(owner), "controller": true]]],
                          "status": status])
    }

    /// status.active listing `names` (uids u-name).
    static func active(_ names: String..., extra: String = "") -> String {
        let refs = names.map { #"{"apiVersion":"batch/v1","kind":"Job","name":"\#($0)","namespace":"default","uid":"u-\#($0)"}"# }
        return #"{"active":[\#(refs.joined(separator: ","))]\#(extra)}"#
    }

    static func time(_ text: String) -> Int { APITime.parse(text)! }
    static let everyMinute = #""schedule":"* * * * *","#

    func reasons(_ plan: CronJobs.Plan) -> [String] { plan.notices.map(\.reason) }
    func activeNames(_ status: JSONValue) -> [String] { (status["active"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue } }

    // MARK: - When

    @Test func nothingIsDueBeforeTheFirstTime() {
        let plan = CronJobs.plan(Self.cronJob(Self.everyMinute), jobs: [], now: Self.time("2024-01-01T10:00:45Z"))
        #expect(plan.create == nil && plan.delete.isEmpty && plan.notices.isEmpty)
        #expect(plan.recheckAt == Self.time("2024-01-01T10:01:00Z"))
    }

    @Test func theDueTimeGetsItsJob() throws {
        let cronJob = Self.cronJob(Self.everyMinute)
        let plan = CronJobs.plan(cronJob, jobs: [], now: Self.time("2024-01-01T10:01:05Z"))
        let body = try #require(plan.create)
        let due = Self.time("2024-01-01T10:01:00Z")
        #expect(plan.scheduledTime == due)
        // <cronjob>-<scheduled time in minutes since the epoch>.
        #expect(body.name == "tick-28401721" && CronJobs.jobName(cronJob, due) == "tick-28401721")
        #expect(body.namespace == "default" && body["apiVersion"] == "batch/v1" && body["kind"] == "Job")
        #expect(body.labels == ["app": "tick"])
        #expect(body.annotations == ["note": "hi", CronJobs.scheduledTimestampAnnotation: "2024-01-01T10:01:00Z"])
        #expect(body[path: ["metadata", "ownerReferences"]] == [["apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                                                                 "uid": "cj-1", "controller": true, "blockOwnerDeletion": true]])
        #expect(body["spec"] == cronJob.json[path: ["spec", "jobTemplate", "spec"]])
        #expect(plan.recheckAt == Self.time("2024-01-01T10:02:00Z"))

        // Once made, the Job is active and its time the last scheduled one.
        let made = Job(json: body.merging(["metadata": ["uid": "u-new", "resourceVersion": "7"]]))
        let status = CronJobs.status(plan.status, started: made, at: due)
        #expect(status["active"] == [["apiVersion": "batch/v1", "kind": "Job", "name": "tick-28401721", "namespace": "default",
                                      "uid": "u-new", "resourceVersion": "7"]])
        #expect(status["lastScheduleTime"] == "2024-01-01T10:01:00Z")
        // Listing it twice (a pass that finds it made already) changes nothing.
        #expect(CronJobs.status(status, started: made, at: due) == status)
    }

    @Test func missedTimesStartOnlyTheMostRecent() {
        let plan = CronJobs.plan(Self.cronJob(Self.everyMinute), jobs: [], now: Self.time("2024-01-01T10:05:30Z"))
        #expect(plan.create?.name == "tick-28401725" && plan.scheduledTime == Self.time("2024-01-01T10:05:00Z"))
        #expect(plan.notices.isEmpty)
        #expect(plan.recheckAt == Self.time("2024-01-01T10:06:00Z"))
    }

    @Test func tooManyMissedTimesWarnButTheLatestStillRuns() {
        let plan = CronJobs.plan(Self.cronJob(Self.everyMinute, created: "2024-01-01T00:00:30Z"), jobs: [],
                                 now: Self.time("2024-01-01T03:20:30Z"))
        #expect(reasons(plan) == ["TooManyMissedTimes"])
        #expect(plan.notices.first?.type == "Warning")
        #expect(plan.notices.first?.message == "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
        #expect(plan.create?.name == "tick-28401320")
        // A hundred missed is not too many.
        let hundred = CronJobs.plan(Self.cronJob(Self.everyMinute, created: "2024-01-01T00:00:30Z"), jobs: [],
                                    now: Self.time("2024-01-01T01:40:30Z"))
        #expect(hundred.notices.isEmpty && hundred.create != nil)
    }

    @Test func startingDeadlineSkipsTimesTooLongAgo() {
        let hourly = #""schedule":"0 * * * *","startingDeadlineSeconds":60,"#
        let late = CronJobs.plan(Self.cronJob(hourly), jobs: [], now: Self.time("2024-01-01T11:05:00Z"))
        #expect(late.create == nil && late.notices.isEmpty)
        #expect(late.recheckAt == Self.time("2024-01-01T12:00:00Z"))
        let within = CronJobs.plan(Self.cronJob(#""schedule":"0 * * * *","startingDeadlineSeconds":600,"#), jobs: [],
                                   now: Self.time("2024-01-01T11:05:00Z"))
        #expect(within.scheduledTime == Self.time("2024-01-01T11:00:00Z") && within.create?.name == "tick-28401780")
    }

    @Test func aTimeAlreadyStartedIsNotStartedAgain() {
        // By the last schedule time...
        let recorded = Self.cronJob(Self.everyMinute, status: #"{"lastScheduleTime":"2024-01-01T10:01:00Z"}"#)
        let plan = CronJobs.plan(recorded, jobs: [], now: Self.time("2024-01-01T10:01:30Z"))
        #expect(plan.create == nil && plan.recheckAt == Self.time("2024-01-01T10:02:00Z"))
        // ...and by the name of an active Job, whatever the status says of the time.
        let listed = Self.cronJob(Self.everyMinute, status: Self.active("tick-28401721"))
        let again = CronJobs.plan(listed, jobs: [Self.job("tick-28401721")], now: Self.time("2024-01-01T10:01:30Z"))
        #expect(again.create == nil && again.recheckAt == Self.time("2024-01-01T10:02:00Z"))
    }

    @Test func lastScheduleTimeIsWhereCountingStarts() {
        let cronJob = Self.cronJob(Self.everyMinute, status: #"{"lastScheduleTime":"2024-01-01T10:01:00Z"}"#)
        let plan = CronJobs.plan(cronJob, jobs: [], now: Self.time("2024-01-01T10:02:10Z"))
        #expect(plan.create?.name == "tick-28401722")
    }

    // MARK: - Concurrency

    static let running = CronJobsTests.job("tick-28401721")
    static let now = CronJobsTests.time("2024-01-01T10:02:05Z")

    @Test func allowRunsAlongside() {
        let cronJob = Self.cronJob(#""schedule":"* * * * *","concurrencyPolicy":"Allow","#, status: Self.active("tick-28401721"))
        let plan = CronJobs.plan(cronJob, jobs: [Self.running], now: Self.now)
        #expect(plan.create?.name == "tick-28401722" && plan.delete.isEmpty)
        #expect(activeNames(plan.status) == ["tick-28401721"])
        // Allow is the default.
        let unset = CronJobs.plan(Self.cronJob(Self.everyMinute, status: Self.active("tick-28401721")), jobs: [Self.running], now: Self.now)
        #expect(unset.create?.name == "tick-28401722")
    }

    @Test func forbidWaitsForTheRunningJob() {
        let cronJob = Self.cronJob(#""schedule":"* * * * *","concurrencyPolicy":"Forbid","#, status: Self.active("tick-28401721"))
        let plan = CronJobs.plan(cronJob, jobs: [Self.running], now: Self.now)
        #expect(plan.create == nil && plan.delete.isEmpty)
        #expect(plan.notices == [CronJobs.Notice("Normal", "JobAlreadyActive",
                                                 "Not starting job because prior execution is running and concurrency policy is Forbid")])
        #expect(plan.recheckAt == Self.time("2024-01-01T10:03:00Z"))
        // Once it has finished, the missed time runs.
        let done = Self.job("tick-28401721", condition: "Complete", finished: "2024-01-01T10:02:20Z")
        let after = CronJobs.plan(cronJob, jobs: [done], now: Self.time("2024-01-01T10:02:30Z"))
        #expect(after.create?.name == "tick-28401722" && activeNames(after.status).isEmpty)
    }

    @Test func replaceDeletesTheRunningJobFirst() {
        let cronJob = Self.cronJob(#""schedule":"* * * * *","concurrencyPolicy":"Replace","#, status: Self.active("tick-28401721"))
        let plan = CronJobs.plan(cronJob, jobs: [Self.running], now: Self.now)
        #expect(plan.delete.map(\.name) == ["tick-28401721"])
        #expect(plan.create?.name == "tick-28401722")
        #expect(plan.status["active"] == nil)
    }

    @Test func suspendedStartsNothingButKeepsItsStatus() {
        let cronJob = Self.cronJob(#""schedule":"* * * * *","suspend":true,"#, status: Self.active("tick-28401721"))
        let done = Self.job("tick-28401721", condition: "Complete", finished: "2024-01-01T10:01:50Z")
        let plan = CronJobs.plan(cronJob, jobs: [done], now: Self.now)
        #expect(plan.create == nil && plan.recheckAt == nil)
        #expect(plan.status["active"] == nil && plan.status["lastSuccessfulTime"] == "2024-01-01T10:01:50Z")
    }

    @Test func aCronJobBeingDeletedOnlyKeepsItsStatus() {
        let plan = CronJobs.plan(Self.cronJob(Self.everyMinute, deleting: true), jobs: [], now: Self.now)
        #expect(plan.create == nil && plan.recheckAt == nil && plan.notices.isEmpty)
    }

    // MARK: - Following the Jobs

    @Test func finishedJobsLeaveTheActiveList() {
        let cronJob = Self.cronJob(Self.everyMinute,
                                   status: Self.active("a", "b", extra: #","lastScheduleTime":"2024-01-01T10:02:00Z","lastSuccessfulTime":"2024-01-01T09:00:00Z""#))
        let jobs = [Self.job("a", condition: "Complete", finished: "2024-01-01T10:01:40Z"),
                    Self.job("b", condition: "Failed")]
        let plan = CronJobs.plan(cronJob, jobs: jobs, now: Self.time("2024-01-01T10:02:30Z"))
        #expect(plan.status["active"] == nil)
        #expect(plan.status["lastSuccessfulTime"] == "2024-01-01T10:01:40Z")
        #expect(plan.notices == [CronJobs.Notice("Normal", "SawCompletedJob", "Saw completed job: a, condition: Complete"),
                                 CronJobs.Notice("Normal", "SawCompletedJob", "Saw completed job: b, condition: Failed")])
        // An older success does not move the last successful time back.
        let older = Self.job("c", condition: "Complete", finished: "2024-01-01T08:00:00Z")
        let later = CronJobs.plan(Self.cronJob(Self.everyMinute, status: #"{"lastSuccessfulTime":"2024-01-01T09:00:00Z"}"#),
                                  jobs: [older], now: Self.time("2024-01-01T10:00:40Z"))
        #expect(later.status["lastSuccessfulTime"] == "2024-01-01T09:00:00Z")
    }

    @Test func aListedJobThatIsGoneIsDropped() {
        let cronJob = Self.cronJob(Self.everyMinute, status: Self.active("gone"))
        let plan = CronJobs.plan(cronJob, jobs: [], now: Self.time("2024-01-01T10:00:40Z"))
        #expect(plan.status["active"] == nil)
        #expect(plan.notices == [CronJobs.Notice("Normal", "MissingJob", "Active job went missing: gone")])
    }

    @Test func aRunningJobItDoesNotListIsUnexpected() {
        let plan = CronJobs.plan(Self.cronJob(Self.everyMinute), jobs: [Self.job("manual")], now: Self.time("2024-01-01T10:00:40Z"))
        #expect(plan.unexpected == ["manual"])
        #expect(plan.notices == [CronJobs.Notice("Warning", "UnexpectedJob", "Saw a job that the controller did not create or forgot: manual")])
        #expect(plan.status["active"] == nil)
    }

    @Test func jobsOfOtherCronJobsAreNotItsOwn() {
        let other = Self.job("tick-28401721", condition: "Complete", finished: "2024-01-01T10:01:30Z", owner: "cj-2")
        let plan = CronJobs.plan(Self.cronJob(Self.everyMinute), jobs: [other, Self.job("stray", owner: "cj-2")],
                                 now: Self.time("2024-01-01T10:00:40Z"))
        #expect(plan.notices.isEmpty && plan.delete.isEmpty && plan.status["lastSuccessfulTime"] == nil)
    }

    // MARK: - History

    @Test func finishedJobsBeyondTheHistoryLimitsGoOldestFirst() {
        let succeeded = (1...5).map { Self.job("ok-\($0)", started: "2024-01-01T0\($0):00:00Z", condition: "Complete",
                                               finished: "2024-01-01T0\($0):00:10Z") }
        let failed = (1...3).map { Self.job("bad-\($0)", started: "2024-01-01T0\($0):30:00Z", condition: "Failed") }
        let running = Self.job("tick-28401721")
        let cronJob = Self.cronJob(Self.everyMinute, status: Self.active("tick-28401721"))
        // The defaults: 3 succeeded and 1 failed are kept.
        let plan = CronJobs.plan(cronJob, jobs: (succeeded + failed + [running]).shuffled(), now: Self.time("2024-01-01T10:00:40Z"))
        #expect(plan.delete.map(\.name) == ["ok-1", "ok-2", "bad-1", "bad-2"])
        #expect(activeNames(plan.status) == ["tick-28401721"])
        // The latest completion counts even when its Job is deleted with this pass.
        #expect(plan.status["lastSuccessfulTime"] == "2024-01-01T05:00:10Z")

        let limited = Self.cronJob(#""schedule":"* * * * *","successfulJobsHistoryLimit":1,"failedJobsHistoryLimit":0,"#)
        #expect(CronJobs.plan(limited, jobs: succeeded + failed, now: Self.time("2024-01-01T10:00:40Z")).delete.map(\.name)
            == ["ok-1", "ok-2", "ok-3", "ok-4", "bad-1", "bad-2", "bad-3"])
    }

    @Test func jobsWithoutAStartTimeCountAsTheNewest() {
        let jobs = [Self.job("b", started: nil, condition: "Failed"), Self.job("a", started: nil, condition: "Failed"),
                    Self.job("old", started: "2024-01-01T01:00:00Z", condition: "Failed")]
        let limited = Self.cronJob(#""schedule":"* * * * *","failedJobsHistoryLimit":1,"#)
        #expect(CronJobs.plan(limited, jobs: jobs, now: Self.time("2024-01-01T10:00:40Z")).delete.map(\.name) == ["old", "a"])
    }

    // MARK: - Schedules and zones

    @Test func theTimeZoneNamesTheClockAndTheAnnotation() throws {
        let cronJob = Self.cronJob(#""schedule":"0 9 * * *","timeZone":"Europe/Berlin","#, created: "2024-01-09T12:00:00Z")
        let plan = CronJobs.plan(cronJob, jobs: [], now: Self.time("2024-01-10T08:00:05Z"))
        let body = try #require(plan.create)
        #expect(plan.scheduledTime == Self.time("2024-01-10T08:00:00Z"))
        #expect(body.name == "tick-28414560")
        #expect(body.annotations[CronJobs.scheduledTimestampAnnotation] == "2024-01-10T09:00:00+01:00")
        #expect(plan.recheckAt == Self.time("2024-01-11T08:00:00Z"))
    }

    /// New York's fall-back hour happens twice, and a time in it runs twice (robfig/cron, so
    /// Kubernetes): the second run is another instant, so another Job name.
    @Test func aRepeatedWallTimeRunsTwice() throws {
        let spec = #""schedule":"30 1 * * *","timeZone":"America/New_York","#
        let first = Self.cronJob(spec, status: #"{"lastScheduleTime":"2024-11-02T05:30:00Z"}"#, created: "2024-11-01T00:00:00Z")
        let one = CronJobs.plan(first, jobs: [], now: Self.time("2024-11-03T05:30:10Z"))
        #expect(one.create?.name == "tick-28843530")
        #expect(one.create?.annotations[CronJobs.scheduledTimestampAnnotation] == "2024-11-03T01:30:00-04:00")
        #expect(one.recheckAt == Self.time("2024-11-03T06:30:00Z"))
        let second = Self.cronJob(spec, status: #"{"lastScheduleTime":"2024-11-03T05:30:00Z"}"#, created: "2024-11-01T00:00:00Z")
        let two = CronJobs.plan(second, jobs: [], now: Self.time("2024-11-03T06:30:10Z"))
        #expect(two.create?.name == "tick-28843590")
        #expect(two.create?.annotations[CronJobs.scheduledTimestampAnnotation] == "2024-11-03T01:30:00-05:00")
    }

    /// Berlin's spring-forward skips 02:00-02:59: a 02:30 CronJob does not run that day.
    @Test func aSkippedWallTimeDoesNotRun() {
        let cronJob = Self.cronJob(#""schedule":"30 2 * * *","timeZone":"Europe/Berlin","#,
                                   status: #"{"lastScheduleTime":"2024-03-30T01:30:00Z"}"#, created: "2024-03-01T00:00:00Z")
        let plan = CronJobs.plan(cronJob, jobs: [], now: Self.time("2024-03-31T10:00:00Z"))
        #expect(plan.create == nil && plan.notices.isEmpty)
        #expect(plan.recheckAt == Self.time("2024-04-01T00:30:00Z"))
    }

    @Test func schedulesThatCannotRunWarn() {
        let zone = CronJobs.plan(Self.cronJob(#""schedule":"* * * * *","timeZone":"Mars/Olympus","#), jobs: [], now: Self.now)
        #expect(zone.notices == [CronJobs.Notice("Warning", "UnknownTimeZone", "invalid timeZone: \"Mars/Olympus\": unknown time zone Mars/Olympus")])
        #expect(zone.create == nil && zone.recheckAt == nil)

        let bad = CronJobs.plan(Self.cronJob(#""schedule":"61 * * * *","#), jobs: [], now: Self.now)
        #expect(reasons(bad) == ["UnparseableSchedule"] && bad.create == nil && bad.recheckAt == nil)
        #expect(bad.notices.first?.message.hasPrefix("unparseable schedule: \"61 * * * *\" : out of range") == true)

        let tz = CronJobs.plan(Self.cronJob(#""schedule":"TZ=UTC * * * * *","#), jobs: [], now: Self.now)
        #expect(reasons(tz) == ["UnsupportedSchedule"] && tz.create == nil)
        #expect(tz.notices.first?.message == "CRON_TZ or TZ used in schedule \"TZ=UTC * * * * *\" is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details")

        let never = CronJobs.plan(Self.cronJob(#""schedule":"0 0 30 2 *","#), jobs: [], now: Self.now)
        #expect(never.notices == [CronJobs.Notice("Warning", "InvalidSchedule",
                                                  "invalid schedule: 0 0 30 2 * : time difference between two schedules is less than 1 second")])
        #expect(never.create == nil && never.recheckAt == nil)
    }

    @Test func everyNMinutesAndMacros() {
        let plan = CronJobs.plan(Self.cronJob(#""schedule":"@every 5m","#), jobs: [], now: Self.time("2024-01-01T10:11:00Z"))
        // From the creation (10:00:30): 10:05:30 and 10:10:30 passed, the latter runs.
        #expect(plan.scheduledTime == Self.time("2024-01-01T10:10:30Z"))
        #expect(plan.recheckAt == Self.time("2024-01-01T10:15:30Z"))
        let hourly = CronJobs.plan(Self.cronJob(#""schedule":"@hourly","#), jobs: [], now: Self.time("2024-01-01T11:00:01Z"))
        #expect(hourly.scheduledTime == Self.time("2024-01-01T11:00:00Z"))
    }
}

extension JSONValue {
    /// This object with `other`'s keys laid over it, objects merged key by key.
    fileprivate func merging(_ other: JSONValue) -> JSONValue {
        guard case .object(var mine) = self, case .object(let theirs) = other else { return other }
        for (key, value) in theirs { mine[key] = mine[key].map { $0.merging(value) } ?? value }
        return .object(mine)
    }
}
