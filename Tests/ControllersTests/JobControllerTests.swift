import Foundation
import NetplaneTestSupport
import Testing

/// The Job controller with kubectl: `kubectl create job` runs a pod, `kubectl wait
/// --for=condition=complete` returns when it succeeded (the test plays the node agent), and
/// a Job past its backoff limit fails.
@Suite(.serialized) struct JobControllerTests {

    @Test func jobsCompleteAndFail() throws {
        let dir = try testDirectory("np-job")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "job,garbagecollector"], dir: dir)
        defer { controllers.stop() }

        #expect(try api.kubectl(["create", "job", "once", "--image=busybox", "--", "sh", "-c", "echo hi"]).succeeded)
        #expect(try api.kubectl(["get", "job", "once", "-o", "jsonpath={.spec.selector.matchLabels}"]).stdout.contains("batch.kubernetes.io/controller-uid"))
        #expect(eventually { ((try? finishJobPods(api, job: "once", phase: "Succeeded")) ?? 0) == 1 }, "\(controllers.logText())")
        let waited = try api.kubectl(["wait", "--for=condition=complete", "job/once", "--timeout=30s"])
        #expect(waited.succeeded, "\(waited.stderr)\n\(controllers.logText())")
        #expect(try api.kubectl(["get", "job", "once", "-o", "jsonpath={.status.succeeded}"]).stdout == "1")

        // Parallel: 4 completions, 2 at a time.
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: batch}
            spec:
              completions: 4
              parallelism: 2
              template:
                spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
            """).succeeded)
        var mostAtOnce = 0
        let completed = eventually(seconds: 30) {
            let active = (try? api.kubectl(["get", "pods", "-l", "batch.kubernetes.io/job-name=batch", "-o",
                                            #"jsonpath={range .items[?(@.status.phase=="Pending")]}x{end}"#]).stdout.count) ?? 0
            mostAtOnce = max(mostAtOnce, active)
            _ = try? finishJobPods(api, job: "batch", phase: "Succeeded")
            return (try? api.kubectl(["get", "job", "batch", "-o", "jsonpath={.status.conditions[0].type}"]).stdout) == "Complete"
        }
        #expect(completed, "\(controllers.logText())")
        #expect(mostAtOnce == 2, "at most parallelism pods at once, and that many")
        #expect(try api.kubectl(["get", "job", "batch", "-o", "jsonpath={.status.succeeded}"]).stdout == "4")

        // Past the backoff limit: Failed, with the reason kubectl describe shows.
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: flaky}
            spec:
              backoffLimit: 1
              template:
                spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}
            """).succeeded)
        #expect(eventually(seconds: 30) {
            _ = try? finishJobPods(api, job: "flaky", phase: "Failed")
            return (try? api.kubectl(["get", "job", "flaky", "-o", "jsonpath={.status.conditions[0].reason}"]).stdout) == "BackoffLimitExceeded"
        }, "\(controllers.logText())")
        #expect(try api.kubectl(["get", "job", "flaky", "-o", "jsonpath={.status.failed}"]).stdout == "2")
    }
}
