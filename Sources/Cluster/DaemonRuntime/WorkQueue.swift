import Synchronization

/// What a controller's loop has to do, filled by its informers' handlers: keys to
/// reconcile (a service, a node), or everything; `wakes` yields when there is something.
/// Marks made while the loop works coalesce into one pending set, so a burst of events
/// costs one pass.
public final class WorkQueue: Sendable {
    public struct Pending: Sendable {
        public var dirty: Set<String> = []
        public var full = false
        public var isEmpty: Bool { dirty.isEmpty && !full }
    }

    private let state = Mutex(Pending())
    private let continuation: AsyncStream<Void>.Continuation
    public let wakes: AsyncStream<Void>

    public init() {
        (wakes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public func mark(_ key: String) {
        _ = state.withLock { $0.dirty.insert(key) }
        continuation.yield()
    }

    public func markFull() {
        state.withLock { $0.full = true }
        continuation.yield()
    }

    /// Asks for a full pass after `delay` (a retry after a failed pass).
    public func markFull(after delay: Duration) {
        Task { [self] in
            try? await Task.sleep(for: delay)
            markFull()
        }
    }

    /// Asks for a full pass every `period` until the returned task is cancelled (the periodic
    /// resync every controller does, to repair what changed behind its back).
    public func markFullEvery(_ period: Duration) -> Task<Void, Never> {
        Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: period)
                markFull()
            }
        }
    }

    /// Everything marked since the last take.
    public func take() -> Pending {
        state.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
    }
}
