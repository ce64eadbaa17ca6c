import DaemonRuntime
import Logging
import Synchronization
import Testing

/// The wrapper must print what the handler it wraps would have printed: the logger's
/// metadata with every event, the event's own winning a clash, and the level passed through.
@Suite struct DeferredMetadataLogHandlerTests {
    /// Keeps what it is asked to log.
    struct Recorder: LogHandler {
        let box: Box
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        var metadataProvider: Logger.MetadataProvider?
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            // As StreamLogHandler merges: its own metadata, the provider's, the event's.
            var merged = metadata
            if let provided = metadataProvider?.get() { merged.merge(provided) { _, fromProvider in fromProvider } }
            merged.merge(event.metadata ?? [:]) { _, fromEvent in fromEvent }
            box.events.withLock { $0.append((event.level, "\(event.message)", merged)) }
        }
    }

    final class Box: Sendable { let events = Mutex<[(Logger.Level, String, Logger.Metadata)]>([]) }

    @Test func metadataReachesTheWrappedHandlerWithEachEventAndTheEventsOwnWins() {
        let box = Box()
        var logger = Logger(label: "test") { _ in DeferredMetadataLogHandler(Recorder(box: box)) }
        logger.logLevel = .debug
        logger[metadataKey: "request"] = "r1"
        logger[metadataKey: "user"] = "alice"
        logger.debug("first", metadata: ["user": "bob", "extra": "1"])
        logger.trace("below the level")
        var copy = logger
        copy[metadataKey: "request"] = "r2"
        copy.info("second")
        let events = box.events.withLock { $0 }
        #expect(events.count == 2)
        #expect(events.first?.0 == .debug)
        #expect(events.first?.1 == "first")
        #expect(events.first?.2 == ["request": "r1", "user": "bob", "extra": "1"])
        #expect(events.last?.2 == ["request": "r2", "user": "alice"])
        #expect(logger[metadataKey: "request"] == "r1")
    }

    @Test func aMetadataProviderKeepsItsPlaceBetweenTheLoggersMetadataAndTheEvents() {
        let box = Box()
        var recorder = Recorder(box: box)
        recorder.metadataProvider = Logger.MetadataProvider { ["a": "provider", "b": "provider"] }
        var logger = Logger(label: "test") { _ in DeferredMetadataLogHandler(recorder) }
        logger[metadataKey: "a"] = "logger"
        logger[metadataKey: "c"] = "logger"
        logger.info("x", metadata: ["b": "event"])
        #expect(box.events.withLock { $0.first?.2 } == ["a": "provider", "b": "event", "c": "logger"])
    }
}
