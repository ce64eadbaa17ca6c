import Client
import Foundation
import JSON
import NetplaneTestSupport
import Storage
import Synchronization
import Testing

/// The Client module against a real `netplane apiserver`: typed verbs, watch, and the
/// informer's list/watch/resume/relist cycle.
@Suite(.serialized) struct ClientModuleTests {
    /// Runs `body` with a client made from the server's kubeconfig, shutting it down after.
    func withClient<R>(_ api: RunningAPIServer, _ body: (APIClient) async throws -> R) async throws -> R {
        let client = try APIClient(try ClientConfig.kubeconfig(api.kubeconfig))
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    func error(_ body: () async throws -> Void) async -> ClientError? {
        do { try await body(); return nil } catch let error as ClientError { return error } catch { return nil }
    }

    /// Polls `condition` for up to 10 seconds.
    func eventually(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<1000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test(arguments: Backend.allCases) func typedVerbsAndErrors(_ backend: Backend) async throws {
        let api = try RunningAPIServer(backend: backend)
        try await withClient(api) { client in
            #expect(client.config.namespace == "default")
            var cm = ConfigMap(name: "settings", namespace: "default", labels: ["app": "web"])
            cm.data = ["mode": "fast"]
            let created = try await client.create(cm)
            #expect(created.uid.count > 0 && created.resourceVersion.count > 0 && created.data == ["mode": "fast"])
            #expect(await error { _ = try await client.create(cm) }?.isAlreadyExists == true)

            var edited = created
            edited.data = ["mode": "slow"]
            let updated = try await client.update(edited)
            #expect(updated.data == ["mode": "slow"] && updated.resourceVersion != created.resourceVersion)
            // The first version's resourceVersion is stale now: 409 Conflict, nothing changed.
            let stale = await error { _ = try await client.update(edited) }
            #expect(stale?.isConflict == true, "\(String(describing: stale))")
            #expect(try await client.get(ConfigMap.self, namespace: "default", name: "settings").data == ["mode": "slow"])

            let patched = try await client.patch(ConfigMap.self, namespace: "default", name: "settings",
                                                 ["metadata": ["labels": ["tier": "front"]]])
            #expect(patched.labels == ["app": "web", "tier": "front"])
            _ = try await client.create(ConfigMap(name: "other", namespace: "default", labels: ["app": "db"]))
            let web = try await client.list(ConfigMap.self, namespace: "default", options: .init(labelSelector: "app in (web)"))
            #expect(web.map(\.name) == ["settings"])

            try await client.delete(ConfigMap.self, namespace: "default", name: "settings")
            #expect(await error { _ = try await client.get(ConfigMap.self, namespace: "default", name: "settings") }?.isNotFound == true)
            let invalid = await error { _ = try await client.create(ConfigMap(name: "Not_Valid", namespace: "default")) }
            #expect(invalid?.code == 422)
        }
        // A wrong token is refused with 401.
        var config = try ClientConfig.kubeconfig(api.kubeconfig)
        config.token = "wrong"
        let stranger = try APIClient(config)
        let refused = await error { _ = try await stranger.list(ConfigMap.self) }
        await stranger.shutdown()
        #expect(refused?.code == 401)
    }

    @Test func informerKeepsCacheIndicesAndReportsChanges() async throws {
        let api = try RunningAPIServer()
        try await withClient(api) { client in
            for i in 0..<5 {
                _ = try await client.create(ConfigMap(name: "cm\(i)", namespace: "default", labels: ["app": i < 3 ? "web" : "db"]))
            }
            let seen = Mutex<[String]>([])
            let informer = Informer<ConfigMap>(client, namespace: "default",
                                               indexers: ["app": { [$0.labels["app"] ?? ""] }]) { event in
                let line = switch event {
                case .added(let o): "added \(o.name)"
                case .updated(_, let o): "updated \(o.name)"
                case .deleted(let o): "deleted \(o.name)"
                }
                seen.withLock { $0.append(line) }
            }
            let running = Task { await informer.run() }
            defer { running.cancel() }
            #expect(await informer.waitForSync())
            // Every namespace also holds its kube-root-ca.crt (the server's CA, as in Kubernetes).
            #expect(informer.list().map(\.name) == ["cm0", "cm1", "cm2", "cm3", "cm4", "kube-root-ca.crt"])
            #expect(informer.byIndex("app", "web").map(\.name) == ["cm0", "cm1", "cm2"])

            _ = try await client.create(ConfigMap(name: "cm5", namespace: "default", labels: ["app": "web"]))
            _ = try await client.patch(ConfigMap.self, namespace: "default", name: "cm0", ["metadata": ["labels": ["app": "db"]]])
            try await client.delete(ConfigMap.self, namespace: "default", name: "cm4")
            #expect(await eventually { seen.withLock { $0.count } == 9 })
            #expect(seen.withLock { $0 } == (0..<5).map { "added cm\($0)" } + ["added kube-root-ca.crt", "added cm5", "updated cm0", "deleted cm4"])
            #expect(informer.byIndex("app", "web").map(\.name) == ["cm1", "cm2", "cm5"])
            #expect(informer.byIndex("app", "db").map(\.name) == ["cm0", "cm3"])
            #expect(informer.get(namespace: "default", name: "cm4") == nil)
            #expect(informer.stats.lists == 1)
        }
    }

    /// A ConfigMap as the API server stores it (no resourceVersion: that is the store's).
    static func storedConfigMap(_ name: String) -> [UInt8] {
        JSONValue.object([
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": .string(name), "namespace": "default", "uid": .string("uid-\(name)"),
                         "creationTimestamp": "2026-11-24T00:00:00Z"],
            "data": ["written": "while the server was down"],
        ]).jsonBytes()
    }

    @Test func informerResumesAfterARestartAndRelistsAfterCompaction() async throws {
        let listen = "127.0.0.1:\(try EtcdCluster.freePort())"
        // The test's own data directory: it outlives each of the three servers.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-apiserver-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var api: RunningAPIServer? = try RunningAPIServer(dataDir: dir, listen: listen)
        let client = try APIClient(try ClientConfig.kubeconfig(api!.kubeconfig))
        defer { Task { await client.shutdown() } }
        for i in 0..<3 { _ = try await client.create(ConfigMap(name: "cm\(i)", namespace: "default")) }
        let deletions = Mutex<[String]>([])
        let informer = Informer<ConfigMap>(client, namespace: "default") { event in
            if case .deleted(let o) = event { deletions.withLock { $0.append(o.name) } }
        }
        let running = Task { await informer.run() }
        defer { running.cancel() }
        #expect(await informer.waitForSync())

        // Server down; changes are made straight in its database; server back on the same
        // address: the informer resumes its watch from the last resourceVersion, no relist.
        api!.stop()
        api = nil
        do {
            let store = try SQLiteStore(path: dir + "/state.db")
            _ = try await store.create("/registry/core/configmaps/default/offline1", value: Self.storedConfigMap("offline1"))
            _ = try await store.delete("/registry/core/configmaps/default/cm0", ifRevision: nil)
        }
        api = try RunningAPIServer(dataDir: dir, listen: listen)
        #expect(await eventually { informer.list().map(\.name) == ["cm1", "cm2", "kube-root-ca.crt", "offline1"] }, "\(informer.list().map(\.name))")
        #expect(informer.stats.lists == 1 && informer.stats.watches >= 2)
        #expect(deletions.withLock { $0 } == ["cm0"])

        // Again, but this time the history the informer would resume from is compacted: the
        // server answers 410 Gone, the informer lists again and reports what went away.
        api!.stop()
        api = nil
        do {
            let store = try SQLiteStore(path: dir + "/state.db")
            _ = try await store.create("/registry/core/configmaps/default/offline2", value: Self.storedConfigMap("offline2"))
            _ = try await store.delete("/registry/core/configmaps/default/cm1", ifRevision: nil)
            try await store.compact(through: try await store.currentRevision())
        }
        api = try RunningAPIServer(dataDir: dir, listen: listen)
        #expect(await eventually { informer.list().map(\.name) == ["cm2", "kube-root-ca.crt", "offline1", "offline2"] }, "\(informer.list().map(\.name))")
        #expect(informer.stats.lists == 2)
        #expect(deletions.withLock { $0 } == ["cm0", "cm1"])
        api!.stop()
    }

    @Test(arguments: Backend.allCases) func historyIsCompactedOnSchedule(_ backend: Backend) async throws {
        let api = try RunningAPIServer(backend: backend, extraArgs: ["--compaction-interval", "0.3"])
        try await withClient(api) { client in
            let first = try await client.create(ConfigMap(name: "early", namespace: "default"))
            // Writes go on while the rounds run (etcd cannot forget the newest revision).
            for i in 0..<6 {
                _ = try await client.create(ConfigMap(name: "late\(i)", namespace: "default"))
                try await Task.sleep(for: .seconds(0.2))
            }
            // The rounds since have compacted the changes after `early`: a watch from early's
            // resourceVersion gets 410 Gone as an ERROR event.
            var events: [WatchEvent] = []
            for try await event in client.watch(ConfigMap.resource, namespace: "default", resourceVersion: first.resourceVersion,
                                                timeoutSeconds: 5) {
                events.append(event)
                if event.kind == .error || events.count > 5 { break }
            }
            #expect(events.first?.kind == .error && events.first?.object["code"]?.intValue == 410, "\(events.map(\.kind))")
            // A list is unaffected (seven, and the namespace's kube-root-ca.crt).
            #expect(try await client.list(ConfigMap.self, namespace: "default").count == 8)
        }
    }
}
