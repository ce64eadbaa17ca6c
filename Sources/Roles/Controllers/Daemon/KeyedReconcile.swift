import Client
import DaemonRuntime

/// One pass of a controller that reconciles an object per key ("namespace/name"): each key
/// synced in order; a conflict, a missing object or a name already taken means the cache was
/// behind, so the key is marked to be looked at again; any other failure fails the pass (the
/// sync loop retries it with back-off) after every other key had its turn.
func reconcile(_ keys: Set<String>, _ work: WorkQueue, _ what: String,
               _ sync: (String) async throws(ClientError) -> Void) async throws {
    var failed: [String] = []
    for key in keys.sorted() {
        do throws(ClientError) { try await sync(key) } catch {
            if error.isConflict || error.isNotFound || error.isAlreadyExists {
                work.mark(key)
                continue
            }
            failed.append("\(key): \(error)")
        }
    }
    if !failed.isEmpty { throw DaemonError(message: "\(what): \(failed.joined(separator: "; "))") }
}

/// Runs a controller that reconciles one object per key: once its caches have synced, every
/// pass reconciles the dirty keys, and a full pass also every key `all` lists.
func runKeyed(_ daemon: Daemon, _ loop: SyncLoop, _ work: WorkQueue, _ what: String, all: () -> [String],
              _ sync: (String) async throws(ClientError) -> Void) async throws {
    guard await daemon.cachesSynced() else { return }
    try await loop.run(setup: {}) { _, pass in
        let keys = pass.full ? Set(all()).union(pass.dirty) : pass.dirty
        try await reconcile(keys, work, what, sync)
    }
}

/// "namespace/name" as its two parts (nil for a key without a namespace).
func namespaceAndName(_ key: String) -> (namespace: String, name: String)? {
    let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
    return parts.count == 2 ? (parts[0], parts[1]) : nil
}
