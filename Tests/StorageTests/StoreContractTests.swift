import Foundation
import GRDB
import Testing
import NetplaneTestSupport
@testable import Storage

/// A fresh directory for a database file (removed by `remove`).
struct ScratchDatabase {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("np-store-\(UUID().uuidString)").path
    var path: String { directory + "/state.db" }

    init() throws { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// The backends every store test runs against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, etcd
    var testDescription: String { rawValue }
}

/// The Store contract, checked against SQLiteStore (real files in a scratch directory) and
/// EtcdStore (a real single-member etcd started for each test). Revisions are compared to the
/// store's revision at the start: a fresh etcd is at 1, a fresh SQLite file at 0.
@Suite("Storage: the Store contract on SQLite and etcd")
struct StoreContractTests {
    func withStore<T>(_ backend: Backend, _ body: (any Store, Int64) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite:
            let scratch = try ScratchDatabase()
            defer { scratch.remove() }
            let store = try SQLiteStore(path: scratch.path)
            return try await body(store, try await store.currentRevision())
        case .etcd:
            let cluster = try EtcdCluster()
            defer { cluster.stop() }
            let store = try EtcdStore(endpoints: cluster.endpoints)
            do {
                let result = try await body(store, try await store.currentRevision())
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        }
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func kind(of body: () async throws -> Void) async -> StoreError.Kind? {
        do { try await body(); return nil } catch let error as StoreError { return error.kind } catch { return nil }
    }

    /// The error a watch ends with: thrown by `watch` itself (SQLite) or by its stream once
    /// the backend has said so (etcd reports a compacted start after creating the watch).
    func watchFailure(_ store: any Store, prefix: String, after revision: Int64) async -> StoreError.Kind? {
        await kind {
            let stream = try await store.watch(prefix: prefix, after: revision)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { for try await _ in stream {} }
                // Only a bound on a hang: under the whole suite's load (many etcd members and
                // API servers on two cores) etcd once took more than 5 s to report a compaction.
                group.addTask { try await Task.sleep(for: .seconds(30)) }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    @Test("create, get, conditional update and delete move one global revision forward", arguments: Backend.allCases)
    func crud(_ backend: Backend) async throws {
        try await withStore(backend) { store, r in
            let a = try await store.create("/pods/ns/a", value: bytes("a1"))
            let b = try await store.create("/pods/ns/b", value: bytes("b1"))
            #expect(a.createRevision == r + 1 && a.modRevision == r + 1 && b.modRevision == r + 2)
            #expect(try await store.get("/pods/ns/a") == a)
            #expect(await kind { _ = try await store.create("/pods/ns/a", value: self.bytes("x")) } == .alreadyExists)
            let a2 = try await store.update("/pods/ns/a", value: bytes("a2"), ifRevision: r + 1)
            #expect(a2.createRevision == r + 1 && a2.modRevision == r + 3)
            // A write based on the old revision is refused and changes nothing.
            #expect(await kind { _ = try await store.update("/pods/ns/a", value: self.bytes("stale"), ifRevision: r + 1) }
                    == .conflict(current: r + 3))
            #expect(try await store.get("/pods/ns/a").value == bytes("a2"))
            #expect(await kind { _ = try await store.delete("/pods/ns/a", ifRevision: r + 1) } == .conflict(current: r + 3))
            let gone = try await store.delete("/pods/ns/a", ifRevision: r + 3)
            #expect(gone.modRevision == r + 4 && gone.value == bytes("a2") && gone.createRevision == r + 1)
            #expect(await kind { _ = try await store.get("/pods/ns/a") } == .notFound)
            #expect(await kind { _ = try await store.update("/pods/ns/a", value: [], ifRevision: nil) } == .notFound)
            #expect(await kind { _ = try await store.delete("/pods/ns/a", ifRevision: nil) } == .notFound)
            #expect(try await store.currentRevision() == r + 4)
            // Revisions are never reused, even for a re-created key.
            #expect(try await store.create("/pods/ns/a", value: bytes("a3")).createRevision == r + 5)
        }
    }

    @Test("list by prefix, in key order, paginated with a continue key", arguments: Backend.allCases)
    func listing(_ backend: Backend) async throws {
        try await withStore(backend) { store, r in
            for name in ["c", "a", "e", "b", "d"] { _ = try await store.create("/cm/ns1/\(name)", value: bytes(name)) }
            _ = try await store.create("/cm/ns10/z", value: bytes("other namespace"))
            _ = try await store.create("/pods/ns1/a", value: bytes("other resource"))
            let all = try await store.list(prefix: "/cm/ns1/", after: nil, limit: nil)
            #expect(all.items.map(\.key) == ["/cm/ns1/a", "/cm/ns1/b", "/cm/ns1/c", "/cm/ns1/d", "/cm/ns1/e"])
            #expect(all.items.map(\.value) == ["a", "b", "c", "d", "e"].map(bytes))
            #expect(all.revision == r + 7 && all.continueAfter == nil)
            let first = try await store.list(prefix: "/cm/ns1/", after: nil, limit: 2)
            #expect(first.items.map(\.key) == ["/cm/ns1/a", "/cm/ns1/b"] && first.continueAfter == "/cm/ns1/b")
            let second = try await store.list(prefix: "/cm/ns1/", after: first.continueAfter, limit: 2)
            #expect(second.items.map(\.key) == ["/cm/ns1/c", "/cm/ns1/d"])
            let last = try await store.list(prefix: "/cm/ns1/", after: second.continueAfter, limit: 2)
            #expect(last.items.map(\.key) == ["/cm/ns1/e"] && last.continueAfter == nil)
        }
    }

    @Test("200 concurrent creates get distinct, gap-free revisions", arguments: Backend.allCases)
    func concurrentCreates(_ backend: Backend) async throws {
        try await withStore(backend) { store, r in
            let revisions = try await withThrowingTaskGroup(of: Int64.self) { group in
                for i in 0..<200 {
                    group.addTask { try await store.create("/cm/ns/\(i)", value: Array(repeating: 7, count: 1024)).modRevision }
                }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            #expect(Set(revisions) == Set((r + 1)...(r + 200)))
            #expect(try await store.list(prefix: "/cm/ns/", after: nil, limit: nil).items.count == 200)
        }
    }

    @Test("a watch replays history after its revision, then live changes, with no gap or duplicate",
          arguments: Backend.allCases)
    func watchHistoryThenLive(_ backend: Backend) async throws {
        try await withStore(backend) { store, r in
            for i in 0..<5 { _ = try await store.create("/pods/ns/p\(i)", value: bytes("v\(i)")) }
            _ = try await store.create("/svc/ns/s", value: bytes("not watched"))
            let stream = try await store.watch(prefix: "/pods/", after: r + 2)
            // Live writes race with the replay.
            let writer = Task {
                for i in 5..<50 { _ = try await store.create("/pods/ns/p\(i)", value: self.bytes("v\(i)")) }
                _ = try await store.update("/pods/ns/p0", value: self.bytes("changed"), ifRevision: nil)
                _ = try await store.delete("/pods/ns/p1", ifRevision: nil)
            }
            var seen: [StoreEvent] = []
            for try await event in stream {
                seen.append(event)
                if event.kind == .deleted { break }
            }
            try await writer.value
            let revisions = seen.map(\.revision)
            #expect(revisions == revisions.sorted() && Set(revisions).count == revisions.count, "\(revisions)")
            #expect(seen.first?.object.key == "/pods/ns/p2" && seen.first?.revision == r + 3)
            #expect(seen.first?.kind == .added)
            #expect(seen.count == 3 + 45 + 2)  // p2..p4 from history, p5..p49, the update, the delete
            #expect(!seen.contains { $0.object.key.hasPrefix("/svc/") })
            #expect(seen.last?.object.key == "/pods/ns/p1" && seen.last?.object.value == bytes("v1"))
            let update = seen[seen.count - 2]
            #expect(update.kind == .modified && update.object.value == bytes("changed") && update.previous == bytes("v0"))
        }
    }

    @Test("after compaction a watch from an older revision is refused (410), a newer one works",
          arguments: Backend.allCases)
    func compaction(_ backend: Backend) async throws {
        try await withStore(backend) { store, r in
            for i in 0..<10 { _ = try await store.create("/cm/ns/\(i)", value: bytes("\(i)")) }
            try await store.compact(through: r + 6)
            #expect(await watchFailure(store, prefix: "/cm/", after: r + 3) == .compacted(oldest: r + 7))
            let stream = try await store.watch(prefix: "/cm/", after: r + 6)
            var iterator = stream.makeAsyncIterator()
            #expect(try await iterator.next()?.revision == r + 7)
            // Objects survive compaction; only history goes.
            #expect(try await store.list(prefix: "/cm/", after: nil, limit: nil).items.count == 10)
            #expect(try await store.currentRevision() == r + 10)
        }
    }
}

@Suite("Storage: SQLiteStore")
struct SQLiteStoreTests {
    @Test("objects and the revision survive closing and reopening the file")
    func reopen() async throws {
        let scratch = try ScratchDatabase()
        defer { scratch.remove() }
        let path = scratch.path
        func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
        do {
            let store = try SQLiteStore(path: path)
            _ = try await store.create("/ns/default", value: bytes("{}"))
            _ = try await store.update("/ns/default", value: bytes("{\"x\":1}"), ifRevision: 1)
            let again = try SQLiteStore(path: path)
            #expect(try await again.get("/ns/default").value == bytes("{\"x\":1}"))
            #expect(try await again.currentRevision() == 2)
            #expect(try await again.create("/ns/other", value: []).modRevision == 3)
        }
    }

    @Test("compacting through the newest revision gives no revision out twice, before or after reopening")
    func compactionKeepsRevisionsUnique() async throws {
        let scratch = try ScratchDatabase()
        defer { scratch.remove() }
        let path = scratch.path
        do {
            let store = try SQLiteStore(path: path)
            for i in 0..<3 { _ = try await store.create("/cm/\(i)", value: Array("\(i)".utf8)) }
            try await store.compact(through: 3)
            #expect(try await store.currentRevision() == 3)
            #expect(try await store.delete("/cm/2", ifRevision: nil).modRevision == 4)
            try await store.compact(through: 4)
            #expect(try await store.create("/cm/3", value: []).modRevision == 5)
            try await store.compact(through: 5)
        }
        let again = try SQLiteStore(path: path)
        #expect(try await again.currentRevision() == 5)
        #expect(try await again.create("/cm/4", value: []).modRevision == 6)
        var refused: StoreError.Kind?
        do { _ = try await again.watch(prefix: "/cm/", after: 3) { _ in } } catch { refused = error.kind }
        #expect(refused == .compacted(oldest: 6))
    }

    /// A database of the earlier schema (AUTOINCREMENT, events_by_key, no prev_revision), as
    /// that version wrote it. `history`: /cm/a created ("v1") and modified ("v2"), both events
    /// kept; else seven events compacted away, so only sqlite_sequence remembers revision 7.
    /// (Synchronous, so GRDB's blocking write.)
    static func makeEarlierDatabase(_ path: String, history: Bool) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: """
                CREATE TABLE objects (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL,
                    create_revision INTEGER NOT NULL, mod_revision INTEGER NOT NULL) WITHOUT ROWID;
                CREATE TABLE events (revision INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL,
                    kind INTEGER NOT NULL, value BLOB NOT NULL, create_revision INTEGER NOT NULL);
                CREATE INDEX events_by_key ON events (key, revision);
                CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                """)
            if history {
                try db.execute(sql: """
                    INSERT INTO meta (name, value) VALUES ('compacted', 0);
                    INSERT INTO events (key, kind, value, create_revision) VALUES ('/cm/a', 0, CAST('v1' AS BLOB), 0);
                    INSERT INTO events (key, kind, value, create_revision) VALUES ('/cm/a', 1, CAST('v2' AS BLOB), 1);
                    INSERT INTO objects VALUES ('/cm/a', CAST('v2' AS BLOB), 1, 2);
                    """)
            } else {
                try db.execute(sql: "INSERT INTO meta (name, value) VALUES ('compacted', 7); INSERT INTO objects VALUES ('/cm/a', x'7b7d', 7, 7)")
                for _ in 1...7 {
                    try db.execute(sql: "INSERT INTO events (key, kind, value, create_revision) VALUES ('/cm/a', 0, x'7b7d', 0)")
                }
                try db.execute(sql: "DELETE FROM events")
            }
        }
    }

