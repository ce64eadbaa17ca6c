import APIMachinery
import JSON
import Storage
import Synchronization

/// The resources this server serves: the built-in ones and those the stored
/// CustomResourceDefinitions define, kept by the server's own watch of the CRDs (as
/// kube-apiserver's apiextensions informer does), so every request routes against one
/// immutable snapshot without reading storage.
final class CustomResourceCache: Sendable {
    private struct State {
        var registry = ResourceRegistry.builtin
        /// Store key → the CRD as last seen (nil: deleted), with its revision, so an older
        /// event or listing never undoes a newer one.
        var crds: [String: (crd: JSONValue?, revision: Int64)] = [:]
        /// Compiled versions by CRD key and resourceVersion: a CRD's schema is parsed once.
        var compiled: [String: (revision: Int64, resources: [CustomResource])] = [:]
    }
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)
    static let prefix = "/registry/apiextensions.k8s.io/customresourcedefinitions/"

    deinit { task.withLock { $0?.cancel() } }

    var registry: ResourceRegistry { state.withLock { $0.registry } }

    /// Follows the CRDs from `revision` (what `refresh` read), starting over after an error
    /// and keeping the last registry meanwhile.
    func start(store: any Store, after revision: Int64) {
        let running = Task { [weak self] in
            var from = revision
            while !Task.isCancelled {
                do {
                    for try await event in try await store.watch(prefix: Self.prefix, after: from) {
                        guard let self else { return }
                        self.state.withLock { state in
                            Self.apply(&state, key: event.object.key, value: event.kind == .deleted ? nil : event.object.value,
                                       revision: event.revision)
                            Self.rebuild(&state)
                        }
                        from = event.revision
                    }
                } catch {}
                try? await Task.sleep(for: .seconds(1))
                guard let self else { return }
                if let listed = try? await self.refresh(store: store) { from = listed }
            }
        }
        task.withLock { $0 = running }
    }

    /// Reads every CRD now and folds in what is newer than the cache holds: at start (so a
    /// restarted server serves existing custom resources from its first request) and after
    /// a client's CRD write (so that client's next request sees the new resource). Returns
    /// the listing's revision.
    @discardableResult
    func refresh(store: any Store) async throws -> Int64 {
        let (items, revision) = try await store.listAll(prefix: Self.prefix)
        state.withLock { state in
            let listed = Set(items.map(\.key))
            for key in state.crds.keys where !listed.contains(key) { Self.apply(&state, key: key, value: nil, revision: revision) }
            for item in items { Self.apply(&state, key: item.key, value: item.value, revision: item.modRevision) }
            Self.rebuild(&state)
        }
        return revision
    }

    private static func apply(_ state: inout State, key: String, value: [UInt8]?, revision: Int64) {
        if let known = state.crds[key], known.revision >= revision { return }
        state.crds[key] = (value.flatMap { try? JSONValue.parse($0) }, revision)
    }

    private static func rebuild(_ state: inout State) {
        var custom: [CustomResource] = []
        for (key, entry) in state.crds.sorted(by: { $0.key < $1.key }) {
            guard let crd = entry.crd else {
                state.compiled[key] = nil
                continue
            }
            if let compiled = state.compiled[key], compiled.revision == entry.revision {
                custom += compiled.resources
                continue
            }
            let resources = CustomResourceDefinitions.resources(of: crd)
            state.compiled[key] = (entry.revision, resources)
            custom += resources
        }
        state.registry = ResourceRegistry(builtin: .builtin, custom: custom)
    }
}
