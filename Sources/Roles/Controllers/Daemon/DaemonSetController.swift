import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The DaemonSet controller of `netplane controllers`: carries out `DaemonSets.plan` — a pod
/// pinned to every eligible node (the scheduler binds it), misplaced and extra pods removed,
/// the rolling update, the ControllerRevisions `rollout history|undo ds` read — and writes the
/// status `kubectl get ds` and `rollout status` read.
public final class DaemonSetController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let daemonSets: Informer<DaemonSet>
    let pods: Informer<Pod>
    let nodes: Informer<Node>
    let revisions: Informer<ControllerRevision>
    let expectations = PodExpectations()
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let ownerIndex = "owner"
    static let namespaceIndex = "namespace"

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        daemonSets = daemon.informer(DaemonSet.self) { event in work.mark(event.object.cacheKey) }
        pods = daemon.informer(Pod.self, indexers: [Self.ownerIndex: { pod in pod.controllerReference.map { [$0.uid] } ?? [] }]) { event in
            if let ref = event.object.controllerReference, ref.kind == "DaemonSet" { work.mark("\(event.object.namespace ?? "")/\(ref.name)") }
        }
        // A node that comes, goes or changes labels or taints concerns every DaemonSet.
        nodes = daemon.informer(Node.self) { event in
            if case .updated(let old, let new) = event, old.labels == new.labels,
               old.json[path: ["spec", "taints"]] == new.json[path: ["spec", "taints"]],
               old.json[path: ["spec", "unschedulable"]] == new.json[path: ["spec", "unschedulable"]] { return }
            work.markFull()
        }
        revisions = daemon.informer(ControllerRevision.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            if let ref = event.object.controllerReference, ref.kind == "DaemonSet" { work.mark("\(event.object.namespace ?? "")/\(ref.name)") }
        }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "daemonset"))
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "daemon sets", all: { daemonSets.list().map(\.cacheKey) }) { key throws(ClientError) in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key), let ds = daemonSets.get(namespace: namespace, name: name),
              ds.deletionTimestamp == nil else { return }
        let owned = pods.byIndex(Self.ownerIndex, ds.uid)
        guard expectations.satisfied(ds.uid, cached: owned) else { return }
        let plan = DaemonSets.plan(ds, nodes: nodes.list(), pods: owned, revisions: revisions.byIndex(Self.namespaceIndex, namespace),
                                   now: APITime.now())
        // The revision first: the pods carry its hash.
        try await writeRevisions(plan.revisions, of: ds, client: client, logger: logger)
        let bodies = plan.create.keys.sorted().map { plan.create[$0]! }
        let (created, deleted) = try await expectations.apply(ds.uid, create: bodies, delete: plan.delete, with: client)
        if created + deleted > 0 {
            logger.info("daemon pods", metadata: ["daemonset": "\(key)", "created": "\(created)", "deleted": "\(deleted)"])
        }
        try await client.writeStatus(ds, plan.status)
        try await pruneRevisions(plan.prune, namespace: namespace, client: client)
    }
}
