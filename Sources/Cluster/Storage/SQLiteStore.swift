import Foundation
import GRDB

/// The default store: one SQLite file in WAL mode, through GRDB.
///
/// Two tables: `events` (every change with the value it wrote, its row id being the global
/// revision) and `objects` (every key that exists, with the revision of the event holding its
/// current value). A value is written once, in its event: keeping a second copy in `objects`
/// cost every create a second 1 KiB row in a table ordered by key, where new keys land on
/// scattered pages, and so most of a create's WAL frames. Compaction forgets history but keeps
/// the events that hold current values. A revision is never reused: compaction always keeps the
/// newest event, so the next row id stays above every revision given out. (Databases made
/// before carry AUTOINCREMENT, whose sqlite_sequence row cost every transaction one more WAL
/// page; they keep it, and their revision is the larger of the two.) Writes from concurrent callers are group-committed: whatever arrives while a
/// transaction runs goes into the next one, so 32 clients pay for a handful of commits, not
/// 32. `synchronous=NORMAL`: a committed write survives the process being killed (it is in
/// the WAL); only a power loss can take the last commits.
public final class SQLiteStore: Store {
    let pool: DatabasePool
    let writer: WriteBatcher
    let pointReaders: PointReaders
    let hub = WatchHub()
    /// Whether `events` has AUTOINCREMENT (a database made before it was dropped).
    let sequenced: Bool
    /// Whether `events` has the (key, revision) index of databases made before events named
    /// their previous revision: their older modified events find the previous value through it.
    let indexedByKey: Bool

