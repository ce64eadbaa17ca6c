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
        /// Store key → the ClusterRole as last seen, for aggregation.
        var clusterRoles: [String: JSONValue] = [:]
        /// Store key → the revision of what the policy holds for it (its last write or its
        /// deletion), so an older event or listing never undoes a newer one.
        var revisions: [String: Int64] = [:]
        var loaded = false
    }
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)
    static let prefix = "/registry/rbac.authorization.k8s.io/"

    deinit { task.withLock { $0?.cancel() } }

    var policy: RBACPolicy { state.withLock { $0.policy } }

    /// Whether the first list has been read (until then nobody but system:masters is allowed).
    var isLoaded: Bool { state.withLock { $0.loaded } }

    /// Lists every RBAC object, then follows the changes; starts over after an error, keeping
    /// the last policy meanwhile (refusing everyone while the store hiccups would be worse).
    /// `aggregate` is called with the ClusterRoles whenever one changes.
    func start(store: any Store, aggregate: @escaping @Sendable ([JSONValue]) async -> Void) {
        let running = Task { [weak self] in
            while !Task.isCancelled {
                do {
                    guard let revision = try await self?.refresh(store: store) else { return }
                    await aggregate(self?.clusterRoles ?? [])
                    for try await event in try await store.watch(prefix: Self.prefix, after: revision) {
                        guard let self else { return }
                        let clusterRolesChanged = self.state.withLock { state in
                            Self.apply(&state, key: event.object.key, value: event.kind == .deleted ? nil : event.object.value,
                                       revision: event.revision)
                        } && event.object.key.hasPrefix(Self.prefix + "clusterroles/")
                        if clusterRolesChanged { await aggregate(self.clusterRoles) }
                    }
                } catch {}
                try? await Task.sleep(for: .seconds(1))
            }
        }
        task.withLock { $0 = running }
    }

    var clusterRoles: [JSONValue] { state.withLock { Array($0.clusterRoles.values) } }

    /// Reads every RBAC object now and folds in what is newer than what the cache holds
    /// (deleting what is gone): after a client changed RBAC objects through this server, its
    /// next request is judged by the change without waiting for the watch. Returns the
    /// listing's revision.
    @discardableResult
    func refresh(store: any Store) async throws -> Int64 {
        let (items, revision) = try await store.listAll(prefix: Self.prefix)
        state.withLock { state in
            let listed = Set(items.map(\.key))
            for key in state.revisions.keys where !listed.contains(key) {
                Self.apply(&state, key: key, value: nil, revision: revision)
            }
            for item in items { Self.apply(&state, key: item.key, value: item.value, revision: item.modRevision) }
            state.loaded = true
        }
        return revision
    }

    /// Folds one stored object (nil: deleted) at `revision` into the policy, by its key:
    /// `<prefix><plural>/[<namespace>/]<name>`. Returns whether anything changed.
    @discardableResult
    private static func apply(_ state: inout State, key: String, value: [UInt8]?, revision: Int64) -> Bool {
        // A deletion stays as a tombstone (its revision), so the watch replaying an older
        // write after a refresh saw the object gone cannot bring a revoked grant back.
        if let known = state.revisions[key], known >= revision { return false }
        state.revisions[key] = revision
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
            return false
        }
        return true
    }
}
