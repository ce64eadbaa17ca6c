import Synchronization

/// Delivers committed changes to watchers. A new watcher is held back (its live events
/// buffered) until its history has been replayed from the database; then the buffered events
/// newer than the replay follow, so a watch never misses or repeats a revision.
final class WatchHub: Sendable {
    private struct Watcher {
        var prefix: String
        var continuation: AsyncThrowingStream<StoreEvent, any Error>.Continuation
        /// nil once replayed; until then, live events wait here.
        var held: [StoreEvent]?
    }

    private let state = Mutex<(next: UInt64, watchers: [UInt64: Watcher])>((0, [:]))

    func subscribe(prefix: String) -> (UInt64, AsyncThrowingStream<StoreEvent, any Error>) {
        let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream()
        let id = state.withLock { state in
            state.next += 1
            state.watchers[state.next] = Watcher(prefix: prefix, continuation: continuation, held: [])
            return state.next
        }
        continuation.onTermination = { [weak self] _ in self?.remove(id) }
        return (id, stream)
    }

    /// Sends `history` (changes after `revision`, read from the database), then the held
    /// live events newer than both, and switches the watcher to live delivery.
    func replayed(_ id: UInt64, history: [StoreEvent], after revision: Int64) {
        state.withLock { state in
            guard var watcher = state.watchers[id] else { return }
            var last = revision
            for event in history where event.revision > last {
                watcher.continuation.yield(event)
                last = event.revision
            }
            for event in watcher.held ?? [] where event.revision > last {
                watcher.continuation.yield(event)
                last = event.revision
            }
            watcher.held = nil
            state.watchers[id] = watcher
        }
    }

    /// Called after each commit with its events in revision order.
    func publish(_ events: [StoreEvent]) {
        guard !events.isEmpty else { return }
        state.withLock { state in
            for (id, watcher) in state.watchers {
                let mine = events.filter { $0.object.key.hasPrefix(watcher.prefix) }
                guard !mine.isEmpty else { continue }
                if watcher.held != nil {
                    state.watchers[id]?.held?.append(contentsOf: mine)
                } else {
                    for event in mine { watcher.continuation.yield(event) }
                }
            }
        }
    }

    func remove(_ id: UInt64) {
        let watcher = state.withLock { $0.watchers.removeValue(forKey: id) }
        watcher?.continuation.finish()
    }
}