    /// Opens (creating if needed) the database at `path`.
    public init(path: String) throws(StoreError) {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Checkpoint the WAL every ~16 MB rather than every 4 MB: each checkpoint ends in an
            // fsync, and a busy API server writes several MB a second. Reads map the file.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 4000")
            try db.execute(sql: Self.mapReads)
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS objects (\(Self.objectsTable)) WITHOUT ROWID;
                    CREATE TABLE IF NOT EXISTS events (
                        revision INTEGER PRIMARY KEY,
                        key TEXT NOT NULL,
                        kind INTEGER NOT NULL,
                        value BLOB NOT NULL,
                        create_revision INTEGER NOT NULL,
                        prev_revision INTEGER
                    );
                    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                    INSERT OR IGNORE INTO meta (name, value) VALUES ('compacted', 0);
                    """)
            }
            sequenced = try pool.read { db in
                try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'sqlite_sequence'") ?? false
            }
            // A database made before modified events named their previous revision finds the
            // previous value through its events_by_key index (kept for those events).
            try pool.write { db in
                if try !db.columns(in: "events").contains(where: { $0.name == "prev_revision" }) {
                    try db.execute(sql: "ALTER TABLE events ADD COLUMN prev_revision INTEGER")
                }
                if try db.columns(in: "objects").contains(where: { $0.name == "value" }) {
                    try Self.moveValuesToEvents(db)
                }
            }
            indexedByKey = try pool.read { db in
                try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'events_by_key'") ?? false
            }
        } catch {
            throw StoreError(.backend, "open \(path): \(error)")
        }
        writer = WriteBatcher(pool: pool, hub: hub)
        do { pointReaders = try PointReaders(path: path) } catch { throw StoreError(.backend, "open \(path) for reading: \(error)") }
    }

    public func create(_ key: String, value: [UInt8]) async throws(StoreError) -> StoredObject {
        try await writer.submit(.create(key, value))
    }

    public func update(_ key: String, value: [UInt8], ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        try await writer.submit(.update(key, value, ifRevision))
    }

    public func delete(_ key: String, ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        try await writer.submit(.delete(key, ifRevision))
    }

    public func get(_ key: String) async throws(StoreError) -> StoredObject {
        let lookup: @Sendable (Database) throws -> StoredObject? = { db in try Self.object(db, key) }
        let found: StoredObject?
        switch try readHere(lookup) {
        case .some(let here): found = here
        case .none: found = try await read(lookup)
        }
        guard let found else { throw StoreError(.notFound, "\(key) not found") }
        return found
    }

    public func list(prefix: String, after: String?, limit: Int?) async throws(StoreError) -> ListPage {
        let sequenced = sequenced
        return try await read { db in
            let revision = try Self.revision(db, sequenced: sequenced)
            var sql = "SELECT \(Self.objectColumns) WHERE o.key >= ? AND o.key < ?"
            var arguments: StatementArguments = [prefix, Self.end(of: prefix)]
            if let after {
                sql += " AND o.key > ?"
                arguments += [after]
            }
            sql += " ORDER BY o.key"
            if let limit {
                sql += " LIMIT ?"
                arguments += [limit + 1]
            }
            var items = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(Self.object(from:))
            var next: String?
            if let limit, items.count > limit {
                items.removeLast(items.count - limit)
                next = items.last?.key
            }
            return ListPage(items: items, revision: revision, continueAfter: next)
        }
    }

    public func watch(prefix: String, after revision: Int64,
                      deliver: @escaping @Sendable (WatchDelivery) -> Void) async throws(StoreError) -> StoreWatch {
        // Subscribe first (live events are held back), then replay history from the
        // database, then release the held events newer than the replay: no gap, no duplicate.
        let id = hub.subscribe(prefix: prefix, deliver: deliver)
        let hub = self.hub
        // A modified event's previous value: the event its prev_revision names; for events
        // written before that column, the key's event before it (through events_by_key).
        let previous = indexedByKey ? """
            CASE WHEN e.prev_revision IS NOT NULL THEN (SELECT p.value FROM events p WHERE p.revision = e.prev_revision)
                ELSE (SELECT p.value FROM events p WHERE p.key = e.key AND p.revision < e.revision ORDER BY p.revision DESC LIMIT 1) END
            """ : "(SELECT p.value FROM events p WHERE p.revision = e.prev_revision)"
        do throws(StoreError) {
            let (compacted, history) = try await read { db in
                let compacted = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'compacted'") ?? 0
                guard revision >= compacted else { return (compacted, [StoreEvent]()) }
                let rows = try Row.fetchAll(db.cachedStatement(sql: """
                    SELECT revision, key, kind, value, CASE create_revision WHEN 0 THEN revision ELSE create_revision END,
                        CASE kind WHEN 1 THEN \(previous) END
                    FROM events e
                    WHERE revision > ? AND key >= ? AND key < ? ORDER BY revision
                    """), arguments: [revision, prefix, Self.end(of: prefix)])
                return (compacted, rows.map(Self.event(from:)))
            }
            guard revision >= compacted else {
                throw StoreError(.compacted(oldest: compacted + 1),
                                 "revision \(revision) has been compacted; the oldest kept is \(compacted + 1)")
            }
            hub.replayed(id, history: history, after: revision)
            return StoreWatch { hub.remove(id) }
        } catch {
            // Quietly: the caller learns of the failure from the throw, not from `.end`.
            hub.forget(id)
            throw error
        }
    }

    public func currentRevision() async throws(StoreError) -> Int64 {
        let sequenced = sequenced
        return try await read { db in try Self.revision(db, sequenced: sequenced) }
    }

    public func compact(through revision: Int64) async throws(StoreError) {
        do {
            try await pool.write { db in
                // The newest event stays: its row id keeps the next one above every revision.
                // So do the events holding current values.
                try db.execute(sql: """
                    DELETE FROM events WHERE revision <= ? AND revision < (SELECT max(revision) FROM events)
                        AND revision NOT IN (SELECT mod_revision FROM objects)
                    """, arguments: [revision])
                try db.execute(sql: "UPDATE meta SET value = max(value, ?) WHERE name = 'compacted'", arguments: [revision])
            }
        } catch {
            throw StoreError(.backend, "compact: \(error)")
        }
    }

    // MARK: - SQL helpers

    /// `body` (one statement) on a point reader, on this thread; nil (not read) when every one
    /// is in use.
    func readHere<T>(_ body: (Database) throws -> T) throws(StoreError) -> T? {
        do { return try pointReaders.read(body) } catch { throw StoreError(.backend, "read: \(error)") }
    }

    func read<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws(StoreError) -> T {
        do { return try await pool.read(body) } catch let error as StoreError { throw error } catch {
            throw StoreError(.backend, "read: \(error)")
        }
    }

    static func revision(_ db: Database, sequenced: Bool) throws -> Int64 {
        let newest = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(revision) FROM events")) ?? 0
        guard sequenced else { return newest }
        let sequence = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'events'")) ?? 0
        return max(newest, sequence)
    }

    static func object(_ db: Database, _ key: String) throws -> StoredObject? {
        // Cached statements: preparing the SQL again on every call was a tenth of the API
        // server's CPU under load.
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(objectColumns) WHERE o.key = ?"),
                         arguments: [key]).map(object(from:))
    }

    /// The columns of `objects`: a key and its revisions (its value is in `events`).
    static let objectsTable = "key TEXT PRIMARY KEY NOT NULL, create_revision INTEGER NOT NULL, mod_revision INTEGER NOT NULL"

    /// Reads map the file (every connection: the pool's and the point readers).
    static let mapReads = "PRAGMA mmap_size = 268435456"

    /// An object's key, value, and revisions, for a query that goes on with WHERE: its value
    /// is in the event its mod_revision names.
    static let objectColumns = "o.key, e.value, o.create_revision, o.mod_revision FROM objects o JOIN events e ON e.revision = o.mod_revision"

    /// Rewrites a database made when `objects` kept a copy of each value: every object's value
    /// is in the event of its mod_revision (written back for an object whose event was
    /// compacted away; its revision, below the compacted mark, is never replayed), then
    /// `objects` loses its value column. One transaction: a crash leaves the old schema whole.
    static func moveValuesToEvents(_ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO events (revision, key, kind, value, create_revision, prev_revision)
                SELECT o.mod_revision, o.key, CASE WHEN o.create_revision = o.mod_revision THEN 0 ELSE 1 END,
                    o.value, o.create_revision, NULL
                FROM objects o WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.revision = o.mod_revision);
            CREATE TABLE objects_by_reference (\(objectsTable)) WITHOUT ROWID;
            INSERT INTO objects_by_reference SELECT key, create_revision, mod_revision FROM objects;
            DROP TABLE objects;
            ALTER TABLE objects_by_reference RENAME TO objects;
            """)
    }

    static func object(from row: Row) -> StoredObject {
        StoredObject(key: row[0], value: [UInt8](row[1] as Data), createRevision: row[2], modRevision: row[3])
    }

    static func event(from row: Row) -> StoreEvent {
        let revision: Int64 = row[0]
        let kind = StoreEvent.Kind(rawValue: row[2]) ?? .modified
        return StoreEvent(kind: kind, object: StoredObject(key: row[1], value: [UInt8](row[3] as Data),
                                                           createRevision: row[4], modRevision: revision),
                          revision: revision, previous: (row[5] as Data?).map { [UInt8]($0) })
    }

    /// The smallest string greater than every string starting with `prefix` (for range scans).
    static func end(of prefix: String) -> String { prefix + "\u{10FFFF}" }
}