    @Test("a watch replaying history gives each modified event its previous value, in databases of either schema")
    func replayedPreviousValues() async throws {
        for earlier in [false, true] {
            let scratch = try ScratchDatabase()
            defer { scratch.remove() }
            let path = scratch.path
            if earlier { try Self.makeEarlierDatabase(path, history: true) }
            let store = try SQLiteStore(path: path)
            if !earlier {
                _ = try await store.create("/cm/a", value: Array("v1".utf8))
                _ = try await store.update("/cm/a", value: Array("v2".utf8), ifRevision: 1)
            }
            #expect(try await store.update("/cm/a", value: Array("v3".utf8), ifRevision: 2).modRevision == 3)
            var iterator = try await store.watch(prefix: "/cm/", after: 0).makeAsyncIterator()
            var events: [StoreEvent] = []
            while events.count < 3, let event = try await iterator.next() { events.append(event) }
            #expect(events.map(\.revision) == [1, 2, 3], "earlier schema: \(earlier)")
            #expect(events.map(\.kind) == [.added, .modified, .modified])
            #expect(events[1].previous == Array("v1".utf8), "earlier schema: \(earlier)")
            #expect(events[2].previous == Array("v2".utf8), "earlier schema: \(earlier)")
        }
    }

    @Test("a database made with AUTOINCREMENT (before it was dropped) keeps counting from its sequence")
    func autoincrementDatabase() async throws {
        let scratch = try ScratchDatabase()
        defer { scratch.remove() }
        let path = scratch.path
        // The earlier schema, written as that version wrote it; its whole history compacted
        // away (that version deleted every event it was asked to), so only sqlite_sequence
        // remembers revision 7.
        try Self.makeEarlierDatabase(path, history: false)
        let store = try SQLiteStore(path: path)
        #expect(try await store.currentRevision() == 7)
        #expect(try await store.list(prefix: "/cm/", after: nil, limit: nil).revision == 7)
        // The object whose event was compacted away keeps its value (written back to event 7).
        #expect(try await store.get("/cm/a").value == Array("{}".utf8))
        #expect(try await store.create("/cm/b", value: []).modRevision == 8)
        try await store.compact(through: 8)
        #expect(try await store.create("/cm/c", value: []).modRevision == 9)
        #expect(try await store.list(prefix: "/cm/", after: nil, limit: nil).items.map(\.key) == ["/cm/a", "/cm/b", "/cm/c"])
        #expect(try await store.get("/cm/a").value == Array("{}".utf8))
    }

