import Foundation
import NetplaneTestSupport
import Testing

/// The CronJob controller with kubectl: `kubectl create cronjob` with an every-minute
/// schedule gets its Job at the next minute (named after the scheduled minute, annotated with
/// it), `kubectl get cronjob` shows when it last ran, the Job's success (the test plays the
/// node agent; the Job controller completes the Job) is recorded, `kubectl create job
/// --from=cronjob/…` works, and schedules and zones the API server cannot read are refused.
@Suite(.serialized) struct CronJobControllerTests {
    static let scheduledAnnotation = "batch.kubernetes.io/cronjob-scheduled-timestamp"

    /// The Jobs a CronJob controls, as kubectl returns them.
    func jobs(_ api: APIServerProcess, of cronJob: String) throws -> [[String: Any]] {
        let out = try api.kubectl(["get", "jobs", "-o", "json"]).stdout
        let list = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        return ((list?["items"] as? [[String: Any]]) ?? []).filter { job in
            let refs = (job["metadata"] as? [String: Any])?["ownerReferences"] as? [[String: Any]] ?? []
            return refs.contains { $0["kind"] as? String == "CronJob" && $0["name"] as? String == cronJob && $0["controller"] as? Bool == true }
        }
    }

    func metadata(_ job: [String: Any]) -> [String: Any] { job["metadata"] as? [String: Any] ?? [:] }

    func get(_ api: APIServerProcess, _ args: [String], _ path: String) throws -> String {
        try api.kubectl(["get"] + args + ["-o", "jsonpath=\(path)"]).stdout
    }


    @Test func invalidSchedulesAndZonesAreRefused() throws {
        let dir = try testDirectory("np-cronjob-invalid")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }

        let range = try api.kubectl(["create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *"])
        #expect(!range.succeeded)
        #expect(range.stderr.contains("spec.schedule") && range.stderr.contains("out of range"), "\(range.stderr)")
        let fields = try api.kubectl(["create", "cronjob", "bad", "--image=busybox", "--schedule=* * * *"])
        #expect(!fields.succeeded && fields.stderr.contains("expected exactly 5 fields, found 4"), "\(fields.stderr)")
        let name = try api.kubectl(["create", "cronjob", "bad", "--image=busybox", "--schedule=* * * NOV-FOO *"])
        #expect(!name.succeeded && name.stderr.contains(#"unknown field value "FOO" in month"#), "\(name.stderr)")
        let tz = try api.kubectl(["create", "cronjob", "bad", "--image=busybox", "--schedule=TZ=Europe/Berlin 0 9 * * *"])
        #expect(!tz.succeeded && tz.stderr.contains("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"), "\(tz.stderr)")

