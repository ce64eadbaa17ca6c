public import APIMachinery
import Synchronization

/// A change the informer applied to its cache.
public enum InformerEvent<T: APIObject>: Sendable {
    case added(T)
    case updated(old: T, new: T)
    /// The last state known; after a relist, the state before the object went away unseen.
    case deleted(T)

    /// The object as it is now (for a deletion, as it was last).
    public var object: T {
        switch self {
        case .added(let o), .deleted(let o): o
        case .updated(_, let o): o
        }
    }
}

/// Keeps a local copy of one resource's objects and tells of every change, the way every
/// Netplane daemon watches the API: list, then watch from the list's resourceVersion;
/// when the watch ends or breaks, watch again from the last resourceVersion seen (bookmarks
/// included); when the server answers 410 Gone (history compacted), list again and report
/// the difference. Indexers give lookups by any computed value (a pod's node, a slice's
/// service).
public final class Informer<T: APIObject>: Sendable {
    public typealias IndexFunction = @Sendable (T) -> [String]

    let client: APIClient
    /// What it lists and watches (T's own resource for a kind built in).
    public let resource: ResourceType
    let namespace: String?
    let options: ListOptions
    let indexers: [String: IndexFunction]
    let handler: @Sendable (InformerEvent<T>) -> Void
    let cache: Mutex<Cache>
    let counters = Mutex<Counters>(Counters())

    struct Cache {
        var objects: [String: T] = [:]
        /// index name -> index value -> cache keys.
        var indices: [String: [String: Set<String>]] = [:]
        var synced = false
        var resourceVersion = ""
    }

    /// How often the informer listed and watched (for tests and metrics).
    public struct Counters: Sendable {
        public var lists = 0
        public var watches = 0
    }

    /// `handler` is called for each change, in order, on the informer's task.
    public init(_ client: APIClient, resource: ResourceType, namespace: String? = nil, options: ListOptions = .init(),
                indexers: [String: IndexFunction] = [:],
                handler: @escaping @Sendable (InformerEvent<T>) -> Void = { _ in }) {
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.options = options
        self.indexers = indexers
        self.handler = handler
        var cache = Cache()
        for name in indexers.keys { cache.indices[name] = [:] }
        self.cache = Mutex(cache)
    }

    // MARK: - Reading the cache

    public var hasSynced: Bool { cache.withLock { $0.synced } }
    /// The resourceVersion the cache is at.
    public var resourceVersion: String { cache.withLock { $0.resourceVersion } }
    public var stats: Counters { counters.withLock { $0 } }

    public func get(namespace: String? = nil, name: String) -> T? {
        let key = namespace.map { "\($0)/\(name)" } ?? name
        return cache.withLock { $0.objects[key] }
    }

    /// Every object, in key order (sorted by the cache's keys: a key computed from each
    /// object's JSON at every comparison made this the hot spot of large controllers).
    public func list() -> [T] {
        cache.withLock { cache in cache.objects.keys.sorted().compactMap { cache.objects[$0] } }
    }

    /// The objects whose indexer `index` gives `value`, in key order.
    public func byIndex(_ index: String, _ value: String) -> [T] {
        cache.withLock { cache in
            (cache.indices[index]?[value] ?? []).sorted().compactMap { cache.objects[$0] }
        }
    }

    /// Waits until the first list has filled the cache (false if `timeout` passes first).
    public func waitForSync(timeout: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !hasSynced {
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    // MARK: - Running

    /// Lists and watches until the task is cancelled.
    public func run() async {
        var backoff = Duration.milliseconds(100)
        var needsList = true
        while !Task.isCancelled {
            do throws(ClientError) {
                if needsList {
                    try await relist()
                    needsList = false
                }
                counters.withLock { $0.watches += 1 }
                let stream = client.watch(resource, namespace: namespace, options: options,
                                          resourceVersion: resourceVersion)
                do {
                    for try await event in stream {
                        if try apply(event) { backoff = .milliseconds(100) }
                    }
                } catch let error as ClientError {
                    throw error
                } catch {
                    throw .transport("\(error)")
                }
                // The server ended the watch (its timeout): watch again at once.
                continue
            } catch {
                if error.isGone {
                    needsList = true
                    continue
                }
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// Applies one watch event; returns whether it was a change or bookmark (a live watch).
    private func apply(_ event: WatchEvent) throws(ClientError) -> Bool {
        switch event.kind {
        case .error:
            let code = event.object["code"]?.intValue ?? 500
            throw .status(code: code, reason: event.object["reason"]?.stringValue ?? "",
                          message: event.object["message"]?.stringValue ?? "")
        case .bookmark:
            if let rv = event.object.resourceVersion { cache.withLock { $0.resourceVersion = rv } }
        case .added, .modified:
            let object = T(json: event.object)
            let old = cache.withLock { cache in
                let old = upsert(&cache, object)
                cache.resourceVersion = object.resourceVersion
                return old
            }
            handler(old.map { .updated(old: $0, new: object) } ?? .added(object))
        case .deleted:
            let object = T(json: event.object)
            let removed = cache.withLock { cache in
                let removed = remove(&cache, object.cacheKey)
                cache.resourceVersion = object.resourceVersion
                return removed
            }
            if removed != nil { handler(.deleted(object)) }
        }
        return true
    }

    /// Lists every object and replaces the cache with them, reporting the difference.
    private func relist() async throws(ClientError) {
        counters.withLock { $0.lists += 1 }
        var listOptions = options
        listOptions.limit = 500
        let list = try await client.listAll(resource, namespace: namespace, options: listOptions)
        let fresh = list.items.map(T.init(json:))
        var events: [InformerEvent<T>] = []
        cache.withLock { cache in
            var gone = Set(cache.objects.keys)
            for object in fresh {
                gone.remove(object.cacheKey)
                if let old = upsert(&cache, object) {
                    if old.resourceVersion != object.resourceVersion { events.append(.updated(old: old, new: object)) }
                } else {
                    events.append(.added(object))
                }
            }
            for key in gone.sorted() {
                if let old = remove(&cache, key) { events.append(.deleted(old)) }
            }
            cache.resourceVersion = list.resourceVersion
            cache.synced = true
        }
        for event in events { handler(event) }
    }

    // MARK: - Cache and indices

    private func upsert(_ cache: inout Cache, _ object: T) -> T? {
        let key = object.cacheKey
        let old = remove(&cache, key)
        cache.objects[key] = object
        for (name, function) in indexers {
            for value in function(object) { cache.indices[name, default: [:]][value, default: []].insert(key) }
        }
        return old
    }

    private func remove(_ cache: inout Cache, _ key: String) -> T? {
        guard let old = cache.objects.removeValue(forKey: key) else { return nil }
        for (name, function) in indexers {
            for value in function(old) {
                cache.indices[name]?[value]?.remove(key)
                if cache.indices[name]?[value]?.isEmpty == true { cache.indices[name]?[value] = nil }
            }
        }
        return old
    }
}

extension Informer where T: KubernetesObject {
    /// An informer of T's resource.
    public convenience init(_ client: APIClient, namespace: String? = nil, options: ListOptions = .init(),
                            indexers: [String: IndexFunction] = [:],
                            handler: @escaping @Sendable (InformerEvent<T>) -> Void = { _ in }) {
        self.init(client, resource: T.resource, namespace: namespace, options: options, indexers: indexers, handler: handler)
    }
}