    @Test("a database whose objects kept a copy of their values: opened, each object keeps its value and revisions, once, and reopening changes nothing")
    func valuesMovedToEvents() async throws {
        for history in [false, true] {
            let scratch = try ScratchDatabase()
            defer { scratch.remove() }
            let path = scratch.path
            try Self.makeEarlierDatabase(path, history: history)
            let expected = history ? Array("v2".utf8) : Array("{}".utf8)
            for _ in 0..<2 {
                let store = try SQLiteStore(path: path)
                let object = try await store.get("/cm/a")
                #expect(object.value == expected, "history: \(history)")
                #expect(object.createRevision == (history ? 1 : 7) && object.modRevision == (history ? 2 : 7))
                #expect(try await store.list(prefix: "/cm/", after: nil, limit: nil).items.map(\.value) == [expected])
                let columns = try await store.pool.read { db in try db.columns(in: "objects").map(\.name) }
                #expect(columns == ["key", "create_revision", "mod_revision"])
            }
        }
    }

    @Test("a point read never waits: with every point reader in use it reports none free, and the store reads through the pool")
    func pointReadersNeverWait() async throws {
        let scratch = try ScratchDatabase()
        defer { scratch.remove() }
        let store = try SQLiteStore(path: scratch.path)
        _ = try await store.create("/cm/a", value: Array("a".utf8))
        let readers = try PointReaders(path: scratch.path, count: 1)
        let nested = try readers.read { _ in try readers.read { _ in 1 } }
        #expect(nested == .some(nil), "the only reader is taken by the outer read")
        #expect(try readers.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM objects") } == 1)
        // Every one of the store's point readers held by another thread: a GET still answers,
        // through the pool.
        let release = DispatchSemaphore(value: 0)
        let holder = DispatchGroup()
        await withCheckedContinuation { (holding: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async(group: holder) {
                func hold() {
                    // Takes one more reader inside the read that holds the last, until none is free.
                    if (try? store.pointReaders.read({ _ in hold() })) == nil {
                        holding.resume()
                        release.wait()
                    }
                }
                hold()
            }
        }
        #expect(try store.pointReaders.read { _ in 1 } == nil)
        #expect(try await store.get("/cm/a").value == Array("a".utf8))
        release.signal()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in holder.notify(queue: .global()) { done.resume() } }
        #expect(try store.pointReaders.read { _ in 1 } == 1)
    }