        func cronJob(_ name: String, zone: String, policy: String = "Allow") -> String {
            """
            apiVersion: batch/v1
            kind: CronJob
            metadata: {name: \(name)}
            spec:
              schedule: "0 9 * * *"
              timeZone: \(zone)
              concurrencyPolicy: \(policy)
              jobTemplate:
                spec:
                  template:
                    spec: {restartPolicy: OnFailure, containers: [{name: c, image: busybox}]}
            """
        }
        let mars = try api.kubectl(["apply", "-f", "-"], stdin: cronJob("mars", zone: "Mars/Olympus"))
        #expect(!mars.succeeded && mars.stderr.contains("unknown time zone Mars/Olympus"), "\(mars.stderr)")
        let policy = try api.kubectl(["apply", "-f", "-"], stdin: cronJob("policy", zone: "UTC", policy: "Sometimes"))
        #expect(!policy.succeeded && policy.stderr.contains("spec.concurrencyPolicy"), "\(policy.stderr)")
        let berlin = try api.kubectl(["apply", "-f", "-"], stdin: cronJob("berlin", zone: "Europe/Berlin"))
        #expect(berlin.succeeded, "\(berlin.stderr)")
        #expect(try get(api, ["cronjob", "berlin"], "{.spec.timeZone}") == "Europe/Berlin")
        // Job names get "-<minutes>" appended: a CronJob's name has room for 52 characters.
        let long = String(repeating: "a", count: 53)
        let tooLong = try api.kubectl(["create", "cronjob", long, "--image=busybox", "--schedule=* * * * *"])
        #expect(!tooLong.succeeded && tooLong.stderr.contains("must be no more than 52 characters"), "\(tooLong.stderr)")
    }

    @Test func everyMinuteJobsRunAndAreRecorded() throws {
        let dir = try testDirectory("np-cronjob")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "cronjob,job,garbagecollector"], dir: dir)
        defer { controllers.stop() }

        #expect(try api.kubectl(["create", "cronjob", "tick", "--image=busybox", "--schedule=* * * * *"]).succeeded)
        // The API server's defaults.
        #expect(try get(api, ["cronjob", "tick"], "{.spec.concurrencyPolicy} {.spec.suspend} {.spec.successfulJobsHistoryLimit} {.spec.failedJobsHistoryLimit}")
            == "Allow false 3 1")

        // The first Job comes at the next minute (at most 60 s and the controller's margin).
        var first: [String: Any] = [:]
        let started = eventually(seconds: 70) {
            first = (try? jobs(api, of: "tick").first) ?? [:]
            return !first.isEmpty
        }
        #expect(started, "\(controllers.logText())")
        guard started else { return }
        let job = metadata(first)["name"] as? String ?? ""
        let scheduled = (metadata(first)["annotations"] as? [String: String])?[Self.scheduledAnnotation] ?? ""
        let scheduledTime = ISO8601DateFormatter().date(from: scheduled)
        #expect(scheduledTime != nil, "annotation \(scheduled)")
        // Named after its scheduled time in minutes since the epoch; controlled by the CronJob.
        let minutes = Int((scheduledTime?.timeIntervalSince1970 ?? 0) / 60)
        #expect(job == "tick-\(minutes)")
        #expect(Int(scheduledTime?.timeIntervalSince1970 ?? 1) % 60 == 0, "on a whole minute: \(scheduled)")
        let ref = (metadata(first)["ownerReferences"] as? [[String: Any]])?.first ?? [:]
        #expect(ref["blockOwnerDeletion"] as? Bool == true)
        let uid = try get(api, ["cronjob", "tick"], "{.metadata.uid}")
        #expect(ref["uid"] as? String == uid)
        // The status lists it and its time; kubectl get shows when it last ran.
        #expect(eventually { (try? get(api, ["cronjob", "tick"], "{.status.lastScheduleTime}")) == scheduled },
                "\(controllers.logText())")
        #expect(try get(api, ["cronjob", "tick"], "{.status.active[*].name}").split(separator: " ").contains(Substring(job)))
        let table = try api.kubectl(["get", "cronjob", "tick"]).stdout.split(separator: "\n")
        #expect(table.first?.contains("LAST SCHEDULE") == true && table.first?.contains("SUSPEND") == true, "\(table)")
        let row = table.dropFirst().first?.split(separator: " ") ?? []
        #expect(row.first == "tick" && row.count >= 4 && row[row.count - 2] != "<none>", "\(table)")

        // The node agent's part: the Job's pod succeeds. The Job controller completes the Job,
        // and the CronJob drops it from its active list and records the success.
        let succeeded = eventually(seconds: 30) {
            _ = try? finishJobPods(api, job: job, phase: "Succeeded")
            return (try? get(api, ["cronjob", "tick"], "{.status.lastSuccessfulTime}"))?.isEmpty == false
        }
        #expect(succeeded, "\(controllers.logText())")
        #expect(try get(api, ["job", job], "{.status.conditions[0].type}") == "Complete")
        #expect(eventually { (try? get(api, ["cronjob", "tick"], "{.status.active[*].name}"))?.contains(job) == false })
        let reasons = try get(api, ["events", "--field-selector", "involvedObject.name=tick"], "{.items[*].reason}")
        #expect(reasons.contains("SuccessfulCreate") && reasons.contains("SawCompletedJob"), "\(reasons)")

        // kubectl makes a Job from the template itself: controlled by the CronJob, marked
        // manual. The controller does not list it (it did not make it) and says so.
        #expect(try api.kubectl(["create", "job", "manual", "--from=cronjob/tick"]).succeeded)
        #expect(try get(api, ["job", "manual"], "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}")
            == "CronJob/tick/true")
        #expect(try get(api, ["job", "manual"], #"{.metadata.annotations.cronjob\.kubernetes\.io/instantiate}"#) == "manual")
        #expect(eventually {
            (try? get(api, ["events", "--field-selector", "involvedObject.name=tick"], "{.items[*].reason}"))?.contains("UnexpectedJob") == true
        }, "\(controllers.logText())")
        #expect(try get(api, ["cronjob", "tick"], "{.status.active[*].name}").contains("manual") == false)
    }
}
