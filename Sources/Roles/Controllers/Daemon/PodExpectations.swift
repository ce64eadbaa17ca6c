import APITypes
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
}