    @Test("compaction forgets history but keeps every current value")
    func compactionKeepsCurrentValues() async throws {
        let scratch = try ScratchDatabase()
        defer { scratch.remove() }
        let store = try SQLiteStore(path: scratch.path)
        _ = try await store.create("/cm/a", value: Array("a1".utf8))                      // 1
        _ = try await store.create("/cm/b", value: Array("b1".utf8))                      // 2
        _ = try await store.update("/cm/a", value: Array("a2".utf8), ifRevision: 1)       // 3
        _ = try await store.delete("/cm/b", ifRevision: nil)                              // 4
        _ = try await store.create("/cm/c", value: Array("c1".utf8))                      // 5
        _ = try await store.update("/cm/c", value: Array("c2".utf8), ifRevision: 5)       // 6
        try await store.compact(through: 6)
        #expect(try await store.get("/cm/a").value == Array("a2".utf8))
        #expect(try await store.get("/cm/c").value == Array("c2".utf8))
        #expect(try await store.list(prefix: "/cm/", after: nil, limit: nil).items.map(\.key) == ["/cm/a", "/cm/c"])
        // What stays of the history: the events of a's and c's current values.
        let kept = try await store.pool.read { db in try Int64.fetchAll(db, sql: "SELECT revision FROM events ORDER BY revision") }
        #expect(kept == [3, 6])
        #expect(try await store.update("/cm/a", value: Array("a3".utf8), ifRevision: 3).modRevision == 7)
        try await store.compact(through: 7)
        #expect(try await store.get("/cm/a").value == Array("a3".utf8))
        #expect((try? await store.get("/cm/b")) == nil)
    }
}

@Suite("Storage: EtcdStore failover")
struct EtcdFailoverTests {
    @Test("3 members: writes and a watch carry on when the member in use is killed, with no gap or duplicate")
    func memberKilled() async throws {
        let cluster = try EtcdCluster(members: 3)
        defer { cluster.stop() }
        let store = try EtcdStore(endpoints: cluster.endpoints)
        do {
            let start = try await store.currentRevision()
            let stream = try await store.watch(prefix: "/cm/", after: start)
            var written: [Int64] = []
            for i in 0..<60 {
                // The store talks to the first member until it fails: kill it mid-run.
                if i == 20 { cluster.kill(member: 0) }
                written.append(try await store.create("/cm/ns/\(i)", value: Array("v\(i)".utf8)).modRevision)
            }
            var seen: [StoreEvent] = []
            for try await event in stream {
                seen.append(event)
                if seen.count == 60 { break }
            }
            #expect(seen.map(\.revision) == written)
            #expect(seen.map(\.object.key) == (0..<60).map { "/cm/ns/\($0)" })
            #expect(try await store.list(prefix: "/cm/", after: nil, limit: nil).items.count == 60)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
    }
}

@Suite("Storage: EtcdStore over TLS")
struct EtcdTLSTests {
    @Test("members that require client certificates: the store with one writes and watches; without one, or over plain http, it is refused")
    func clientCertificates() async throws {
        let cluster = try EtcdCluster(tls: true)
        defer { cluster.stop() }
        let files = try #require(cluster.tls)
        let store = try EtcdStore(endpoints: cluster.endpoints, tls: EtcdTLS(caFile: files.caFile, certFile: files.certFile, keyFile: files.keyFile))
        do {
            let start = try await store.currentRevision()
            let stream = try await store.watch(prefix: "/cm/", after: start)
            let created = try await store.create("/cm/ns/a", value: Array("a".utf8))
            var iterator = stream.makeAsyncIterator()
            let event = try await iterator.next()
            #expect(event?.revision == created.modRevision && event?.object.key == "/cm/ns/a")
            #expect(try await store.get("/cm/ns/a").value == Array("a".utf8))
            await store.close()
        } catch {
            await store.close()
            Issue.record("\(error)\n\(cluster.log("m0"))")
            throw error
        }

        // The CA alone: etcd ends the handshake, and the store says it could not get through.
        let anonymous = try EtcdStore(endpoints: cluster.endpoints, tls: EtcdTLS(caFile: files.caFile))
        await #expect(throws: StoreError.self) { _ = try await anonymous.get("/cm/ns/a") }
        await anonymous.close()

        // TLS files with an http:// endpoint, or half a key pair: refused before any connection.
        let plain = cluster.endpoints.map { $0.replacingOccurrences(of: "https://", with: "http://") }
        #expect(throws: StoreError.self) { try EtcdStore(endpoints: plain, tls: EtcdTLS(caFile: files.caFile)) }
        #expect(throws: StoreError.self) { try EtcdStore(endpoints: cluster.endpoints, tls: EtcdTLS(caFile: files.caFile, certFile: files.certFile)) }
    }
}

@Suite("Storage: EtcdStore connections")
struct EtcdConnectionTests {
    /// etcd pings its client once per request it receives: a client that takes that for a
    /// flood (swift-nio-http2's default guard, 200 control frames in 30 s) lost its connection
    /// every 200 calls, and a create retried after its connection broke answered "already
    /// exists". A thousand creates in a row must all succeed, each once.
    @Test("a thousand creates in a row on one connection, each applied once")
    func manyCallsInARow() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let store = try EtcdStore(endpoints: cluster.endpoints)
        do {
            let start = try await store.currentRevision()
            for i in 0..<1000 { _ = try await store.create("/x/\(i)", value: Array(repeating: 120, count: 1024)) }
            #expect(try await store.currentRevision() == start + 1000)
            await store.close()
        } catch {
            await store.close()
            Issue.record("\(error)\n\(cluster.log("m0"))")
        }
    }
}
