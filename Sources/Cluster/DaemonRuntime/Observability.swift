public import Logging
public import Metrics
public import Prometheus
import Synchronization

/// Where a daemon's logs and metrics go: swift-log to stderr (one line per event, metadata as
/// key=value), swift-metrics into a Prometheus registry that `/metrics` prints.
///
/// A process bootstraps the global logging and metrics systems once (`bootstrap`); a test
/// that runs several daemons' loops in one process gives each its own registry instead.
public struct Observability: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    /// Sync loops take from well under a millisecond (one changed Service) to seconds (a
    /// full load of 10k Services): the default buckets, which start at 5 ms, would put every
    /// incremental sync in the first one.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    /// A private registry (tests, or a second daemon in the same process).
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.factory = factory
    }

    private static let bootstrapped = Mutex<Observability?>(nil)

    /// The process's logging and metrics, bootstrapped on the first call (swift-log and
    /// swift-metrics allow one bootstrap per process); later calls return the same registry.
    public static func bootstrap(logLevel: Logger.Level) -> Observability {
        bootstrapped.withLock { existing in
            if let existing { return existing }
            let observability = Observability()
            LoggingSystem.bootstrap { label in
                var handler = DeferredMetadataLogHandler(StreamLogHandler.standardError(label: label))
                handler.logLevel = logLevel
                return handler
            }
            MetricsSystem.bootstrap(observability.factory)
            existing = observability
            return observability
        }
    }

    /// The Prometheus text exposition of everything registered.
    public func render() -> String { registry.emitToString() }
}

extension Logger.Level {
    /// Parses `--log-level` (trace, debug, info, notice, warning, error, critical).
    public init?(flag: String) {
        self.init(rawValue: flag.lowercased())
    }
}
