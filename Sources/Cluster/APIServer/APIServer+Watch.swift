import JSON
import APIMachinery
import Storage
import Synchronization

/// Every open watch, so shutdown can end them: a watch never ends by itself, and a graceful
/// HTTP shutdown waits for open responses.
final class WatchRegistry: Sendable {
    private let state = Mutex<(next: UInt64, open: [UInt64: WatchOutput], closed: Bool)>((0, [:], false))

    /// Registers a watch; nil once the server is shutting down.
    func add(_ output: WatchOutput) -> UInt64? {
        state.withLock { s in
            if s.closed { return nil }
            s.next += 1
            s.open[s.next] = output
            return s.next
        }
    }

    func remove(_ id: UInt64) { _ = state.withLock { $0.open.removeValue(forKey: id) } }

    var count: Int { state.withLock { $0.open.count } }

    func closeAll() {
        let open = state.withLock { s in
            s.closed = true
            defer { s.open = [:] }
            return Array(s.open.values)
        }
        for output in open { output.finish() }
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
    func watch(_ request: APIRequest, _ resource: ResourceType, namespace: String?, _ present: Presenter) async throws(APIError) -> APIResponse {
        try present.checkWatchEncoding()
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

        // The store calls `deliver` for each change (on its own thread, in order); the lines go
        // straight to the response's connection. Only the timeout and bookmarks need a task.
        let output = WatchOutput()
        for object in initial { output.send(present.watchEvent("ADDED", stored: object)) }
        if initialEnd {
            output.send(present.watchEvent("BOOKMARK", Self.bookmark(present.view, start, initialEventsEnd: true)))
        }
        let delivered = DeliveredRevision(start)
        let shared = watchEvents
        let handle: StoreWatch
        do {
            handle = try await store.watch(prefix: prefix, after: start) { delivery in
                switch delivery {
                case .event(let event):
                    for line in Self.lines(for: event, filter, shared, present) { output.send(line) }
                    delivered.value.store(event.revision, ordering: .sequentiallyConsistent)
                case .end(let error):
                    // etcd tells of a compacted start only once the watch runs.
                    if let error, case .compacted = error.kind {
                        output.send(present.watchEvent("ERROR", Self.tooOld(start, error).status))
                    }
                    output.finish()
                }
            }
        } catch {
            if case .compacted = error.kind {
                output.send(present.watchEvent("ERROR", Self.tooOld(start, error).status))
                output.finish()
                return .watch(contentType: present.watchContentType, output)
            }
            output.finish()
            throw ObjectStore.apiError(error, resource, "")
        }

        let bookmarkInterval = options.bookmarkInterval
        let timer = Task {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                let pause = bookmarks ? min(bookmarkInterval, deadline - ContinuousClock.now) : deadline - ContinuousClock.now
                do { try await Task.sleep(for: pause) } catch { return }
                guard bookmarks, ContinuousClock.now < deadline else { break }
                // The bookmark carries the last revision already delivered, never a later one:
                // a client resuming from it must not skip an event still in flight.
                let revision = delivered.value.load(ordering: .sequentiallyConsistent)
                output.send(present.watchEvent("BOOKMARK", Self.bookmark(present.view, revision)))
            }
            output.finish()
        }
        guard let id = watches.add(output) else {
            timer.cancel()
            handle.cancel()
            output.finish()
            throw .serviceUnavailable("the server is shutting down")
        }
        let registry = watches
        output.whenFinished {
            timer.cancel()
            handle.cancel()
            registry.remove(id)
        }
        return .watch(contentType: present.watchContentType, output)
    }

    static func tooOld(_ start: Int64, _ error: StoreError) -> APIError {
        .gone("too old resource version: \(start) (\(error.message))")
    }

    /// The watch lines one store event turns into for a filtered watcher: an object that
    /// starts matching is ADDED, one that stops matching is DELETED. The decoding and the
    /// encoded lines come from `shared`, so N watchers of one event cost one decode and one
    /// encode per line type, not N.
    static func lines(for event: StoreEvent, _ filter: WatchFilter, _ shared: WatchEventCache,
                      _ present: Presenter) -> [WatchLine] {
        guard let object = shared.object(event) else { return [] }
        let now = filter.matches(object)
        func line(_ type: String) -> [WatchLine] { [shared.line(type, event, object, present)] }
        switch event.kind {
        case .added:
            return now ? line("ADDED") : []
        case .deleted:
            return now ? line("DELETED") : []
        case .modified:
            if filter.isEverything { return line("MODIFIED") }
            let before = event.previous.flatMap { try? JSONValue.parse($0) }.map(filter.matches) ?? now
            switch (before, now) {
            case (true, true): return line("MODIFIED")
            case (false, true): return line("ADDED")
            case (true, false): return line("DELETED")
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

/// The recent watch events, decoded and encoded once for every watcher: a write seen by 100
/// watchers is parsed once and printed once per event type (ADDED, MODIFIED, DELETED) and
/// encoding (JSON or protobuf, and the resource a view shows it as).
final class WatchEventCache: Sendable {
    struct Entry {
        var object: JSONValue
        var lines: [String: WatchLine] = [:]
    }

    private struct Key: Hashable {
        var revision: Int64
        var key: String
    }

    private let entries = Mutex<[Key: Entry]>([:])
    /// Events older than this many revisions behind the newest are dropped.
    private let keep: Int64 = 512

    /// The event's object, resourceVersion set; nil if the stored bytes are not JSON.
    func object(_ event: StoreEvent) -> JSONValue? {
        let key = Key(revision: event.revision, key: event.object.key)
        if let hit = entries.withLock({ $0[key]?.object }) { return hit }
        guard var object = try? ObjectStore.decode(event.object) else { return nil }
        object.resourceVersion = String(event.revision)
        let decoded = object
        entries.withLock { entries in
            if entries[key] == nil { entries[key] = Entry(object: decoded) }
            if entries.count > Int(2 * keep) {
                let floor = event.revision - keep
                entries = entries.filter { $0.key.revision > floor }
            }
        }
        return object
    }

    /// The watch line of `type` for the event, in the watcher's resource and encoding.
    func line(_ type: String, _ event: StoreEvent, _ object: JSONValue, _ present: Presenter) -> WatchLine {
        let key = Key(revision: event.revision, key: event.object.key)
        let lineKey = type + " " + present.watchEncoding
        if let hit = entries.withLock({ $0[key]?.lines[lineKey] }) { return hit }
        let line = WatchLine(present.watchEvent(type, stored: object))
        entries.withLock { $0[key]?.lines[lineKey] = line }
        return line
    }
}
