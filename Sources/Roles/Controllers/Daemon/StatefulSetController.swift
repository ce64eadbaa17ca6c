import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The StatefulSet controller of `netplane controllers`: carries out `StatefulSets.plan` —
/// pods adopted and released, the ControllerRevision of the current template made (or an
/// older one renumbered on a rollback), each pod's claims made before it, pods created and
/// deleted in ordinal order, old revisions pruned — and writes the status `kubectl get sts`
/// and `kubectl rollout status` read. Like the ReplicaSet controller it remembers the pods
/// it has just created or deleted until its cache shows them: a StatefulSet's pods have
/// fixed names, so a lagging cache would otherwise make it create a pod twice or recreate
/// one before the old one is gone.
public final class StatefulSetController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let statefulSets: Informer<StatefulSet>
    let pods: Informer<Pod>
    let claims: Informer<PersistentVolumeClaim>
    let revisions: Informer<ControllerRevision>
    /// The pods created or deleted but not yet seen so by the cache, by StatefulSet uid.
    let expectations = PodExpectations()
    /// A ready pod becomes available (minReadySeconds) without an event.
    let rechecks: Rechecks
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let namespaceIndex = "namespace"

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        statefulSets = daemon.informer(StatefulSet.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            work.mark(event.object.cacheKey)
        }
        let statefulSets = statefulSets
        pods = daemon.informer(Pod.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            var versions = [event.object]
            if case .updated(let old, _) = event { versions.append(old) }
            for pod in versions { Self.markController(of: pod, work, statefulSets) }
        }
        revisions = daemon.informer(ControllerRevision.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            Self.markController(of: event.object, work, statefulSets)
        }
        // A claim concerns the sets of its namespace: one going away holds up its pod, and its
        // owners follow the retention policy. Claims change seldom, so no finer index is kept.
        claims = daemon.informer(PersistentVolumeClaim.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            for set in statefulSets.byIndex(Self.namespaceIndex, event.object.namespace ?? "") { work.mark(set.cacheKey) }
        }
        rechecks = Rechecks(work)
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "statefulset"))
    }

    /// Marks the StatefulSet controlling `object`, or for an orphan every StatefulSet of its
    /// namespace (any may adopt it).
    static func markController(of object: some KubernetesObject, _ work: WorkQueue, _ statefulSets: Informer<StatefulSet>) {
        if let ref = object.controllerReference {
            if ref.kind == "StatefulSet" { work.mark("\(object.namespace ?? "")/\(ref.name)") }
        } else {
            for set in statefulSets.byIndex(namespaceIndex, object.namespace ?? "") { work.mark(set.cacheKey) }
        }
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "stateful sets", all: { statefulSets.list().map(\.cacheKey) }) { key throws(ClientError) in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key), let set = statefulSets.get(namespace: namespace, name: name),
              set.deletionTimestamp == nil else { return }
        let cached = pods.byIndex(Self.namespaceIndex, namespace)
        // Until the cache shows what was just done, a plan would redo it: the pods' events
        // bring this set back.
        guard expectations.satisfied(set.uid, cached: cached) else { return }
        let existingClaims = claims.byIndex(Self.namespaceIndex, namespace)
        let now = APITime.now()
        let plan = StatefulSets.plan(set, pods: cached, claims: existingClaims,
                                     revisions: revisions.byIndex(Self.namespaceIndex, namespace), now: now)
        try await claimPods(set, plan, key)
        try await writeRevisions(plan.revisions, of: set, client: client, logger: logger)
        try await syncClaims(plan, existingClaims, namespace, key)
        for (pod, labels) in plan.relabel.sorted(by: { $0.key < $1.key }) {
            _ = try await client.patch(Pod.self, namespace: namespace, name: pod, ["metadata": ["labels": .object(labels.mapValues(JSONValue.string))]])
        }
        let (created, deleted) = try await expectations.apply(set.uid, create: plan.create, delete: plan.delete, with: client)
        if created + deleted > 0 {
            logger.info("pods", metadata: ["statefulset": "\(key)", "created": "\(plan.create.prefix(created).compactMap(\.name).joined(separator: ","))",
                                           "deleted": "\(plan.delete.prefix(deleted).map(\.name).joined(separator: ","))"])
        }
        if plan.status != .null { try await client.writeStatus(set, plan.status) }
        try await pruneRevisions(plan.prune, namespace: namespace, client: client)
        rechecks.schedule(key, at: plan.recheckAt, now: now)
    }

    /// Takes over the orphans the plan adopts and lets go of the pods it releases, each change
    /// conditional on the pod being as seen.
    func claimPods(_ set: StatefulSet, _ plan: StatefulSets.Plan, _ key: String) async throws(ClientError) {
        for pod in plan.adopt {
            try await client.adopt(pod, by: set)
            logger.info("adopted a pod", metadata: ["statefulset": "\(key)", "pod": "\(pod.name)"])
        }
        for pod in plan.release {
            try await client.release(pod, from: set)
            logger.info("released a pod its selector no longer matches", metadata: ["statefulset": "\(key)", "pod": "\(pod.name)"])
        }
    }

    /// Creates the claims the pods need (one made meanwhile is as good), and gives existing
    /// claims the owners the retention policy says.
    func syncClaims(_ plan: StatefulSets.Plan, _ existing: [PersistentVolumeClaim], _ namespace: String,
                    _ key: String) async throws(ClientError) {
        for body in plan.createClaims {
            do {
                _ = try await client.create(PersistentVolumeClaim.resource, body)
                logger.info("created a claim", metadata: ["statefulset": "\(key)", "claim": "\(body.name ?? "")"])
            } catch {
                if !error.isAlreadyExists { throw error }
            }
        }
        for (name, owners) in plan.claimOwners.sorted(by: { $0.key < $1.key }) {
            guard let claim = existing.first(where: { $0.name == name }) else { continue }
            _ = try await client.patch(PersistentVolumeClaim.self, namespace: namespace, name: name,
                                       ["metadata": ["resourceVersion": .string(claim.resourceVersion),
                                                     "ownerReferences": owners.isEmpty ? .null : .array(owners.map(\.json))]])
        }
    }
}
