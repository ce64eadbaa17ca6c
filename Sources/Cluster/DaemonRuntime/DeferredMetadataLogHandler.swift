public import Logging

/// A log handler that keeps its own metadata aside and hands it to the handler it wraps only
/// with an event. swift-log's StreamLogHandler renders its metadata into a string each time
/// the metadata is set; Hummingbird sets a request id on every request's logger, and almost no
/// request logs anything, so the API server rendered a string per request for nothing (1.5% of
/// a create's CPU). What is printed is the same: the wrapped handler merges the metadata as
/// it would its own.
public struct DeferredMetadataLogHandler: LogHandler {
    var wrapped: any LogHandler
    public var metadata: Logger.Metadata = [:]
    /// Taken over from the wrapped handler, so that its metadata lands between the logger's
    /// and the event's (swift-log's order) and is asked for once per event.
    public var metadataProvider: Logger.MetadataProvider?

    public init(_ wrapped: any LogHandler) {
        var wrapped = wrapped
        metadataProvider = wrapped.metadataProvider
        wrapped.metadataProvider = nil
        self.wrapped = wrapped
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // swift-log's order: the logger's metadata, then the provider's, then the event's own,
        // each winning over the one before.
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, fromProvider in fromProvider } }
        var event = event
        if !merged.isEmpty { event.metadata = merged.merging(event.metadata ?? [:]) { _, fromEvent in fromEvent } }
        wrapped.log(event: event)
    }
}
