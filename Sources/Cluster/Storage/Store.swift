/// One stored object: its key, its bytes (a JSON-encoded API object for the API server), the
/// revision that created it and the one that last changed it (etcd's create_revision and
/// mod_revision; `metadata.resourceVersion` is the mod revision).
public struct StoredObject: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64

    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
    }
}

/// A change seen by a watch. For `.deleted`, `object` is the last value and `revision` the
/// deletion's revision. For `.modified`, `previous` is the value before the change (etcd's
/// prev_kv) when the store still has it: a filtered watch needs it to tell an object that
/// stopped matching (a DELETED for that watcher) from one that never matched.
public struct StoreEvent: Sendable, Equatable {
    public enum Kind: Int, Sendable { case added = 0, modified = 1, deleted = 2 }
    public var kind: Kind
    public var object: StoredObject
    public var revision: Int64
    public var previous: [UInt8]?

    public init(kind: Kind, object: StoredObject, revision: Int64, previous: [UInt8]? = nil) {
        self.kind = kind
        self.object = object
        self.revision = revision
        self.previous = previous
    }
}

/// One page of a list: the items (in key order), the store's revision the page was read at,
/// and the key to continue after when the limit cut the list short.
public struct ListPage: Sendable, Equatable {
    public var items: [StoredObject]
    public var revision: Int64
    public var continueAfter: String?
}

/// What can go wrong, as the API server maps it to HTTP statuses.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// No object at the key (404).
        case notFound
        /// `create` of a key that exists (409 AlreadyExists).
        case alreadyExists
        /// The object changed since the revision the caller based its write on (409 Conflict).
        case conflict(current: Int64)
        /// A watch asked for history the store no longer keeps (410 Gone).
        case compacted(oldest: Int64)
        /// The database failed (500).
        case backend
    }
    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The API server's storage: a key-value map with one global, monotonic revision, writes
/// conditional on an object's revision, and watches that start at any revision still kept.
/// SQLiteStore is the default implementation; EtcdStore speaks to etcd.
public protocol Store: Sendable {
    /// Stores a new object; `.alreadyExists` if the key is taken.
    func create(_ key: String, value: [UInt8]) async throws(StoreError) -> StoredObject
    /// The object at `key`; `.notFound` if there is none.
    func get(_ key: String) async throws(StoreError) -> StoredObject
    /// Replaces the object at `key`. With `ifRevision`, only if its mod revision is still
    /// that (`.conflict` otherwise).
    func update(_ key: String, value: [UInt8], ifRevision: Int64?) async throws(StoreError) -> StoredObject
    /// Removes the object at `key` (with `ifRevision`, only at that revision); returns the
    /// removed object with the deletion's revision as its mod revision.
    func delete(_ key: String, ifRevision: Int64?) async throws(StoreError) -> StoredObject
    /// The objects whose keys start with `prefix`, in key order, after `after`, at most `limit`.
    func list(prefix: String, after: String?, limit: Int?) async throws(StoreError) -> ListPage
    /// Every change under `prefix` with a revision above `revision`, history first, then live,
    /// without gaps or duplicates, handed to `deliver` in revision order as the store sees
    /// them (on the store's own thread, for SQLite the writer's, right after the commit:
    /// `deliver` must be quick, must not block, and must not cancel this watch from inside),
    /// then one `.end`. Throws `.compacted` if that history is
    /// known gone at the start. Stop it with the returned handle. The push form lets 100
    /// watchers of one write cost 100 calls, not 100 task wake-ups (see `watch(prefix:after:)`
    /// for a stream).
    func watch(prefix: String, after revision: Int64,
               deliver: @escaping @Sendable (WatchDelivery) -> Void) async throws(StoreError) -> StoreWatch
    /// The revision of the last write.
    func currentRevision() async throws(StoreError) -> Int64
    /// Forgets the change history up to and including `revision` (objects stay).
    func compact(through revision: Int64) async throws(StoreError)
}

extension Store {
    /// Every object under `prefix`, read page by page, with the revision of the last page
    /// (pages are read one after another, not as one snapshot).
    public func listAll(prefix: String, pageSize: Int = 500) async throws(StoreError) -> (items: [StoredObject], revision: Int64) {
        var items: [StoredObject] = []
        var after: String?
        var revision: Int64 = 0
        repeat {
            let page = try await list(prefix: prefix, after: after, limit: pageSize)
            items += page.items
            revision = page.revision
            after = page.continueAfter
        } while after != nil
        return (items, revision)
    }
}

/// What a push watch hands its receiver.
public enum WatchDelivery: Sendable {
    case event(StoreEvent)
    /// The watch is over: stopped (nil), or failed (`.compacted` when the store learns only
    /// after starting that the history is gone, `.backend` when it cannot go on).
    case end(StoreError?)
}

/// A running push watch.
public final class StoreWatch: Sendable {
    let stop: @Sendable () -> Void

    public init(stop: @escaping @Sendable () -> Void) { self.stop = stop }

    /// Stops the watch; its receiver gets `.end(nil)` unless it has ended already.
    public func cancel() { stop() }
}

extension Store {
    /// The stream form of the push watch: the events in order, finishing when it ends
    /// (throwing the store's error, if any); ending the iteration stops the watch.
    public func watch(prefix: String, after revision: Int64) async throws(StoreError) -> AsyncThrowingStream<StoreEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream<StoreEvent, any Error>.makeStream()
        let handle = try await watch(prefix: prefix, after: revision) { delivery in
            switch delivery {
            case .event(let event): continuation.yield(event)
            case .end(nil): continuation.finish()
            case .end(let error?): continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in handle.cancel() }
        return stream
    }
}
