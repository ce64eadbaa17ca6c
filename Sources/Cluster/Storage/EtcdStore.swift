import JSON

/// The store on an etcd 3.4 cluster, for API servers on several machines sharing one state.
///
/// Every write is one etcd transaction whose compare carries the store's condition (the key is
/// absent for a create, present or at a given mod revision for an update or delete), so
/// optimistic concurrency is etcd's own and two API servers can never both win. etcd's
/// revision is the store's revision, its create/mod revisions the object's; a watch is an etcd
/// watch with prev_kv, resumed on another member if its member goes away.
public final class EtcdStore: Store {
    let client: EtcdClient

    /// `endpoints`: client URLs of the members, e.g. `http://127.0.0.1:2379`.
    public init(endpoints: [String]) throws(StoreError) {
        let cleaned = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.filter { !$0.isEmpty }
        guard !cleaned.isEmpty else { throw StoreError(.backend, "no etcd endpoints given") }
        for endpoint in cleaned where !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
            throw StoreError(.backend, "etcd endpoint \"\(endpoint)\" is not an http:// or https:// URL")
        }
        client = EtcdClient(endpoints: cleaned)
    }

    /// Closes the connections (call before dropping the store).
    public func close() async {
        await client.shutdown()
    }

    public func create(_ key: String, value: [UInt8]) async throws(StoreError) -> StoredObject {
        let reply = try await client.call("kv/txn", [
            "compare": [["key": Base64.encode(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"]],
            "success": [["request_put": ["key": Base64.encode(key), "value": Base64.encode(value)]]],
        ])
        guard reply["succeeded"]?.boolValue == true else { throw StoreError(.alreadyExists, "\(key) already exists") }
        let revision = reply[path: ["header", "revision"]]?.etcdInt ?? 0
        return StoredObject(key: key, value: value, createRevision: revision, modRevision: revision)
    }

    public func get(_ key: String) async throws(StoreError) -> StoredObject {
        let reply = try await client.call("kv/range", ["key": Base64.encode(key)])
        guard let kv = reply["kvs"]?.arrayValue?.first else { throw StoreError(.notFound, "\(key) not found") }
        return Self.object(kv)
    }

    public func update(_ key: String, value: [UInt8], ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        let reply = try await conditional(key, ifRevision, ["request_put": [
            "key": Base64.encode(key), "value": Base64.encode(value), "prev_kv": true]])
        let previous = reply["responses"]?.arrayValue?.first?[path: ["response_put", "prev_kv"]]
        return StoredObject(key: key, value: value, createRevision: previous?["create_revision"]?.etcdInt ?? 0,
                            modRevision: reply[path: ["header", "revision"]]?.etcdInt ?? 0)
    }

    public func delete(_ key: String, ifRevision: Int64?) async throws(StoreError) -> StoredObject {
        let reply = try await conditional(key, ifRevision, ["request_delete_range": [
            "key": Base64.encode(key), "prev_kv": true]])
        guard let previous = reply["responses"]?.arrayValue?.first?[path: ["response_delete_range", "prev_kvs"]]?
            .arrayValue?.first
        else { throw StoreError(.notFound, "\(key) not found") }
        var object = Self.object(previous)
        object.modRevision = reply[path: ["header", "revision"]]?.etcdInt ?? object.modRevision
        return object
    }

    /// A transaction doing `operation` if the key exists (at `ifRevision`, when given); when
    /// the compare fails, reads the key to tell "not found" from "conflict".
    private func conditional(_ key: String, _ ifRevision: Int64?, _ operation: JSONValue) async throws(StoreError) -> JSONValue {
        let compare: JSONValue = if let ifRevision {
            ["key": Base64.encode(key), "target": "MOD", "result": "EQUAL", "mod_revision": .string(String(ifRevision))]
        } else {
            ["key": Base64.encode(key), "target": "CREATE", "result": "GREATER", "create_revision": "0"]
        }
        let reply = try await client.call("kv/txn", [
            "compare": [compare],
            "success": [operation],
            "failure": [["request_range": ["key": Base64.encode(key)]]],
        ])
        if reply["succeeded"]?.boolValue == true { return reply }
        guard let current = reply["responses"]?.arrayValue?.first?[path: ["response_range", "kvs"]]?.arrayValue?.first
        else { throw StoreError(.notFound, "\(key) not found") }
        let revision = current["mod_revision"]?.etcdInt ?? 0
        throw StoreError(.conflict(current: revision), "\(key) has changed (now at revision \(revision))")
    }

    public func list(prefix: String, after: String?, limit: Int?) async throws(StoreError) -> ListPage {
        var request: JSONValue = [
            "key": Base64.encode(after.map { $0 + "\u{0}" } ?? prefix),
            "range_end": Base64.encode(Self.rangeEnd(of: prefix)),
        ]
        if let limit { request["limit"] = .string(String(limit)) }
        let reply = try await client.call("kv/range", request)
        let items = (reply["kvs"]?.arrayValue ?? []).map(Self.object)
        return ListPage(items: items, revision: reply[path: ["header", "revision"]]?.etcdInt ?? 0,
                        continueAfter: reply["more"]?.boolValue == true ? items.last?.key : nil)
    }

    public func currentRevision() async throws(StoreError) -> Int64 {
        // A count of one impossible key: the cheapest read that carries the header.
        let reply = try await client.call("kv/range", ["key": Base64.encode([0]), "count_only": true])
        return reply[path: ["header", "revision"]]?.etcdInt ?? 0
    }

    public func compact(through revision: Int64) async throws(StoreError) {
        // etcd's compaction at R keeps R itself; ours forgets it, so compact at R+1 when R+1
        // exists (etcd refuses a future revision).
        let current = try await currentRevision()
        let target = min(revision + 1, current)
        guard target > 0 else { return }
        _ = try await client.call("kv/compaction", ["revision": .string(String(target)), "physical": true])
    }

    /// Starts an etcd watch (with prev_kv) on the prefix from `revision + 1`. If its member
    /// goes away, the watch is reopened on another one from the revision after the last
    /// delivered, so the receiver sees no gap or duplicate. A compacted start ends the watch
    /// with `.compacted` (etcd says so only after the watch is created).
    public func watch(prefix: String, after revision: Int64,
                      deliver: @escaping @Sendable (WatchDelivery) -> Void) async throws(StoreError) -> StoreWatch {
        let client = self.client
        let task = Task {
            var next = revision + 1
            var failingSince: ContinuousClock.Instant?
            while !Task.isCancelled {
                let (index, endpoint) = client.watchEndpoint
                let request: JSONValue = ["create_request": [
                    "key": Base64.encode(prefix), "range_end": Base64.encode(Self.rangeEnd(of: prefix)),
                    "start_revision": .string(String(next)), "prev_kv": true,
                ]]
                do {
                    try await client.watchStream(endpoint, request) { message in
                        guard let result = message["result"] else {
                            throw StoreError(.backend, "etcd watch: \(message["error"]?["message"]?.stringValue ?? "bad message")")
                        }
                        failingSince = nil
                        if result["canceled"]?.boolValue == true {
                            let compacted = result["compact_revision"]?.etcdInt ?? 0
                            if compacted > 0 {
                                throw StoreError(.compacted(oldest: compacted),
                                                 "revision \(next - 1) has been compacted; the oldest kept is \(compacted)")
                            }
                            throw StoreError(.backend, "etcd canceled the watch: \(result["cancel_reason"]?.stringValue ?? "")")
                        }
                        for event in result["events"]?.arrayValue ?? [] {
                            let converted = Self.event(event)
                            guard converted.revision >= next else { continue }
                            deliver(.event(converted))
                            next = converted.revision + 1
                        }
                    }
                } catch let error as StoreError {
                    deliver(.end(error))
                    return
                } catch {
                    if Task.isCancelled { break }
                }
                // The member ended or broke the stream: resume on the next one.
                let now = ContinuousClock.now
                let since = failingSince ?? now
                failingSince = since
                if now - since > EtcdClient.patience {
                    deliver(.end(StoreError(.backend, "etcd watch: no member reachable")))
                    return
                }
                client.skip(index)
                try? await Task.sleep(for: .milliseconds(100))
            }
            deliver(.end(nil))
        }
        return StoreWatch { task.cancel() }
    }

    // MARK: - Conversions

    static func object(_ kv: JSONValue) -> StoredObject {
        StoredObject(key: String(decoding: Base64.decode(kv["key"]), as: UTF8.self), value: Base64.decode(kv["value"]),
                     createRevision: kv["create_revision"]?.etcdInt ?? 0, modRevision: kv["mod_revision"]?.etcdInt ?? 0)
    }

    static func event(_ event: JSONValue) -> StoreEvent {
        let kv = event["kv"] ?? .null
        let revision = kv["mod_revision"]?.etcdInt ?? 0
        if event["type"]?.stringValue == "DELETE" {
            // The deleted value is in prev_kv (the event's kv has only the key).
            var object = event["prev_kv"].map(object) ?? object(kv)
            object.modRevision = revision
            return StoreEvent(kind: .deleted, object: object, revision: revision)
        }
        let object = object(kv)
        if object.createRevision == object.modRevision {
            return StoreEvent(kind: .added, object: object, revision: revision)
        }
        return StoreEvent(kind: .modified, object: object, revision: revision,
                          previous: event["prev_kv"].map { Base64.decode($0["value"]) })
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
