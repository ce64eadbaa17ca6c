import JSON

/// The store on an etcd (3.4 or later) cluster, over etcd's gRPC API: for API servers on
/// several machines sharing one state.
///
/// Every write is one etcd transaction whose compare carries the store's condition (the key is
/// absent for a create, present or at a given mod revision for an update or delete), so
/// optimistic concurrency is etcd's own and two API servers can never both win. etcd's
/// revision is the store's revision, its create/mod revisions the object's; a watch is an etcd
/// watch with prev_kv, resumed on another member if its member goes away.
public final class EtcdStore: Store {
    let client: EtcdClient

    /// `endpoints`: client URLs of the members, e.g. `http://127.0.0.1:2379`, or `https://…`
    /// with `tls` naming the CA and this client's certificate.
    public init(endpoints: [String], tls: EtcdTLS = EtcdTLS()) throws(StoreError) {
        let cleaned = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.filter { !$0.isEmpty }
        guard !cleaned.isEmpty else { throw StoreError(.backend, "no etcd endpoints given") }
        client = try EtcdClient(endpoints: cleaned, tls: tls)
    }

    /// Closes the connections (call before dropping the store).
    public func close() async {
        await client.shutdown()
    }

    private func txn(_ request: [UInt8]) async throws(StoreError) -> EtcdWire.TxnResponse {
        let reply = try await client.call("/etcdserverpb.KV/Txn", request)
        do { return try EtcdWire.TxnResponse(reply) } catch { throw StoreError(.backend, "etcd Txn: \(error)") }
    }

    private func range(_ request: [UInt8]) async throws(StoreError) -> EtcdWire.RangeResponse {
        let reply = try await client.call("/etcdserverpb.KV/Range", request)
        do { return try EtcdWire.RangeResponse(reply, reply.indices) } catch { throw StoreError(.backend, "etcd Range: \(error)") }
    }

    public func create(_ key: String, value: [UInt8]) async throws(StoreError) -> StoredObject {
        let reply = try await txn(EtcdWire.txn(
            compare: [.init(key: Array(key.utf8), result: .equal, target: .createRevision(0))],
            success: [.put(key: Array(key.utf8), value: value, prevKV: false)]))
        guard reply.succeeded else { throw StoreError(.alreadyExists, "\(key) already exists") }
        return StoredObject(key: key, value: value, createRevision: reply.revision, modRevision: reply.revision)
    }

    public func get(_ key: String) async throws(StoreError) -> StoredObject {
        let reply = try await range(EtcdWire.range(key: Array(key.utf8)))
        guard let kv = reply.kvs.first else { throw StoreError(.notFound, "\(key) not found") }
        return Self.object(kv)
    }

    public func update(_ key: String, value: [UInt8], ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        let reply = try await conditional(key, ifRevision, .put(key: Array(key.utf8), value: value, prevKV: true))
        guard case .put(let previous)? = reply.responses.first else { throw StoreError(.backend, "etcd Txn: no put response") }
        return StoredObject(key: key, value: value, createRevision: previous?.createRevision ?? 0, modRevision: reply.revision)
    }

    public func delete(_ key: String, ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        let reply = try await conditional(key, ifRevision, .delete(key: Array(key.utf8), prevKV: true))
        guard case .delete(let previous)? = reply.responses.first, let kv = previous.first else {
            throw StoreError(.notFound, "\(key) not found")
        }
        var object = Self.object(kv)
        object.modRevision = reply.revision
        return object
    }

    /// A transaction doing `operation` if the key exists (at `ifRevision`, when given); when
    /// the compare fails, reads the key to tell "not found" from "conflict".
    private func conditional(_ key: String, _ ifRevision: Int64?, _ operation: EtcdWire.RequestOp) async throws(StoreError) -> EtcdWire.TxnResponse {
        let bytes = Array(key.utf8)
        let compare: EtcdWire.Compare = if let ifRevision {
            .init(key: bytes, result: .equal, target: .modRevision(ifRevision))
        } else {
            .init(key: bytes, result: .greater, target: .createRevision(0))
        }
        let reply = try await txn(EtcdWire.txn(compare: [compare], success: [operation], failure: [.range(key: bytes)]))
        if reply.succeeded { return reply }
        guard case .range(let current)? = reply.responses.first, let kv = current.kvs.first else {
            throw StoreError(.notFound, "\(key) not found")
        }
        throw StoreError(.conflict(current: kv.modRevision), "\(key) has changed (now at revision \(kv.modRevision))")
    }

    public func list(prefix: String, after: String?, limit: Int?) async throws(StoreError) -> ListPage {
        let reply = try await range(EtcdWire.range(key: Array((after.map { $0 + "\u{0}" } ?? prefix).utf8),
                                                   rangeEnd: Self.rangeEnd(of: prefix), limit: Int64(limit ?? 0)))
        let items = reply.kvs.map(Self.object)
        return ListPage(items: items, revision: reply.revision, continueAfter: reply.more ? items.last?.key : nil)
    }

    public func currentRevision() async throws(StoreError) -> Int64 {
        // A count of one impossible key: the cheapest read that carries the header.
        try await range(EtcdWire.range(key: [0], countOnly: true)).revision
    }

    public func compact(through revision: Int64) async throws(StoreError) {
        // etcd's compaction at R keeps R itself; ours forgets it, so compact at R+1 when R+1
        // exists (etcd refuses a future revision).
        let current = try await currentRevision()
        let target = min(revision + 1, current)
        guard target > 0 else { return }
        do {
            _ = try await client.call("/etcdserverpb.KV/Compact", EtcdWire.compaction(revision: target, physical: true))
        } catch {
            // Compacted already (by another API server, or by this call before a retry): done.
            guard error.message.contains("required revision has been compacted") else { throw error }
        }
    }

    /// An etcd watch (with prev_kv) on the prefix from `revision + 1`, on the client's one
    /// watch stream, which moves to another member if its member goes away (the receiver sees
    /// no gap or duplicate). A compacted start ends the watch with `.compacted` (etcd says so
    /// only after the watch is created).
    public func watch(prefix: String, after revision: Int64,
                      deliver: @escaping @Sendable (WatchDelivery) -> Void) async throws(StoreError) -> StoreWatch {
        let stream = client.watchStream()
        let id = stream.add(key: Array(prefix.utf8), rangeEnd: Self.rangeEnd(of: prefix), start: revision + 1, deliver: deliver)
        return StoreWatch { stream.remove(id) }
    }

    // MARK: - Conversions

    static func object(_ kv: EtcdWire.KeyValue) -> StoredObject {
        StoredObject(key: String(decoding: kv.key, as: UTF8.self), value: kv.value,
                     createRevision: kv.createRevision, modRevision: kv.modRevision)
    }

    static func event(_ event: EtcdWire.Event) -> StoreEvent {
        let revision = event.kv.modRevision
        if event.isDelete {
            // The deleted value is in prev_kv (the event's kv has only the key).
            var object = object(event.prevKV ?? event.kv)
            object.modRevision = revision
            return StoreEvent(kind: .deleted, object: object, revision: revision)
        }
        let object = object(event.kv)
        if object.createRevision == object.modRevision {
            return StoreEvent(kind: .added, object: object, revision: revision)
        }
        return StoreEvent(kind: .modified, object: object, revision: revision, previous: event.prevKV?.value)
    }

    /// The end of etcd's key range holding every key that starts with `prefix`: the prefix
    /// with its last byte below 0xff incremented.
    static func rangeEnd(of prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]   // every key
    }
}
