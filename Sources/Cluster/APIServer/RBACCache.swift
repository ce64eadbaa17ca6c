import APIMachinery
import Authorization
import JSON
import Storage
import Synchronization

/// The cluster's Roles, ClusterRoles and bindings as one `RBACPolicy`, kept by the server's
/// own watch of the store (kube-apiserver's RBAC authorizer reads informers the same way), so
/// judging a request reads no storage. ClusterRoles with an aggregationRule get their rules
/// written here too (the clusterrole-aggregation controller's job, run beside the cache that
/// already sees every ClusterRole change).
final class RBACCache: Sendable {
    private struct State {
        var policy = RBACPolicy()
        /// Store key → the object as last seen, for aggregation and ordering.
        var clusterRoles: [String: JSONValue] = [:]
        var revision: Int64 = 0
        var loaded = false
    }
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)
    static let prefix = "/registry/rbac.authorization.k8s.io/"

    deinit { task.withLock { $0?.cancel() } }

    var policy: RBACPolicy { state.withLock { $0.policy } }
    var revision: Int64 { state.withLock { $0.revision } }

    /// Lists every RBAC object, then follows the changes; starts over after an error, keeping
    /// the last policy meanwhile (refusing everyone while the store hiccups would be worse).
    /// `aggregate` is called with the ClusterRoles whenever one changes.
    func start(store: any Store, aggregate: @escaping @Sendable ([JSONValue]) async -> Void) {
        let running = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    var items: [StoredObject] = []
                    var after: String?
                    var revision: Int64 = 0
                    repeat {
                        let page = try await store.list(prefix: Self.prefix, after: after, limit: 500)
                        items += page.items
                        revision = page.revision
                        after = page.continueAfter
                    } while after != nil
                    guard let self else { return }
                    self.state.withLock { state in
                        state = State()
                        for item in items { Self.apply(&state, key: item.key, value: item.value) }
                        state.revision = revision
                        state.loaded = true
                    }
                    await aggregate(self.state.withLock { Array($0.clusterRoles.values) })
                    for try await event in try await store.watch(prefix: Self.prefix, after: revision) {
                        let clusterRolesChanged = self.state.withLock { state in
                            Self.apply(&state, key: event.object.key, value: event.kind == .deleted ? nil : event.object.value)
                            state.revision = max(state.revision, event.revision)
                            return event.object.key.hasPrefix(Self.prefix + "clusterroles/")
                        }
                        if clusterRolesChanged { await aggregate(self.state.withLock { Array($0.clusterRoles.values) }) }
                    }
                } catch {}
                try? await Task.sleep(for: .seconds(1))
            }
        }
        task.withLock { $0 = running }
    }

    /// Waits (at most `limit`) until the cache has seen `revision`: a client that just wrote a
    /// binding is judged by it on its next request, on this server.
    func wait(forRevision revision: Int64, limit: Duration = .seconds(2)) async {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if state.withLock({ $0.loaded && $0.revision >= revision }) { return }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Whether the first list has been read (until then nobody but system:masters is allowed).
    var isLoaded: Bool { state.withLock { $0.loaded } }

    /// Folds one stored object (nil: deleted) into the policy, by its key:
    /// `<prefix><plural>/[<namespace>/]<name>`.
    private static func apply(_ state: inout State, key: String, value: [UInt8]?) {
        let parts = key.dropFirst(prefix.count).split(separator: "/").map(String.init)
        let object = value.flatMap { try? JSONValue.parse($0) }
        switch (parts.first, parts.count) {
        case ("clusterroles", 2):
            state.clusterRoles[key] = object
            state.policy.setClusterRole(parts[1], rules: object.map { RBACObjects.rules(of: $0, clusterScoped: true).rules })
        case ("roles", 3):
            state.policy.setRole(namespace: parts[1], parts[2], rules: object.map { RBACObjects.rules(of: $0, clusterScoped: false).rules })
        case ("clusterrolebindings", 2):
            state.policy.setBinding(namespace: "", name: parts[1], object.flatMap { RBACObjects.binding($0, namespace: "").binding })
        case ("rolebindings", 3):
            state.policy.setBinding(namespace: parts[1], name: parts[2], object.flatMap { RBACObjects.binding($0, namespace: parts[1]).binding })
        default:
            break
        }
    }
}
