public import Logging
import Metrics
import Synchronization

/// One pass of a sync loop: the keys marked since the last pass, or everything.
public struct SyncPass: Sendable {
    /// Rebuild from the caches and repair the kernel (first pass, resync, after a failure).
    public var full: Bool
    /// The keys (a Service, a Node) whose objects changed, when not `full`.
    public var dirty: Set<String>

    public init(full: Bool, dirty: Set<String> = []) {
        self.full = full
        self.dirty = dirty
    }
}

/// The one reconcile loop of a daemon, level-triggered like kube-proxy's sync runner and
/// controller-runtime's reconcilers: informers mark keys on a `WorkQueue`, and each wake-up
/// runs one pass over everything marked since the last (a burst of events is one pass).
/// The first pass is full, and so is one every `resyncPeriod` (it repairs what changed
/// behind the daemon's back). A failed pass is retried as a full pass after a back-off that
/// doubles from `retryInitial` to `retryMax` and resets on success.
///
/// The loop times every pass into `netplane_<daemon>_sync_duration_seconds` (a histogram),
/// counts passes by kind and failures, and registers two checks: liveness fails when no
/// pass has succeeded for twice the resync period (plus a margin), readiness until the first
/// pass has succeeded.
public final class SyncLoop: Sendable {
    public struct Settings: Sendable {
        public var resyncPeriod: Duration
        public var retryInitial: Duration
        public var retryMax: Duration
        /// Names the loop when a daemon runs several (the controllers): its health checks are
        /// `<name>-sync`, its metrics carry `loop="<name>"`.
        public var name: String?

        public init(resyncPeriod: Duration, retryInitial: Duration = .milliseconds(200), retryMax: Duration = .seconds(30),
                    name: String? = nil) {
            self.name = name
            self.resyncPeriod = resyncPeriod
            self.retryInitial = retryInitial
            self.retryMax = retryMax
        }
    }

    struct Status {
        var started: ContinuousClock.Instant?
        var lastSuccess: ContinuousClock.Instant?
        var lastError: String?
        var consecutiveFailures = 0
    }

    public let queue: WorkQueue
    let settings: Settings
    let logger: Logger
    let duration: Metrics.Timer
    let fullPasses: Counter
    let partialPasses: Counter
    let failures: Counter
    let status = Mutex(Status())

    /// `daemon` names the metrics (`netplane_<daemon>_…`).
    public init(daemon: String, queue: WorkQueue, settings: Settings, logger: Logger, observability: Observability,
                health: HealthChecks) {
        self.queue = queue
        self.settings = settings
        self.logger = logger
        let factory = observability.factory
        let loop: [(String, String)] = settings.name.map { [("loop", $0)] } ?? []
        duration = Metrics.Timer(label: "netplane_\(daemon)_sync_duration_seconds", dimensions: loop, factory: factory)
        fullPasses = Counter(label: "netplane_\(daemon)_syncs_total", dimensions: loop + [("kind", "full")], factory: factory)
        partialPasses = Counter(label: "netplane_\(daemon)_syncs_total", dimensions: loop + [("kind", "partial")], factory: factory)
        failures = Counter(label: "netplane_\(daemon)_sync_failures_total", dimensions: loop, factory: factory)
        let prefix = settings.name.map { "\($0)-" } ?? ""
        let window = settings.resyncPeriod * 2 + .seconds(10)
        health.register(prefix + "sync", .liveness) { [weak self] in
            self?.status.withLock { status in
                let reason = status.lastError.map { ": \($0)" } ?? ""
                if let last = status.lastSuccess {
                    let age = ContinuousClock.now - last
                    return age > window ? "last successful sync \(age) ago\(reason)" : nil
                }
                // Nothing is due before the loop has been running for a whole window.
                guard let started = status.started, ContinuousClock.now - started > window else { return nil }
                return "no successful sync since the start\(reason)"
            }
        }
        health.register(prefix + "first-sync", .readiness) { [weak self] in
            self?.status.withLock { $0.lastSuccess == nil ? "no sync has succeeded yet" + ($0.lastError.map { ": \($0)" } ?? "") : nil }
        }
    }

    /// Runs `setup` once (its error ends the loop: the daemon cannot work), then a pass per
    /// wake-up until cancelled. `sync` gets the state `setup` made; its error fails the pass.
    public func run<State>(setup: () async throws -> State,
                           sync: (inout State, SyncPass) async throws -> Void) async throws {
        status.withLock { $0.started = .now }
        var state = try await setup()
        _ = queue.take()
        let resync = queue.markFullEvery(settings.resyncPeriod)
        defer { resync.cancel() }
        var wakes = queue.wakes.makeAsyncIterator()
        var pass = SyncPass(full: true)
        var retryDelay = settings.retryInitial
        var owesFull = false
        while !Task.isCancelled {
            let start = ContinuousClock.now
            do {
                try await sync(&state, pass)
                duration.recordInterval(since: start)
                (pass.full ? fullPasses : partialPasses).increment()
                owesFull = false
                retryDelay = settings.retryInitial
                status.withLock {
                    $0.lastSuccess = .now
                    $0.lastError = nil
                    $0.consecutiveFailures = 0
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                failures.increment()
                let failed = status.withLock {
                    $0.lastError = "\(error)"
                    $0.consecutiveFailures += 1
                    return $0.consecutiveFailures
                }
                logger.error("sync failed", metadata: ["error": "\(error)", "full": "\(pass.full)",
                                                       "failures": "\(failed)", "retry_in": "\(retryDelay)"])
                owesFull = true
                queue.markFull(after: retryDelay)
                retryDelay = min(retryDelay * 2, settings.retryMax)
            }
            guard await wakes.next() != nil, !Task.isCancelled else { return }
            let pending = queue.take()
            pass = SyncPass(full: pending.full || owesFull, dirty: pending.dirty)
        }
    }
}

extension Metrics.Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}
