import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The ReplicaSet controller of `netplane controllers`: keeps `spec.replicas` pods from each
/// ReplicaSet's template (`ReplicaSets.plan`), adopts and releases pods by selector, and
/// reports the counts in its status. Like Kubernetes' it remembers the pods it has just
/// created or deleted until its cache shows them, so a lagging cache never makes it create
/// or delete twice.
public final class ReplicaSetController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let replicaSets: Informer<ReplicaSet>
    let pods: Informer<Pod>
    /// The pods created or deleted but not yet seen so by the cache, by ReplicaSet uid.
    let expectations = PodExpectations()
    /// The most pods made in one pass for one ReplicaSet (the rest in the next).
    let burst: Int
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let namespaceIndex = "namespace"

    public init(daemon: Daemon, resyncPeriod: Duration, burst: Int = 250) {
        self.daemon = daemon
        self.burst = burst
        let work = work
        replicaSets = daemon.informer(ReplicaSet.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            work.mark(event.object.cacheKey)
        }
        let replicaSets = replicaSets
        pods = daemon.informer(Pod.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            var versions = [event.object]
            if case .updated(let old, _) = event { versions.append(old) }
            for pod in versions {
                if let ref = pod.controllerReference {
                    if ref.kind == "ReplicaSet" { work.mark("\(pod.namespace ?? "")/\(ref.name)") }
                } else {
                    // An orphan: any ReplicaSet of its namespace may adopt it.
                    for rs in replicaSets.byIndex(Self.namespaceIndex, pod.namespace ?? "") { work.mark(rs.cacheKey) }
                }
            }
        }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "replicaset"))
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "replica sets", all: { replicaSets.list().map(\.cacheKey) }) { key throws(ClientError) in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key), let rs = replicaSets.get(namespace: namespace, name: name) else {
            return
        }
        let cached = pods.byIndex(Self.namespaceIndex, namespace)
        let plan = ReplicaSets.plan(rs, pods: cached)
        for pod in plan.adopt {
            try await client.adopt(pod, by: rs)
            logger.info("adopted a pod", metadata: ["replicaset": "\(key)", "pod": "\(pod.name)"])
        }
        for pod in plan.release {
            try await client.release(pod, from: rs)
            logger.info("released a pod its selector no longer matches", metadata: ["replicaset": "\(key)", "pod": "\(pod.name)"])
        }
        if expectations.satisfied(rs.uid, cached: cached) {
            let bodies = Array(repeating: ReplicaSets.newPod(rs), count: min(plan.create, burst))
            let (created, deleted) = try await expectations.apply(rs.uid, create: bodies, delete: plan.delete, with: client)
            if created + deleted > 0 {
                logger.info("pods", metadata: ["replicaset": "\(key)", "created": "\(created)", "deleted": "\(deleted)"])
            }
            if plan.create > burst { work.mark(key) }
        }
        try await client.writeStatus(rs, ReplicaSets.status(rs, active: plan.active, now: APITime.now()))
    }
}
