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
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            // As StreamLogHandler merges: the handler's own metadata under the event's.
            let merged = metadata.merging(event.metadata ?? [:]) { _, fromEvent in fromEvent }
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
}
