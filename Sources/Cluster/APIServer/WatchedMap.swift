import APIMachinery
import JSON
import Storage
import Synchronization

/// What the server needs to know of one resource's live objects on a hot path, kept by the
/// server's own watch of the store (as kube-apiserver's admission plugins keep informers), so
/// a create need not read another object first: key → what `extract` takes from each object.
/// Only a hit is trusted: a key the map does not hold is read from the store by the caller,
/// so an object created a moment ago on another API server is never taken for missing.
final class WatchedMap<Value: Sendable>: Sendable {
    private let entries = Mutex<[String: Value]>([:])
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// The key and value for a live object; nil for an object to leave out.
    private let extract: @Sendable (JSONValue) -> (key: String, value: Value)?

    init(_ extract: @escaping @Sendable (JSONValue) -> (key: String, value: Value)?) { self.extract = extract }

    deinit { task.withLock { $0?.cancel() } }

    func value(_ key: String) -> Value? { entries.withLock { $0[key] } }

    /// Drops an entry this server is removing, before its watch says so.
    func forget(_ key: String) { _ = entries.withLock { $0.removeValue(forKey: key) } }

    /// Lists the objects, then follows their changes; starts over after any error.
    func start(store: any Store, resource: ResourceType) {
        let extract = extract
        let running = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    let (items, revision) = try await store.listAll(prefix: resource.keyPrefix)
                    var fresh: [String: Value] = [:]
                    for item in items {
                        if let object = try? JSONValue.parse(item.value), let (key, value) = extract(object) { fresh[key] = value }
                    }
                    self?.entries.withLock { $0 = fresh }
                    for try await event in try await store.watch(prefix: resource.keyPrefix, after: revision) {
                        guard let self, let object = try? JSONValue.parse(event.object.value) else { continue }
                        let entry = event.kind == .deleted ? nil : extract(object)
                        self.entries.withLock { entries in
                            if let entry {
                                entries[entry.key] = entry.value
                            } else if let key = Self.key(object) {
                                entries[key] = nil
                            }
                        }
                    }
                } catch {}
                // Until the watch is back, every caller reads from the store.
                self?.entries.withLock { $0.removeAll() }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        task.withLock { $0 = running }
    }

    /// "namespace/name", or the name of a cluster-scoped object.
    static func key(_ object: JSONValue) -> String? {
        guard let name = object.name else { return nil }
        return object.namespace.map { "\($0)/\(name)" } ?? name
    }
}

extension WatchedMap<Bool> {
    /// The namespaces that exist and are not being deleted (a create in one need not read it).
    static func activeNamespaces() -> WatchedMap<Bool> {
        WatchedMap { object in
            guard object.deletionTimestamp == nil, let name = object.name else { return nil }
            return (name, true)
        }
    }
}

extension WatchedMap<Bool?> {
    /// Each ServiceAccount's automountServiceAccountToken (nil when it says nothing), by
    /// "namespace/name": a pod's create need not read its account.
    static func serviceAccounts() -> WatchedMap<Bool?> {
        WatchedMap { object in
            guard let key = key(object) else { return nil }
            return (key, object["automountServiceAccountToken"]?.boolValue)
        }
    }
}
