public import Client
import Foundation
public import Logging
import Synchronization

/// What every Netplane daemon runs on (the "manager" of controller-runtime, kept small): the
/// API client, the informers, the process's logs and metrics, the health checks, and the
/// status server. A daemon registers its informers here, builds its `SyncLoop`s, and hands
/// its main body to `run`, which also runs the informers and the status server and ends
/// everything cleanly on SIGTERM or SIGINT.
public final class Daemon: Sendable {
    public struct Options: Sendable {
        /// Names the logger (`netplane.<name>`) and the metrics (`netplane_<name>_…`).
        public var name: String
        /// `/metrics`, `/healthz`, `/readyz` served on HOST:PORT; nil: not served.
        public var statusBind: String?

        public init(name: String, statusBind: String? = nil) {
            self.name = name
            self.statusBind = statusBind
        }
    }

    public let options: Options
    public let client: APIClient
    public let logger: Logger
    public let observability: Observability
    public let health = HealthChecks()
    let informers = Mutex<[RegisteredInformer]>([])
    /// Work that runs beside the daemon's body for as long as it does (an event recorder).
    let companions = Mutex<[@Sendable () async -> Void]>([])

    /// The run/synced pair of an informer of any type.
    struct RegisteredInformer: Sendable {
        var name: String
        var run: @Sendable () async -> Void
        var synced: @Sendable () -> Bool
        var waitForSync: @Sendable () async -> Bool
    }

    public init(_ options: Options, client: APIClient, observability: Observability, logger: Logger? = nil) {
        self.options = options
        self.client = client
        self.observability = observability
        self.logger = logger ?? Logger(label: "netplane.\(options.name)")
        health.register("informers", .readiness) { [weak self] in
            guard let self else { return nil }
            let unsynced = self.informers.withLock { $0.filter { !$0.synced() }.map(\.name) }
            return unsynced.isEmpty ? nil : "not synced yet: " + unsynced.joined(separator: ", ")
        }
    }

    /// An informer that `run` starts; `handler` sees every change (mark keys on a queue there).
    public func informer<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil, options: ListOptions = .init(),
                                              indexers: [String: Informer<T>.IndexFunction] = [:],
                                              handler: @escaping @Sendable (InformerEvent<T>) -> Void = { _ in }) -> Informer<T> {
        let informer = Informer<T>(client, namespace: namespace, options: options, indexers: indexers, handler: handler)
        let name = T.resource.plural + (options.fieldSelector.map { "(\($0))" } ?? "")
        informers.withLock {
            $0.append(RegisteredInformer(name: name, run: { await informer.run() }, synced: { informer.hasSynced },
                                         waitForSync: { await informer.waitForSync(timeout: .seconds(86_400)) }))
        }
        return informer
    }

    /// An event recorder that `run` runs (Events written in the background, as `component`).
    public func eventRecorder(component: String) -> EventRecorder {
        let recorder = EventRecorder(client: client, component: component, logger: logger, factory: observability.factory)
        companions.withLock { $0.append { await recorder.run() } }
        return recorder
    }

    /// A sync loop over `queue` whose metrics and health checks are this daemon's.
    public func syncLoop(_ queue: WorkQueue, _ settings: SyncLoop.Settings) -> SyncLoop {
        SyncLoop(daemon: options.name, queue: queue, settings: settings, logger: logger, observability: observability,
                 health: health)
    }

    /// Waits until every registered informer has listed once (false when cancelled first).
    public func cachesSynced() async -> Bool {
        for informer in informers.withLock({ $0 }) {
            guard await informer.waitForSync() else { return false }
        }
        return !Task.isCancelled
    }

    /// Runs the informers, the status server and `body` until SIGTERM/SIGINT (then returns)
    /// or until `body` ends: its error is logged and rethrown after the API connections are
    /// closed (the command exits non-zero with it). `onStatusListening` gets the status
    /// server's port once it accepts connections.
    public func run(onStatusListening: @escaping @Sendable (Int) async -> Void = { _ in },
                    _ body: @escaping @Sendable () async throws -> Void) async throws {
        enum Outcome: Sendable { case signal(Int32), finished, failed(String) }
        // Unstructured tasks, cancelled but not awaited at the end: an informer mid-reconnect
        // or a server still closing must not hold the exit.
        let (outcomes, report) = AsyncStream<Outcome>.makeStream()
        if let bind = options.statusBind {
            do { _ = try Self.statusAddress(bind) } catch {
                await closeClient()
                throw error
            }
        }
        var tasks: [Task<Void, Never>] = []
        for informer in informers.withLock({ $0 }) {
            tasks.append(Task { await informer.run() })
        }
        for companion in companions.withLock({ $0 }) {
            tasks.append(Task { await companion() })
        }
        if let bind = options.statusBind {
            let (host, port) = try Self.statusAddress(bind)
            // As kube-proxy does, a port that is taken is no reason to stop syncing: say so and
            // try again every few seconds.
            tasks.append(Task { [self] in
                while !Task.isCancelled {
                    do {
                        try await StatusServer.run(host: host, port: port, observability: observability, health: health,
                                                   logger: logger, onListening: onStatusListening)
                    } catch {
                        if Task.isCancelled { return }
                        logger.error("cannot serve /metrics, /healthz, /readyz; trying again in 5 s",
                                     metadata: ["address": "\(bind)", "error": "\(error)"])
                    }
                    try? await Task.sleep(for: .seconds(5))
                }
            })
        }
        tasks.append(Task {
            do {
                try await body()
                report.yield(.finished)
            } catch {
                if !Task.isCancelled && !(error is CancellationError) { report.yield(.failed("\(error)")) }
            }
        })
        tasks.append(Task {
            if let number = await Signals.next() { report.yield(.signal(number)) }
        })
        var outcome: Outcome = .finished
        for await first in outcomes {
            outcome = first
            break
        }
        for task in tasks { task.cancel() }
        await closeClient()
        switch outcome {
        case .signal(let number):
            logger.info("stopping", metadata: ["signal": "\(number == SIGINT ? "SIGINT" : "SIGTERM")"])
        case .finished:
            logger.info("stopped")
        case .failed(let message):
            logger.error("\(message)")
            throw DaemonError(message: message)
        }
    }

    /// HOST:PORT of `--metrics-bind`, checked before anything starts.
    public static func statusAddress(_ bind: String) throws(DaemonError) -> (host: String, port: Int) {
        guard let address = StatusServer.parse(bind) else {
            throw DaemonError(message: "--metrics-bind: expected HOST:PORT, got \(bind)")
        }
        return address
    }

    /// Closes the API connections, but never lets a connection that will not close hold the
    /// exit (an informer may be mid-reconnect to an API server that is going away too).
    func closeClient() async {
        let closed = Mutex(false)
        let client = self.client
        Task {
            await client.shutdown()
            closed.withLock { $0 = true }
        }
        for _ in 0..<60 where !closed.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(50)) }
    }
}

/// Why a daemon stopped on its own.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}
