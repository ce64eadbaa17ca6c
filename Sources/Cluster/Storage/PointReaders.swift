import Foundation
import GRDB
import Synchronization

/// Read-only connections for reading one object on the calling thread.
///
/// GRDB's asynchronous read hops three times (to the pool's semaphore queue, to a reader's
/// queue, back to the caller's executor): in process a GET cost 82–104 µs of CPU that way,
/// 19–22 µs reading here (`netplane-bench store --in-process-only`, get_cpu). Reading on the calling
/// thread is only safe while it never waits: a cooperative thread blocked on GRDB's reader
/// pool could wait for a reader that an asynchronous read returns only once it resumes on a
/// cooperative thread. So these connections are their own, taken without waiting; when all
/// are in use the caller reads through the pool as before.
final class PointReaders: Sendable {
    private let idle: Mutex<[DatabaseQueue]>

    /// `count` connections to the WAL database at `path`, which must exist with its schema: by
    /// default one per core, as many as the cooperative pool has threads to read with.
    init(path: String, count: Int = max(2, ProcessInfo.processInfo.activeProcessorCount)) throws {
        var config = Configuration()
        config.readonly = true
        config.label = "point-reader"
        // As GRDB's own readers: a WAL reader is busy only in rare moments (another process
        // recovering the WAL, the last connection closing), waited out briefly.
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in try db.execute(sql: SQLiteStore.mapReads) }
        idle = Mutex(try (0..<count).map { _ in try DatabaseQueue(path: path, configuration: config) })
    }

    /// `body` on a free connection, on this thread; nil when none is free. No transaction is
    /// opened around it (BEGIN and COMMIT were half a point read's cost): `body` must make one
    /// statement, which SQLite runs on one snapshot of its own.
    func read<T>(_ body: (Database) throws -> T) throws -> T? {
        guard let connection = idle.withLock({ $0.popLast() }) else { return nil }
        defer { idle.withLock { $0.append(connection) } }
        return try connection.unsafeRead(body)
    }
}
