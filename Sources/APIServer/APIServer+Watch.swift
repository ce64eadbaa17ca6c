import JSON
import APIMachinery
import Storage
import Synchronization

/// Every open watch, so shutdown can end them: a watch never ends by itself, and a graceful
/// HTTP shutdown waits for open responses.
final class WatchRegistry: Sendable {
    private let state = Mutex<(next: UInt64, open: [UInt64: AsyncStream<[UInt8]>.Continuation], closed: Bool)>((0, [:], false))

    /// Registers a watch; false once the server is shutting down.
    func add(_ continuation: AsyncStream<[UInt8]>.Continuation) -> UInt64? {
        state.withLock { s in
            if s.closed { return nil }
            s.next += 1
            s.open[s.next] = continuation
            return s.next
        }
    }

    func remove(_ id: UInt64) { _ = state.withLock { $0.open.removeValue(forKey: id) } }

    func closeAll() {
        let open = state.withLock { s in
            s.closed = true
            defer { s.open = [:] }
            return Array(s.open.values)
        }
        for c in open { c.finish() }
    }
}

/// The last revision a watch has delivered, shared by its event pump and its bookmark timer.
final class DeliveredRevision: Sendable {
    let value: Atomic<Int64>
    init(_ start: Int64) { value = Atomic(start) }
}

extension APIServer {
    /// A watch: newline-separated events from the requested resourceVersion on (the current
    /// objects first as ADDED when it is "" or "0", or with sendInitialEvents), BOOKMARKs if
    /// asked for, an ERROR event with a 410 Status when the history is compacted.
    func watch(_ request: APIRequest, _ resource: ResourceType, namespace: String?) async throws(APIError) -> APIResponse {
        let filter = try WatchFilter(request, resource)
        let prefix = resource.keyPrefix(namespace: namespace)
        let rvText = request.query["resourceVersion"] ?? ""
        let initialEnd = request.query["sendInitialEvents"] == "true"
        let bookmarks = request.flag("allowWatchBookmarks")
        // A watch that names no timeout gets 30 to 60 minutes, as kube-apiserver's
        // --min-request-timeout gives: a client gone without a word is noticed by then at the latest.
        let timeout = Duration.seconds(request.query["timeoutSeconds"].flatMap { Int($0) } ?? Int.random(in: 1800...3600))

        var initial: [JSONValue] = []
        let start: Int64
        if initialEnd || rvText.isEmpty || rvText == "0" {
            let (items, revision, _) = try await listObjects(request, resource, namespace: namespace, limit: nil, after: nil)
            initial = items
            start = revision
        } else {
            guard let rv = Int64(rvText) else { throw .badRequest("invalid resource version \"\(rvText)\"") }
            start = rv
        }

        let source: AsyncThrowingStream<StoreEvent, any Error>
        do {
            source = try await store.watch(prefix: prefix, after: start)
        } catch {
            if case .compacted = error.kind {
                let gone = Self.tooOld(start, error)
                return .stream(AsyncStream { c in
                    c.yield(Self.eventLine("ERROR", gone.status))
                    c.finish()
                })
            }
            throw ObjectStore.apiError(error, resource, "")
        }

        let bookmarkInterval = options.bookmarkInterval
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let pump = Task {
            for object in initial { continuation.yield(Self.eventLine("ADDED", object)) }
            if initialEnd {
                continuation.yield(Self.eventLine("BOOKMARK", Self.bookmark(resource, start, initialEventsEnd: true)))
            }
            let delivered = DeliveredRevision(start)
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        for try await event in source {
                            for line in Self.lines(for: event, filter, resource) { continuation.yield(line) }
                            delivered.value.store(event.revision, ordering: .sequentiallyConsistent)
                        }
                    } catch let error as StoreError {
                        // etcd tells of a compacted start only once the watch runs.
                        if case .compacted = error.kind {
                            continuation.yield(Self.eventLine("ERROR", Self.tooOld(start, error).status))
                        }
                    } catch {}
                }
                group.addTask { try? await Task.sleep(for: timeout) }
                if bookmarks {
                    group.addTask {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: bookmarkInterval)
                            if Task.isCancelled { break }
                            // The bookmark carries the last revision already delivered, never a later one:
                            // a client resuming from it must not skip an event still in flight.
                            let revision = delivered.value.load(ordering: .sequentiallyConsistent)
                            continuation.yield(Self.eventLine("BOOKMARK", Self.bookmark(resource, revision)))
                        }
                    }
                }
                await group.next()
                group.cancelAll()
            }
            continuation.finish()
        }
        guard let id = watches.add(continuation) else {
            pump.cancel()
            throw .serviceUnavailable("the server is shutting down")
        }
        let registry = watches
        continuation.onTermination = { _ in
            pump.cancel()
            registry.remove(id)
        }
        return .stream(stream)
    }

    static func tooOld(_ start: Int64, _ error: StoreError) -> APIError {
        .gone("too old resource version: \(start) (\(error.message))")
    }

    /// The watch lines one store event turns into for a filtered watcher: an object that
    /// starts matching is ADDED, one that stops matching is DELETED.
    static func lines(for event: StoreEvent, _ filter: WatchFilter, _ resource: ResourceType) -> [[UInt8]] {
        guard var object = try? ObjectStore.decode(event.object) else { return [] }
        object.resourceVersion = String(event.revision)
        let now = filter.matches(object)
        switch event.kind {
        case .added:
            return now ? [eventLine("ADDED", object)] : []
        case .deleted:
            return now ? [eventLine("DELETED", object)] : []
        case .modified:
            if filter.isEverything { return [eventLine("MODIFIED", object)] }
            let before = event.previous.flatMap { try? JSONValue.parse($0) }.map(filter.matches) ?? now
            switch (before, now) {
            case (true, true): return [eventLine("MODIFIED", object)]
            case (false, true): return [eventLine("ADDED", object)]
            case (true, false): return [eventLine("DELETED", object)]
            case (false, false): return []
            }
        }
    }

    static func eventLine(_ type: String, _ object: JSONValue) -> [UInt8] {
        var out = Array(#"{"type":""#.utf8)
        out.append(contentsOf: type.utf8)
        out.append(contentsOf: #"","object":"#.utf8)
        object.write(to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    static func bookmark(_ resource: ResourceType, _ revision: Int64, initialEventsEnd: Bool = false) -> JSONValue {
        var metadata: JSONValue = ["resourceVersion": .string(String(revision))]
        if initialEventsEnd { metadata["annotations"] = ["k8s.io/initial-events-end": "true"] }
        return ["kind": .string(resource.kind), "apiVersion": .string(resource.apiVersion), "metadata": metadata]
    }
}
