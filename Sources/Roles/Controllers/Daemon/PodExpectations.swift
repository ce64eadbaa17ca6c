import APITypes
import Client
import JSON
import Synchronization

/// The pods a controller has just created or deleted for an owner, until its cache shows
/// them so (kube-controller-manager's expectations): while any is unseen the owner is not
/// acted on again, so a lagging cache never makes a controller create or delete twice.
/// After 30 s unseen, they are forgotten (the cache is trusted again).
final class PodExpectations: Sendable {
    struct Entry {
        var creating: Set<String> = []
        var deleting: Set<String> = []
        var since = ContinuousClock.now
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Whether the cache (the owner's namespace's pods) shows everything expected for `owner`.
    func satisfied(_ owner: String, cached: [Pod]) -> Bool {
        let present = Dictionary(cached.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        return entries.withLock { all in
            guard var e = all[owner] else { return true }
            e.creating = e.creating.filter { present[$0] == nil }
            e.deleting = e.deleting.filter { name in present[name].map { $0.deletionTimestamp == nil } ?? false }
            if (e.creating.isEmpty && e.deleting.isEmpty) || ContinuousClock.now - e.since > .seconds(30) {
                all[owner] = nil
                return true
            }
            all[owner] = e
            return false
        }
    }

    func expect(_ owner: String, creating: Set<String> = [], deleting: Set<String> = []) {
        guard !creating.isEmpty || !deleting.isEmpty else { return }
        entries.withLock { all in
            var e = all[owner] ?? Entry()
            e.creating.formUnion(creating)
            e.deleting.formUnion(deleting)
            e.since = .now
            all[owner] = e
        }
    }

    /// Creates `bodies` and deletes `doomed` (only the pod of that uid; one gone already is no
    /// error) for `owner`, expecting each as it is done, so a failure halfway leaves the done
    /// part expected. Returns how many were created and deleted.
    func apply(_ owner: String, create bodies: [JSONValue], delete doomed: [Pod],
               with client: APIClient) async throws(ClientError) -> (created: Int, deleted: Int) {
        var made: Set<String> = [], gone: Set<String> = []
        defer { expect(owner, creating: made, deleting: gone) }
        for body in bodies {
            let pod = try await client.create(Pod.resource, body)
            made.insert(pod.name ?? "")
        }
        for pod in doomed {
            do { try await client.delete(Pod.resource, namespace: pod.namespace, name: pod.name, uid: pod.uid) } catch {
                if !error.isNotFound { throw error }
            }
            gone.insert(pod.name)
        }
        return (made.count, gone.count)
    }
}

extension APIClient {
    /// Writes `status` through the object's status subresource unless it already has it.
    func writeStatus<T: KubernetesObject>(_ object: T, _ status: JSONValue) async throws(ClientError) {
        guard object.json["status"] != status else { return }
        var updated = object
        updated.json["status"] = status
        _ = try await updateStatus(updated)
    }
}
