import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The Job controller of `netplane controllers`: carries out `Jobs.plan` — pods made and
/// removed, the status written, a finished Job deleted after its TTL — and looks again at a
/// Job's deadline or TTL even when nothing else changes.
public final class JobController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let jobs: Informer<Job>
    let pods: Informer<Pod>
    let expectations = PodExpectations()
    /// Deadlines and TTLs come without an event.
    let rechecks: Rechecks
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let ownerIndex = "owner"

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        jobs = daemon.informer(Job.self) { event in work.mark(event.object.cacheKey) }
        pods = daemon.informer(Pod.self, indexers: [Self.ownerIndex: { pod in pod.controllerReference.map { [$0.uid] } ?? [] }]) { event in
            if let ref = event.object.controllerReference, ref.kind == "Job" { work.mark("\(event.object.namespace ?? "")/\(ref.name)") }
        }
        rechecks = Rechecks(work)
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "job"))
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "jobs", all: { jobs.list().map(\.cacheKey) }) { key throws(ClientError) in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key), let job = jobs.get(namespace: namespace, name: name),
              job.deletionTimestamp == nil else { return }
        let owned = pods.byIndex(Self.ownerIndex, job.uid)
        guard expectations.satisfied(job.uid, cached: owned) else { return }
        let now = APITime.now()
        let plan = Jobs.plan(job, pods: owned, now: now)
        if plan.expired {
            logger.info("deleting a finished Job after its TTL", metadata: ["job": "\(key)"])
            try await client.delete(Job.resource, namespace: namespace, name: name, propagationPolicy: "Background", uid: job.uid)
            return
        }
        let (created, deleted) = try await expectations.apply(job.uid, create: plan.create, delete: plan.delete, with: client)
        if created + deleted > 0 {
            logger.info("job pods", metadata: ["job": "\(key)", "created": "\(created)", "deleted": "\(deleted)"])
        }
        try await client.writeStatus(job, plan.status)
        rechecks.schedule(key, at: plan.recheckAt, now: now)
    }
}
