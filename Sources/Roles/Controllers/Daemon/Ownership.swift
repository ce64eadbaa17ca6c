import APIMachinery
import Client
import DaemonRuntime
import JSON
import Synchronization

extension APIClient {
    /// Makes `owner` the controller of an orphan `object` (kube's controller-ref manager),
    /// conditional on the object being as the cache showed it.
    func adopt<T: KubernetesObject, Owner: KubernetesObject>(_ object: T, by owner: Owner) async throws(ClientError) {
        let refs = object.ownerReferences.map(\.json) + [OwnerReference(controlledBy: owner).json]
        _ = try await patch(T.self, namespace: object.namespace, name: object.name,
                            ["metadata": ["resourceVersion": .string(object.resourceVersion), "ownerReferences": .array(refs)]])
    }

    /// Takes `owner` off `object`'s owners (its selector no longer matches), conditional on
    /// the object being as the cache showed it.
    func release<T: KubernetesObject, Owner: KubernetesObject>(_ object: T, from owner: Owner) async throws(ClientError) {
        let refs = object.ownerReferences.filter { $0.uid != owner.uid }.map(\.json)
        _ = try await patch(T.self, namespace: object.namespace, name: object.name,
                            ["metadata": ["resourceVersion": .string(object.resourceVersion),
                                          "ownerReferences": refs.isEmpty ? .null : .array(refs)]])
    }
}

/// Wakes a controller for a key at a moment no event announces (a Job's deadline, a TTL, a
/// StatefulSet pod becoming available, a cron time, a toleration running out): one timer per
/// key and time, marking the key on the work queue `slack` after the moment (the plans count
/// in whole seconds, so the next pass must see the moment passed).
final class Rechecks: Sendable {
    let work: WorkQueue
    let slack: Duration
    private let pending = Mutex<[String: Int]>([:])

    init(_ work: WorkQueue, slack: Duration = .seconds(1)) {
        self.work = work
        self.slack = slack
    }

    /// Looks at `key` again at `at` (Unix seconds; nil: never).
    func schedule(_ key: String, at: Int?, now: Int) {
        guard let at, pending.withLock({ $0.updateValue(at, forKey: key) != at }) else { return }
        Task { [self] in
            try? await Task.sleep(for: .seconds(max(0, at - now)) + slack)
            pending.withLock { if $0[key] == at { $0[key] = nil } }
            work.mark(key)
        }
    }
}
