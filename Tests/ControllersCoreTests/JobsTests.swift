import APITypes
import ControllersCore
import JSON
import Testing

/// The Job controller's decisions on hand-made pods.
@Suite struct JobsTests {
    static func job(_ spec: String) -> Job {
        Job(json: try! JSONValue.parse(#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"work","namespace":"default","uid":"j-1"},"spec":{\#(spec)"template":{"metadata":{"labels":{"batch.kubernetes.io/controller-uid":"j-1"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"busybox"}]}}},"status":{"startTime":"2026-12-06T10:00:00Z"}}"#))
    }

    static func pod(_ name: String, _ phase: String, index: Int? = nil) -> Pod {
        let annotations = index.map { #","annotations":{"batch.kubernetes.io/job-completion-index":"\#($0)"}"# } ?? ""
        return Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"default","uid":"u-\#(name)","ownerReferences":[{"apiVersion":"batch/v1","kind":"Job","name":"work","uid":"j-1","controller":true}]\#(annotations)},"spec":{},"status":{"phase":"\#(phase)"}}"#))
    }

    static let start = 1_796_551_200  // 2026-12-06T10:00:00Z

    func conditionTypes(_ plan: Jobs.Plan) -> [String] {
        (plan.status["conditions"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
    }

    @Test func runsUpToParallelismUntilCompletionsSucceed() {
        let job = Self.job(#""completions":3,"parallelism":2,"#)
        #expect(Jobs.plan(job, pods: [], now: Self.start).create.count == 2)
        let one = Jobs.plan(job, pods: [Self.pod("a", "Succeeded"), Self.pod("b", "Running")], now: Self.start)
        #expect(one.create.count == 1 && one.status["succeeded"] == 1 && one.status["active"] == 2)
        let done = Jobs.plan(job, pods: ["a", "b", "c"].map { Self.pod($0, "Succeeded") }, now: Self.start + 5)
        #expect(done.create.isEmpty && conditionTypes(done) == ["Complete"] && done.status["completionTime"] != nil)
    }

    @Test func failuresPastTheBackoffLimitOrTheDeadlineFailTheJob() {
        let job = Self.job(#""backoffLimit":1,"activeDeadlineSeconds":60,"#)
        let backoff = Jobs.plan(job, pods: [Self.pod("a", "Failed"), Self.pod("b", "Failed"), Self.pod("c", "Running")], now: Self.start)
        #expect(conditionTypes(backoff) == ["Failed"] && backoff.delete.map(\.name) == ["c"])
        #expect(backoff.status["conditions"]?.arrayValue?.first?["reason"] == "BackoffLimitExceeded")
        let late = Jobs.plan(job, pods: [Self.pod("c", "Running")], now: Self.start + 61)
        #expect(late.status["conditions"]?.arrayValue?.first?["reason"] == "DeadlineExceeded" && late.delete.count == 1)
        // Before the deadline the controller asks to be woken at it.
        #expect(Jobs.plan(job, pods: [Self.pod("c", "Running")], now: Self.start + 10).recheckAt == Self.start + 60)
    }

    @Test func indexedJobsRunEachIndexOnce() {
        let job = Self.job(#""completions":4,"parallelism":2,"completionMode":"Indexed","#)
        let first = Jobs.plan(job, pods: [], now: Self.start)
        #expect(first.create.compactMap { $0[path: ["metadata", "annotations", "batch.kubernetes.io/job-completion-index"]]?.stringValue } == ["0", "1"])
        #expect(first.create[0][path: ["spec", "containers"]]?.arrayValue?.first?["env"]?.arrayValue?.first?["value"] == "0")
        let later = Jobs.plan(job, pods: [Self.pod("a", "Succeeded", index: 0), Self.pod("b", "Running", index: 1),
                                          Self.pod("c", "Succeeded", index: 3)], now: Self.start)
        #expect(later.create.compactMap { $0[path: ["metadata", "annotations", "batch.kubernetes.io/job-completion-index"]]?.stringValue } == ["2"])
        #expect(later.status["completedIndexes"] == "0,3")
    }

    @Test func aFinishedJobGoesAfterItsTTL() {
        var job = Self.job(#""ttlSecondsAfterFinished":30,"#)
        job.json[path: ["status", "conditions"]] = [["type": "Complete", "status": "True", "lastTransitionTime": "2026-12-06T10:00:10Z"]]
        #expect(Jobs.plan(job, pods: [], now: Self.start + 20).recheckAt == Self.start + 40)
        #expect(Jobs.plan(job, pods: [], now: Self.start + 40).expired)
    }
}
