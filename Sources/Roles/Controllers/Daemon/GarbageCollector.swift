import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging
import Synchronization

/// The garbage collector of `netplane controllers`: watches the kinds that own or are owned
/// (workloads, their pods and revisions, Services' slices, configuration, and every custom
/// resource, through an informer per CustomResourceDefinition), and carries out
/// `GarbageCollection.plan`: cascading Background and Foreground deletion, orphaning, and the
/// removal of references to owners that are gone. An owner missing from the caches is looked
/// up in the API before anything is deleted for its absence.
public final class GarbageCollector: Sendable {
    /// One watched kind: its resource and how to read its objects as graph nodes.
    struct Source: Sendable {
        var resource: ResourceType
        var nodes: @Sendable () -> [GarbageCollection.Node]
    }

    /// A custom resource's informer, run by the collector itself: definitions come and go
    /// while it runs.
    struct CustomSource: Sendable {
        var informer: Informer<CustomObject>
        var task: Task<Void, Never>
    }

    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let sources: [Source]
    let definitions: Informer<CustomResourceDefinition>
    /// By resource (`plural.group`).
    let customSources = Mutex<[String: CustomSource]>([:])
    /// The custom kinds ("Kind.group") whose definition was deleted while the collector ran:
    /// the server deletes a definition's objects before it (kube's customresourcecleanup),
    /// so an owner of such a kind is gone even after its informer has stopped.
    let undefinedKinds = KindSet()

