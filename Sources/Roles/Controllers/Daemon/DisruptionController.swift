import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The disruption controller of `netplane controllers`: keeps every PodDisruptionBudget's
/// status (`Disruptions.plan`) current as its pods come, go and turn ready, which is what
/// `pods/eviction` (and so `kubectl drain`) and the scheduler's preemption read.
public final class DisruptionController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let budgets: Informer<PodDisruptionBudget>
    let pods: Informer<Pod>
    let replicaSets: Informer<ReplicaSet>
    let deployments: Informer<Deployment>
    let statefulSets: Informer<StatefulSet>
    /// A counted eviction expires without an event.
    let rechecks: Rechecks
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let namespaceIndex = "namespace"

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        budgets = daemon.informer(PodDisruptionBudget.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            work.mark(event.object.cacheKey)
        }
        let budgets = budgets
        pods = daemon.informer(Pod.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            for budget in budgets.byIndex(Self.namespaceIndex, event.object.namespace ?? "") { work.mark(budget.cacheKey) }
        }
        // A controller's scale sets what a percentage counts against.
        replicaSets = daemon.informer(ReplicaSet.self) { event in work.markNamespace(event.object, budgets) }
        deployments = daemon.informer(Deployment.self) { event in work.markNamespace(event.object, budgets) }
        statefulSets = daemon.informer(StatefulSet.self) { event in work.markNamespace(event.object, budgets) }
        rechecks = Rechecks(work)
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "disruption"))
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "poddisruptionbudgets", all: { budgets.list().map(\.cacheKey) }) { key throws(ClientError) in
            try await sync(key)
        }
    }

    /// The replicas a pod's controller asks for (a ReplicaSet of a Deployment: the Deployment's).
    func scale(_ namespace: String, _ ref: OwnerReference) -> Int? {
        switch ref.kind {
        case "ReplicaSet":
            guard let rs = replicaSets.get(namespace: namespace, name: ref.name), rs.uid == ref.uid else { return nil }
            if let owner = rs.controllerReference, owner.kind == "Deployment",
               let deployment = deployments.get(namespace: namespace, name: owner.name), deployment.uid == owner.uid {
                return deployment.replicas
            }
            return rs.replicas
        case "StatefulSet":
            guard let set = statefulSets.get(namespace: namespace, name: ref.name), set.uid == ref.uid else { return nil }
            return set.replicas
        default:
            return nil
        }
    }

    func sync(_ key: String) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key), let budget = budgets.get(namespace: namespace, name: name),
              budget.deletionTimestamp == nil else { return }
        let now = APITime.now()
        let plan = Disruptions.plan(budget, pods: pods.byIndex(Self.namespaceIndex, namespace),
                                    scale: { self.scale(namespace, $0) }, now: now)
        try await client.writeStatus(budget, plan.status)
        rechecks.schedule(key, at: plan.recheckAt, now: now)
    }
}

extension WorkQueue {
    /// Marks every budget in the object's namespace.
    func markNamespace<T: KubernetesObject>(_ object: T, _ budgets: Informer<PodDisruptionBudget>) {
        for budget in budgets.byIndex(DisruptionController.namespaceIndex, object.namespace ?? "") { mark(budget.cacheKey) }
    }
}
