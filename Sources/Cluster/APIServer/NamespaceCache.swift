import APIMachinery
import JSON
import Storage
import Synchronization

/// The namespaces that exist and are not being deleted, kept by the server's own watch of the
/// store, so a create in a namespace need not read the namespace first (one store round trip
/// less per create; kube-apiserver's namespace lifecycle admission uses an informer the same
/// way). Only a positive answer is trusted: a namespace the cache does not know is read from
/// the store, so one created a moment ago on another API server is never refused.
final class NamespaceCache: Sendable {
    private let active = Mutex<Set<String>>([])
    private let task = Mutex<Task<Void, Never>?>(nil)

    deinit { task.withLock { $0?.cancel() } }

    func isActive(_ name: String) -> Bool { active.withLock { $0.contains(name) } }

    /// Drops a namespace this server is deleting, before its watch says so.
    func forget(_ name: String) { _ = active.withLock { $0.remove(name) } }

    /// Lists the namespaces, then follows their changes; starts over after any error.
    func start(store: any Store, resource: ResourceType) {
        let running = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    let page = try await store.list(prefix: resource.keyPrefix, after: nil, limit: nil)
                    let names = page.items.compactMap { item -> String? in
                        guard let object = try? JSONValue.parse(item.value), object.deletionTimestamp == nil else { return nil }
                        return object.name
                    }
                    self?.active.withLock { $0 = Set(names) }
                    for try await event in try await store.watch(prefix: resource.keyPrefix, after: page.revision) {
                        guard let self, let object = try? JSONValue.parse(event.object.value), let name = object.name else { continue }
                        let live = event.kind != .deleted && object.deletionTimestamp == nil
                        self.active.withLock { active in
                            if live { active.insert(name) } else { active.remove(name) }
                        }
                    }
                } catch {}
                // Until the watch is back, every create reads its namespace from the store.
                self?.active.withLock { $0.removeAll() }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        task.withLock { $0 = running }
    }
}