    final class KindSet: Sendable {
        let kinds = Mutex<Set<String>>([])
        func insert(_ kind: String) { _ = kinds.withLock { $0.insert(kind) } }
        func remove(_ kind: String) { _ = kinds.withLock { $0.remove(kind) } }
        func contains(_ kind: String) -> Bool { kinds.withLock { $0.contains(kind) } }
    }
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        func watch<T: KubernetesObject>(_ type: T.Type) -> Source {
            let informer = daemon.informer(T.self) { event in
                // Only ownership and deletion matter here.
                if case .updated(let old, let new) = event, old.ownerReferences == new.ownerReferences,
                   old.finalizers == new.finalizers, old.deletionTimestamp == new.deletionTimestamp { return }
                work.markFull()
            }
            return Source(resource: T.resource) { Self.nodes(informer.list(), T.resource) }
        }
        sources = [watch(Pod.self), watch(ReplicaSet.self), watch(Deployment.self), watch(DaemonSet.self),
                   watch(StatefulSet.self), watch(ControllerRevision.self), watch(Job.self), watch(CronJob.self),
                   watch(Service.self), watch(EndpointSlice.self), watch(Endpoints.self), watch(ConfigMap.self),
                   watch(Secret.self), watch(PersistentVolumeClaim.self), watch(Node.self), watch(Namespace.self)]
        let undefinedKinds = undefinedKinds
        definitions = daemon.informer(CustomResourceDefinition.self) { event in
            let kind = Self.kindKey(event.object.kind, group: event.object.group)
            if case .deleted = event { undefinedKinds.insert(kind) } else { undefinedKinds.remove(kind) }
            work.markFull()
        }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "garbagecollector"))
    }

    public func run() async throws {
        guard await daemon.cachesSynced() else { return }
        defer { customSources.withLock { $0.values.forEach { $0.task.cancel() } } }
        try await loop.run(setup: {}) { _, _ in
            let failures = await pass()
            if !failures.isEmpty { throw DaemonError(message: "garbage collection: \(failures.joined(separator: "; "))") }
        }
    }

    /// Starts an informer for each custom resource defined and stops those whose definition
    /// went (or now serves another version). Returns the resources whose informer has listed.
    func syncCustomSources() -> [Source] {
        var wanted: [String: ResourceType] = [:]
        for definition in definitions.list() {
            if let resource = definition.servedResource() { wanted[resource.qualifiedName] = resource }
        }
        let work = work
        return customSources.withLock { running in
            for (name, source) in running where wanted[name] != source.informer.resource {
                source.task.cancel()
                running[name] = nil
            }
            for (name, resource) in wanted where running[name] == nil {
                let informer = Informer<CustomObject>(daemon.client, resource: resource) { event in
                    if case .updated(let old, let new) = event, old.ownerReferences == new.ownerReferences,
                       old.finalizers == new.finalizers, old.deletionTimestamp == new.deletionTimestamp { return }
                    work.markFull()
                }
                running[name] = CustomSource(informer: informer, task: Task { await informer.run() })
            }
            // Until its first list, a resource's objects are unknown, not absent: its
            // dependents wait (an owner is looked up in the API before anything is deleted).
            return running.values.filter { $0.informer.hasSynced }.map { source in
                let informer = source.informer
                return Source(resource: informer.resource) { Self.nodes(informer.list(), informer.resource) }
            }
        }
    }

    static func nodes<T: APIObject>(_ objects: [T], _ resource: ResourceType) -> [GarbageCollection.Node] {
        objects.map { object in
            GarbageCollection.Node(resource: resource.qualifiedName, namespace: object.namespace, name: object.name,
                                   uid: object.uid, resourceVersion: object.resourceVersion,
                                   owners: object.ownerReferences, finalizers: object.finalizers,
                                   beingDeleted: object.deletionTimestamp != nil)
        }
    }

    /// One pass over the whole graph; returns what failed (retried with back-off).
    func pass() async -> [String] {
        // A custom resource's informer that lists for the first time reports each object it
        // finds, which marks the next pass: no polling while one is still listing (or keeps
        // failing to).
        let nodes = (sources + syncCustomSources()).flatMap { $0.nodes() }
        var failures: [String] = []
        for action in GarbageCollection.plan(nodes) {
            do throws(ClientError) {
                try await perform(action)
            } catch {
                // Gone already, or changed since the snapshot: the next pass sees the new state.
                if error.isNotFound { continue }
                if error.isConflict { work.markFull(after: .milliseconds(100)); continue }
                failures.append("\(action): \(error)")
            }
        }
        return failures
    }

    func perform(_ action: GarbageCollection.Action) async throws(ClientError) {
        switch action {
        case .deleteDependent(let node, let foreground):
            let policy = foreground ? "Foreground" : "Background"
            logger.info("deleting a dependent of an owner deleted in the foreground",
                        metadata: ["object": "\(describe(node))", "propagation": "\(policy)"])
            try await client.delete(try resource(node), namespace: node.namespace, name: node.name,
                                    propagationPolicy: policy, uid: node.uid)
        case .deleteIfOwnersGone(let node, let owners):
            for owner in owners where try await !isGone(owner, of: node) { return }
            logger.info("deleting an object whose owners are gone",
                        metadata: ["object": "\(describe(node))", "owners": "\(owners.map { "\($0.kind)/\($0.name)" }.joined(separator: ","))"])
            try await client.delete(try resource(node), namespace: node.namespace, name: node.name,
                                    propagationPolicy: "Background", uid: node.uid)
        case .removeOwnerReferences(let node, let uids, let confirm):
            var removing = uids
            if confirm {
                for owner in node.owners where uids.contains(owner.uid) {
                    if try await !isGone(owner, of: node) { removing.remove(owner.uid) }
                }
            }
            if removing.isEmpty { return }
            let kept = node.owners.filter { !removing.contains($0.uid) }
            logger.info("removing owner references", metadata: ["object": "\(describe(node))", "owners": "\(removing.sorted())"])
            let patch: JSONValue = ["metadata": ["resourceVersion": .string(node.resourceVersion),
                                                 "ownerReferences": kept.isEmpty ? .null : .array(kept.map(\.json))]]
            _ = try await client.patch(try resource(node), namespace: node.namespace, name: node.name, patch)
        case .removeFinalizer(let node, let finalizer):
            logger.info("dependents dealt with; releasing the owner", metadata: ["object": "\(describe(node))", "finalizer": "\(finalizer)"])
            let kept = node.finalizers.filter { $0 != finalizer }
            let patch: JSONValue = ["metadata": ["resourceVersion": .string(node.resourceVersion),
                                                 "finalizers": kept.isEmpty ? .null : .array(kept.map { .string($0) })]]
            _ = try await client.patch(try resource(node), namespace: node.namespace, name: node.name, patch)
        }
    }

    /// Whether the owner is really gone: not found in the API, or its name now holds another
    /// object, or its custom kind's definition was deleted. An owner of a kind this server
    /// does not know otherwise is never taken for gone.
    func isGone(_ owner: OwnerReference, of node: GarbageCollection.Node) async throws(ClientError) -> Bool {
        guard let resource = ResourceRegistry.builtin.resource(apiVersion: owner.apiVersion, kind: owner.kind)
                ?? customResource(owner) else {
            return undefinedKinds.contains(Self.kindKey(owner.kind, group: owner.group))
        }
        do {
            let found = try await client.get(resource, namespace: resource.namespaced ? node.namespace : nil, name: owner.name)
            return found.uid != owner.uid
        } catch {
            if error.isNotFound { return true }
            throw error
        }
    }

    /// The defined custom resource an owner reference names: its version when served, else
    /// the one the collector reads the kind through.
    func customResource(_ owner: OwnerReference) -> ResourceType? {
        let definition = definitions.list().first { $0.group == owner.group && $0.kind == owner.kind }
        return definition?.servedResource(apiVersion: owner.apiVersion)
    }

    /// How `undefinedKinds` names a kind.
    static func kindKey(_ kind: String, group: String) -> String { kind + "." + group }

    func resource(_ node: GarbageCollection.Node) throws(ClientError) -> ResourceType {
        if let source = sources.first(where: { $0.resource.qualifiedName == node.resource }) { return source.resource }
        if let custom = customSources.withLock({ $0[node.resource]?.informer.resource }) { return custom }
        throw .config("no watched resource \(node.resource)")
    }

    func describe(_ node: GarbageCollection.Node) -> String {
        "\(node.resource)/\(node.namespace.map { "\($0)/" } ?? "")\(node.name)"
    }
}
