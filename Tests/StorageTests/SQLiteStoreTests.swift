import Foundation
import Testing
import Storage

/// SQLiteStore against real SQLite files in a scratch directory.
@Suite("Storage: SQLiteStore")
struct SQLiteStoreTests {
    func withStore<T>(_ body: (SQLiteStore, String) async throws -> T) async throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state.db"
        return try await body(try SQLiteStore(path: path), path)
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func kind(of body: () async throws -> Void) async -> StoreError.Kind? {
        do { try await body(); return nil } catch let error as StoreError { return error.kind } catch { return nil }
    }

    @Test("create, get, conditional update and delete move one global revision forward")
    func crud() async throws {
        try await withStore { store, _ in
            #expect(try await store.currentRevision() == 0)
            let a = try await store.create("/pods/ns/a", value: bytes("a1"))
            let b = try await store.create("/pods/ns/b", value: bytes("b1"))
            #expect(a.createRevision == 1 && a.modRevision == 1 && b.modRevision == 2)
            #expect(await kind { _ = try await store.create("/pods/ns/a", value: self.bytes("x")) } == .alreadyExists)
            let a2 = try await store.update("/pods/ns/a", value: bytes("a2"), ifRevision: 1)
            #expect(a2.createRevision == 1 && a2.modRevision == 3)
            // A write based on the old revision is refused and changes nothing.
            #expect(await kind { _ = try await store.update("/pods/ns/a", value: self.bytes("stale"), ifRevision: 1) }
                    == .conflict(current: 3))
            #expect(try await store.get("/pods/ns/a").value == bytes("a2"))
            #expect(await kind { _ = try await store.delete("/pods/ns/a", ifRevision: 1) } == .conflict(current: 3))
            let gone = try await store.delete("/pods/ns/a", ifRevision: 3)
            #expect(gone.modRevision == 4 && gone.value == bytes("a2"))
            #expect(await kind { _ = try await store.get("/pods/ns/a") } == .notFound)
            #expect(await kind { _ = try await store.update("/pods/ns/a", value: [], ifRevision: nil) } == .notFound)
            #expect(try await store.currentRevision() == 4)
            // Revisions are never reused, even for a re-created key.
            #expect(try await store.create("/pods/ns/a", value: bytes("a3")).createRevision == 5)
        }
    }

    @Test("list by prefix, in key order, paginated with a continue key")
    func listing() async throws {
        try await withStore { store, _ in
            for name in ["c", "a", "e", "b", "d"] { _ = try await store.create("/cm/ns1/\(name)", value: bytes(name)) }
            _ = try await store.create("/cm/ns10/z", value: bytes("other namespace"))
            _ = try await store.create("/pods/ns1/a", value: bytes("other resource"))
            let all = try await store.list(prefix: "/cm/ns1/", after: nil, limit: nil)
            #expect(all.items.map(\.key) == ["/cm/ns1/a", "/cm/ns1/b", "/cm/ns1/c", "/cm/ns1/d", "/cm/ns1/e"])
            #expect(all.revision == 7 && all.continueAfter == nil)
            let first = try await store.list(prefix: "/cm/ns1/", after: nil, limit: 2)
            #expect(first.items.map(\.key) == ["/cm/ns1/a", "/cm/ns1/b"] && first.continueAfter == "/cm/ns1/b")
            let second = try await store.list(prefix: "/cm/ns1/", after: first.continueAfter, limit: 2)
            #expect(second.items.map(\.key) == ["/cm/ns1/c", "/cm/ns1/d"])
            let last = try await store.list(prefix: "/cm/ns1/", after: second.continueAfter, limit: 2)
            #expect(last.items.map(\.key) == ["/cm/ns1/e"] && last.continueAfter == nil)
        }
    }

    @Test("200 concurrent creates are group-committed with distinct, gap-free revisions")
    func concurrentCreates() async throws {
        try await withStore { store, _ in
            let revisions = try await withThrowingTaskGroup(of: Int64.self) { group in
                for i in 0..<200 {
                    group.addTask { try await store.create("/cm/ns/\(i)", value: Array(repeating: 7, count: 1024)).modRevision }
                }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            #expect(Set(revisions) == Set(1...200))
            #expect(try await store.list(prefix: "/cm/ns/", after: nil, limit: nil).items.count == 200)
        }
    }

    @Test("a watch replays history after its revision, then live changes, with no gap or duplicate")
    func watchHistoryThenLive() async throws {
        try await withStore { store, _ in
            for i in 0..<5 { _ = try await store.create("/pods/ns/p\(i)", value: bytes("v\(i)")) }
            _ = try await store.create("/svc/ns/s", value: bytes("not watched"))
            let stream = try await store.watch(prefix: "/pods/", after: 2)
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
            #expect(seen.first?.object.key == "/pods/ns/p2" && seen.first?.revision == 3)
            #expect(seen.count == 3 + 45 + 2)  // p2..p4 from history, p5..p49, the update, the delete
            #expect(!seen.contains { $0.object.key.hasPrefix("/svc/") })
            #expect(seen.last?.object.key == "/pods/ns/p1" && seen.last?.object.value == bytes("v1"))
            #expect(seen[seen.count - 2].kind == .modified && seen[seen.count - 2].object.value == bytes("changed"))
        }
    }

    @Test("after compaction a watch from an older revision is refused (410), a newer one works")
    func compaction() async throws {
        try await withStore { store, _ in
            for i in 0..<10 { _ = try await store.create("/cm/ns/\(i)", value: bytes("\(i)")) }
            try await store.compact(through: 6)
            #expect(await kind { _ = try await store.watch(prefix: "/cm/", after: 3) } == .compacted(oldest: 7))
            let stream = try await store.watch(prefix: "/cm/", after: 6)
            var iterator = stream.makeAsyncIterator()
            #expect(try await iterator.next()?.revision == 7)
            // Objects survive compaction; only history goes.
            #expect(try await store.list(prefix: "/cm/", after: nil, limit: nil).items.count == 10)
            #expect(try await store.currentRevision() == 10)
        }
    }

    @Test("objects and the revision survive closing and reopening the file")
    func reopen() async throws {
        try await withStore { store, path in
            _ = try await store.create("/ns/default", value: bytes("{}"))
            _ = try await store.update("/ns/default", value: bytes("{\"x\":1}"), ifRevision: 1)
            let again = try SQLiteStore(path: path)
            #expect(try await again.get("/ns/default").value == bytes("{\"x\":1}"))
            #expect(try await again.currentRevision() == 2)
            #expect(try await again.create("/ns/other", value: []).modRevision == 3)
        }
    }
}
