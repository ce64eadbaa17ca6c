import Synchronization

/// Delivers committed changes to watchers. A new watcher is held back (its live events
/// buffered) until its history has been replayed from the database; then the buffered events
/// newer than the replay follow, so a watch never misses or repeats a revision. Deliveries
/// happen under the hub's lock, so each watcher sees events in revision order.
final class WatchHub: Sendable {
    private struct Watcher {
        var prefix: String
        var deliver: @Sendable (WatchDelivery) -> Void
        /// nil once replayed; until then, live events wait here.
        var held: [StoreEvent]?
    }

    private let state = Mutex<(next: UInt64, watchers: [UInt64: Watcher])>((0, [:]))

    func subscribe(prefix: String, deliver: @escaping @Sendable (WatchDelivery) -> Void) -> UInt64 {
        state.withLock { state in
            state.next += 1
            state.watchers[state.next] = Watcher(prefix: prefix, deliver: deliver, held: [])
            return state.next
        }
    }

    /// Sends `history` (changes after `revision`, read from the database), then the held
    /// live events newer than both, and switches the watcher to live delivery.
    func replayed(_ id: UInt64, history: [StoreEvent], after revision: Int64) {
        state.withLock { state in
            guard var watcher = state.watchers[id] else { return }
            var last = revision
            for event in history + (watcher.held ?? []) where event.revision > last {
                watcher.deliver(.event(event))
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
                if watcher.held != nil {
                    state.watchers[id]?.held?.append(contentsOf: events.filter { $0.object.key.hasPrefix(watcher.prefix) })
                    continue
                }
                for event in events where event.object.key.hasPrefix(watcher.prefix) { watcher.deliver(.event(event)) }
            }
        }
    }

    /// Drops a watcher that never started (its watch call threw), without a delivery.
    func forget(_ id: UInt64) {
        _ = state.withLock { $0.watchers.removeValue(forKey: id) }
    }

    /// Stops a watcher; it gets `.end(error)` (outside the lock: its receiver may react).
    func remove(_ id: UInt64, error: StoreError? = nil) {
        let watcher = state.withLock { $0.watchers.removeValue(forKey: id) }
        watcher?.deliver(.end(error))
    }
}
