import Client
import DaemonRuntime
import Foundation
import Logging
import NetplaneTestSupport
import Synchronization
import Testing

/// The daemon runtime on its own: the sync loop's passes, retries and metrics, the health
/// checks, and the status server (curl as the witness). No API server is needed: these
/// daemons register no informers.
@Suite struct DaemonRuntimeTests {
    /// A daemon whose API client points nowhere (nothing here calls it).
    static func daemon(statusBind: String? = nil) throws -> Daemon {
        try Daemon(.init(name: "test", statusBind: statusBind), client: APIClient(ClientConfig(server: "https://127.0.0.1:1")),
                   observability: Observability())
    }

    /// Runs a command (curl) on a thread of its own: a blocking wait on the concurrency pool's
    /// two threads would starve every other async test in the process, and the server this
    /// test talks to.
    static func run(_ args: [String]) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try Command.run(args) })
            }
        }
    }

    /// Records the passes a loop runs, and fails the ones its test asks to.
    final class Passes: Sendable {
        let seen = Mutex<[(pass: SyncPass, at: ContinuousClock.Instant)]>([])
        let failing = Mutex<Set<String>>([])
        /// While set, a pass waits before it ends (so marks made meanwhile pile up).
        let held = Mutex(false)
        func record(_ pass: SyncPass) async throws {
            seen.withLock { $0.append((pass, .now)) }
            while held.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            if !pass.dirty.isDisjoint(with: failing.withLock({ $0 })) {
                failing.withLock { $0.subtract(pass.dirty) }
                throw DaemonError(message: "refused \(pass.dirty.sorted())")
            }
        }
        var count: Int { seen.withLock { $0.count } }
        func waitFor(_ count: Int) async -> Bool {
            for _ in 0..<200 where self.count < count { try? await Task.sleep(for: .milliseconds(10)) }
            return self.count >= count
        }
    }

    @Test func firstPassIsFullMarksCoalesceAndAFailedPassIsRetriedAsAFullOne() async throws {
        let daemon = try Self.daemon()
        let queue = WorkQueue()
        let loop = daemon.syncLoop(queue, .init(resyncPeriod: .seconds(3600), retryInitial: .milliseconds(100)))
        let passes = Passes()
        passes.held.withLock { $0 = true }
        let running = Task { try await loop.run(setup: { 0 }) { (state: inout Int, pass) in try await passes.record(pass) } }
        defer { running.cancel() }

        #expect(await passes.waitFor(1))
        #expect(passes.seen.withLock { $0[0].pass.full })
        #expect(!daemon.health.evaluate(.readiness).ok, "not ready before the first pass succeeded")
        // Three marks made while a pass runs are one pass over the three keys.
        queue.mark("a"); queue.mark("b"); queue.mark("c")
        passes.held.withLock { $0 = false }
        #expect(await passes.waitFor(2))
        #expect(daemon.health.evaluate(.readiness).ok && daemon.health.evaluate(.liveness).ok)
        #expect(passes.seen.withLock { $0[1].pass } .dirty == ["a", "b", "c"])

        // A refused pass: the next one is full and comes after the back-off.
        passes.failing.withLock { $0 = ["x"] }
        queue.mark("x")
        #expect(await passes.waitFor(4))
        let (failed, retry) = passes.seen.withLock { ($0[2], $0[3]) }
        #expect(!failed.pass.full && failed.pass.dirty == ["x"])
        #expect(retry.pass.full && retry.at - failed.at >= .milliseconds(100))

        let metrics = daemon.observability.render()
        #expect(metrics.contains("netplane_test_sync_failures_total 1"), "\(metrics)")
        #expect(metrics.contains("netplane_test_sync_duration_seconds_count 3"), "\(metrics)")
        #expect(metrics.contains(#"netplane_test_syncs_total{kind="full"} 2"#), "\(metrics)")
        running.cancel()
        await daemon.client.shutdown()
    }

    @Test func aSetupFailureEndsTheLoopAndNothingIsReady() async throws {
        let daemon = try Self.daemon()
        let loop = daemon.syncLoop(WorkQueue(), .init(resyncPeriod: .seconds(3600)))
        await #expect(throws: DaemonError.self) {
            try await loop.run(setup: { () throws -> Int in throw DaemonError(message: "no device") }) { _, _ in }
        }
        let (ready, report) = daemon.health.evaluate(.readiness)
        #expect(!ready && report.contains("[-]first-sync failed"), "\(report)")
        await daemon.client.shutdown()
    }

    @Test func theStatusServerAnswersMetricsHealthAndReadiness() async throws {
        let port = try EtcdCluster.freePort()
        let daemon = try Self.daemon(statusBind: "127.0.0.1:\(port)")
        let queue = WorkQueue()
        let loop = daemon.syncLoop(queue, .init(resyncPeriod: .seconds(3600)))
        let passes = Passes()
        let listening = AsyncStream<Int>.makeStream()
        try await daemon.run(onStatusListening: { listening.continuation.yield($0) }) {
            var ports = listening.stream.makeAsyncIterator()
            #expect(await ports.next() == port)
            let url = "http://127.0.0.1:\(port)"
            func status(_ path: String) async throws -> String {
                try await Self.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url + path]).stdout
            }
            // Before the first pass: alive, not ready.
            #expect(try await status("/healthz") == "200")
            #expect(try await status("/readyz") == "503")
            let syncing = Task { try await loop.run(setup: { 0 }) { (_: inout Int, pass) in try await passes.record(pass) } }
            #expect(await passes.waitFor(1))
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await status("/readyz") == "200")
            let metrics = try await Self.run(["curl", "-s", url + "/metrics"]).stdout
            #expect(metrics.contains("# TYPE netplane_test_sync_duration_seconds histogram"), "\(metrics)")
            #expect(metrics.contains("netplane_test_sync_duration_seconds_count 1"), "\(metrics)")
            #expect(try await Self.run(["curl", "-s", url + "/readyz"]).stdout.contains("[+]first-sync ok"))
            syncing.cancel()
        }
    }

    @Test func aStatusAddressThatIsNotHostPortIsRefusedBeforeAnythingStarts() async throws {
        let daemon = try Self.daemon(statusBind: "localhost")
        await #expect(throws: DaemonError.self) { try await daemon.run { Issue.record("the body ran") } }
    }
}
