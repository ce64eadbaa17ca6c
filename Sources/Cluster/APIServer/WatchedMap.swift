import APIMachinery
import Authorization
import JSON
import Storage
import Synchronization

/// What the server needs to know of one resource's live objects on a hot path, kept by the
/// server's own watch of the store (as kube-apiserver's admission plugins keep informers), so
/// a create need not read another object first: key → what `extract` takes from each object.
/// Only a hit is trusted: a key the map does not hold is read from the store by the caller,
/// so an object created a moment ago on another API server is never taken for missing.
final class WatchedMap<Value: Sendable>: Sendable {
    /// The entries, and how many of them give each index key.
    struct Contents {
        var entries: [String: Value] = [:]
        var index: [String: Int] = [:]
    }

    private let contents = Mutex(Contents())
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// The key and value for a live object; nil for an object to leave out.
    private let extract: @Sendable (JSONValue) -> (key: String, value: Value)?
    /// The keys a value is found by through `isIndexed` (none by default).
    private let indexKeys: @Sendable (Value) -> [String]

    init(indexedBy indexKeys: @escaping @Sendable (Value) -> [String] = { _ in [] },
         _ extract: @escaping @Sendable (JSONValue) -> (key: String, value: Value)?) {
        self.extract = extract
        self.indexKeys = indexKeys
    }

    deinit { task.withLock { $0?.cancel() } }

    func value(_ key: String) -> Value? { contents.withLock { $0.entries[key] } }

    /// Whether some entry's value gives this index key (a miss is no answer: see above).
    func isIndexed(_ key: String) -> Bool { contents.withLock { ($0.index[key] ?? 0) > 0 } }

    /// Drops an entry this server is removing, before its watch says so.
    func forget(_ key: String) { contents.withLock { set(&$0, key, nil) } }

    /// Sets or removes one entry, keeping the index in step.
    private func set(_ contents: inout Contents, _ key: String, _ value: Value?) {
        if let old = contents.entries.removeValue(forKey: key) {
            for k in indexKeys(old) {
                let left = (contents.index[k] ?? 1) - 1
                contents.index[k] = left > 0 ? left : nil
            }
        }
        guard let value else { return }
        contents.entries[key] = value
        for k in indexKeys(value) { contents.index[k, default: 0] += 1 }
    }

    /// Lists the objects, then follows their changes; starts over after any error.
    func start(store: any Store, resource: ResourceType) {
        let extract = extract
        let running = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    let (items, revision) = try await store.listAll(prefix: resource.keyPrefix)
                    var fresh: [(String, Value)] = []
                    for item in items {
                        if let object = try? JSONValue.parse(item.value), let (key, value) = extract(object) { fresh.append((key, value)) }
                    }
                    self?.contents.withLock { contents in
                        contents = Contents()
                        for (key, value) in fresh { self?.set(&contents, key, value) }
                    }
                    for try await event in try await store.watch(prefix: resource.keyPrefix, after: revision) {
                        guard let self, let object = try? JSONValue.parse(event.object.value) else { continue }
                        let entry = event.kind == .deleted ? nil : extract(object)
                        self.contents.withLock { contents in
                            if let entry {
                                self.set(&contents, entry.key, entry.value)
                            } else if let key = Self.key(object) {
                                self.set(&contents, key, nil)
                            }
                        }
                    }
                } catch {}
                // Until the watch is back, every caller reads from the store.
                self?.contents.withLock { $0 = Contents() }
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

/// What the Node authorizer asks of a pod: the Secrets, ConfigMaps and ServiceAccount it
/// uses on its node, as index keys.
struct PodUses: Sendable {
    var keys: [String]

    /// The index key of "a pod on `node` in `namespace` uses `kind` `name`".
    static func key(node: String, namespace: String, _ kind: PodReferences.Kind, _ name: String) -> String {
        "\(node)\u{0}\(namespace)\u{0}\(kind)\u{0}\(name)"
    }
}

extension WatchedMap<PodUses> {
    /// Every bound pod's uses, found by node, namespace, kind and name: a node agent's read of
    /// a Secret or ConfigMap is judged without listing the namespace's pods.
    static func podUses() -> WatchedMap<PodUses> {
        WatchedMap(indexedBy: { $0.keys }) { pod in
            guard let key = key(pod), let namespace = pod.namespace,
                  let node = pod[path: ["spec", "nodeName"]]?.stringValue, !node.isEmpty else { return nil }
            var keys: [String] = []
            for kind in [PodReferences.Kind.secret, .configMap, .serviceAccount] {
                for name in PodReferences.names(pod, kind) { keys.append(PodUses.key(node: node, namespace: namespace, kind, name)) }
            }
            return (key, PodUses(keys: keys))
        }
    }
}
