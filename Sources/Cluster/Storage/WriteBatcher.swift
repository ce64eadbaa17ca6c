import Foundation
import GRDB

/// One write, as the batcher queues it.
enum WriteOp: Sendable {
    case create(String, [UInt8])
    case update(String, [UInt8], Int64?)
    case delete(String, Int64?)
}

/// Group commit: writes queue here; one transaction at a time takes everything queued and
/// applies it in order, each write checked on its own (a conflict fails that write only).
/// Events are published to watchers after the commit, in revision order.
actor WriteBatcher {
    let pool: DatabasePool
    let hub: WatchHub
    private var pending: [(op: WriteOp, done: CheckedContinuation<StoredObject, any Error>)] = []
    private var flushing = false

    init(pool: DatabasePool, hub: WatchHub) {
        self.pool = pool
        self.hub = hub
    }

    func submit(_ op: WriteOp) async throws(StoreError) -> StoredObject {
        do {
            return try await withCheckedThrowingContinuation { continuation in
                pending.append((op, continuation))
                if !flushing {
                    flushing = true
                    Task { await self.flush() }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.backend, "\(error)")
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            // Requests already under way get to queue their writes first: they join this
            // transaction instead of each paying for its own (its WAL frames, ~4 pages).
            await Task.yield()
            let batch = pending
            pending = []
            let ops = batch.map(\.op)
            let hub = self.hub
            // On GRDB's writer queue, not this thread: a commit that checkpoints the WAL
            // waits for an fsync, which must not hold one of the cooperative pool's threads.
            // The events go to the watchers from that queue, right after the commit (the
            // completion runs there): a change reaches its watchers without first waiting for
            // a cooperative thread to wake. The writers are answered from here, as before:
            // resuming each of them from the writer's queue made creates slower.
            let outcome = await withCheckedContinuation { (committed: CheckedContinuation<Result<[Result<(StoredObject, StoreEvent), StoreError>], any Error>, Never>) in
                pool.asyncWrite({ db in try ops.map { op in try Self.apply(op, db) } }, completion: { _, outcome in
                    if case .success(let results) = outcome { hub.publish(results.compactMap { try? $0.get().1 }) }
                    committed.resume(returning: outcome)
                })
            }
            switch outcome {
            case .failure(let error):
                for item in batch { item.done.resume(throwing: StoreError(.backend, "write: \(error)")) }
            case .success(let results):
                for (item, result) in zip(batch, results) {
                    switch result {
                    case .success(let (object, _)): item.done.resume(returning: object)
                    case .failure(let error): item.done.resume(throwing: error)
                    }
                }
            }
        }
        flushing = false
    }

    /// Applies one write inside the batch's transaction. A refused write (not found, exists,
    /// conflict) changes nothing; a database error throws and fails the whole batch.
    static func apply(_ op: WriteOp, _ db: Database) throws -> Result<(StoredObject, StoreEvent), StoreError> {
            switch op {
            case .create(let key, let value):
                if try SQLiteStore.object(db, key) != nil {
                    return .failure(StoreError(.alreadyExists, "\(key) already exists"))
                }
                let revision = try record(db, key: key, kind: .added, value: value, createRevision: nil)
                let object = StoredObject(key: key, value: value, createRevision: revision, modRevision: revision)
                try db.cachedStatement(sql: "INSERT INTO objects (key, create_revision, mod_revision) VALUES (?, ?, ?)")
                    .execute(arguments: [key, revision, revision])
                return .success((object, StoreEvent(kind: .added, object: object, revision: revision)))
            case .update(let key, let value, let expected):
                guard let current = try SQLiteStore.object(db, key) else {
                    return .failure(StoreError(.notFound, "\(key) not found"))
                }
                if let expected, expected != current.modRevision {
                    return .failure(StoreError(.conflict(current: current.modRevision),
                                               "\(key) is at revision \(current.modRevision), not \(expected)"))
                }
                let revision = try record(db, key: key, kind: .modified, value: value, createRevision: current.createRevision,
                                          previousRevision: current.modRevision)
                try db.cachedStatement(sql: "UPDATE objects SET mod_revision = ? WHERE key = ?")
                    .execute(arguments: [revision, key])
                let object = StoredObject(key: key, value: value, createRevision: current.createRevision, modRevision: revision)
                return .success((object, StoreEvent(kind: .modified, object: object, revision: revision,
                                                    previous: current.value)))
            case .delete(let key, let expected):
                guard let current = try SQLiteStore.object(db, key) else {
                    return .failure(StoreError(.notFound, "\(key) not found"))
                }
                if let expected, expected != current.modRevision {
                    return .failure(StoreError(.conflict(current: current.modRevision),
                                               "\(key) is at revision \(current.modRevision), not \(expected)"))
                }
                let revision = try record(db, key: key, kind: .deleted, value: current.value,
                                          createRevision: current.createRevision)
                try db.cachedStatement(sql: "DELETE FROM objects WHERE key = ?").execute(arguments: [key])
                var object = current
                object.modRevision = revision
                return .success((object, StoreEvent(kind: .deleted, object: object, revision: revision)))
            }
    }

    /// Appends the change to `events`; its row id is the new global revision. A modified
    /// event names the revision it replaced (the watch replay reads the previous value by it,
    /// with no index on key to keep up: one WAL page less per transaction). A create's
    /// event stores create_revision 0, meaning "this event's own revision" (known only after
    /// the insert; saves a second statement per create).
    private static func record(_ db: Database, key: String, kind: StoreEvent.Kind, value: [UInt8],
                               createRevision: Int64?, previousRevision: Int64? = nil) throws -> Int64 {
        try db.cachedStatement(sql: "INSERT INTO events (key, kind, value, create_revision, prev_revision) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [key, kind.rawValue, Data(value), createRevision ?? 0, previousRevision])
        return db.lastInsertedRowID
    }
}
