import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The CronJob controller of `netplane controllers`: carries out `CronJobs.plan` — old
/// finished Jobs deleted, the due Job created (Replace deletes the running ones first), the
/// status written, Events recorded — and wakes at the schedule's next time, when no event
/// would come.
public final class CronJobController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let cronJobs: Informer<CronJob>
    let jobs: Informer<Job>
    let events: EventRecorder
    /// The next scheduled time comes without an event: looked at again a tenth of a second
    /// after it (kube's margin), so the time has come by the clock the next pass reads.
    let rechecks: Rechecks
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let ownerIndex = "owner"

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        cronJobs = daemon.informer(CronJob.self) { event in work.mark(event.object.cacheKey) }
        jobs = daemon.informer(Job.self, indexers: [Self.ownerIndex: { job in job.controllerReference.map { [$0.uid] } ?? [] }]) { event in
            if let ref = event.object.controllerReference, ref.kind == "CronJob" { work.mark("\(event.object.namespace ?? "")/\(ref.name)") }
        }
        events = daemon.eventRecorder(component: "cronjob-controller")
        rechecks = Rechecks(work, slack: .milliseconds(100))
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "cronjob"))
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "cronjobs", all: { cronJobs.list().map(\.cacheKey) }) { key throws(ClientError) in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key), var cronJob = cronJobs.get(namespace: namespace, name: name) else { return }
        let now = APITime.now()
        var known = try await knownJobs(of: cronJob)
        var plan = CronJobs.plan(cronJob, jobs: known, now: now)
        if !plan.unexpected.isEmpty {
            // Our own last status write may not be in the cache yet: read the CronJob itself
            // before calling its Jobs unexpected, as kube-controller-manager does.
            let fresh = try await client.get(CronJob.self, namespace: namespace, name: name)
            if fresh.resourceVersion != cronJob.resourceVersion {
                cronJob = fresh
                known = try await knownJobs(of: cronJob)
                plan = CronJobs.plan(cronJob, jobs: known, now: now)
            }
        }
        for notice in plan.notices { record(cronJob, notice) }
        for job in plan.delete { try await delete(job, of: cronJob) }
        var status = plan.status
        if let body = plan.create, let time = plan.scheduledTime {
            do throws(ClientError) {
                if let job = try await start(body, for: cronJob) { status = CronJobs.status(status, started: job, at: time) }
            } catch {
                // What the deletions changed is true whether or not the Job could be made.
                try? await client.writeStatus(cronJob, status)
                throw error
            }
        }
        try await client.writeStatus(cronJob, status)
        rechecks.schedule(key, at: plan.recheckAt, now: now)
    }

    /// The Jobs the CronJob controls: the cached ones, and those its status lists that the
    /// cache does not show (yet), asked of the server before they are called missing.
    func knownJobs(of cronJob: CronJob) async throws(ClientError) -> [Job] {
        var owned = jobs.byIndex(Self.ownerIndex, cronJob.uid)
        let cached = Set(owned.map(\.uid))
        for ref in CronJobs.activeReferences(cronJob) where !cached.contains(ref.uid) {
            do throws(ClientError) {
                let job = try await client.get(Job.self, namespace: ref.namespace ?? cronJob.namespace, name: ref.name)
                if job.uid == ref.uid { owned.append(job) }
            } catch {
                if !error.isNotFound { throw error }
            }
        }
        return owned
    }

    /// Creates the scheduled Job. One of its name already there (made by a pass whose status
    /// write was lost) counts as started if this CronJob controls it and does not list it
    /// yet; otherwise nothing changes (kube-controller-manager's rule).
    func start(_ body: JSONValue, for cronJob: CronJob) async throws(ClientError) -> Job? {
        do throws(ClientError) {
            let job = try await client.create(Job(json: body))
            logger.info("created job", metadata: ["cronjob": "\(cronJob.cacheKey)", "job": "\(job.name)"])
            events.record(cronJob, type: "Normal", reason: "SuccessfulCreate", message: "Created job \(job.name)")
            return job
        } catch {
            guard error.isAlreadyExists else {
                events.record(cronJob, type: "Warning", reason: "FailedCreate", message: "Error creating job: \(error)")
                throw error
            }
        }
        let existing = try await client.get(Job.self, namespace: cronJob.namespace, name: body.name ?? "")
        let listed = CronJobs.activeReferences(cronJob).contains { $0.uid == existing.uid }
        return existing.controllerReference?.uid == cronJob.uid && !listed ? existing : nil
    }

    /// Deletes a Job and, through Background propagation, its pods (only the Job of that uid;
    /// one gone already is no error).
    func delete(_ job: Job, of cronJob: CronJob) async throws(ClientError) {
        do throws(ClientError) {
            try await client.delete(Job.resource, namespace: job.namespace, name: job.name, propagationPolicy: "Background", uid: job.uid)
        } catch {
            if error.isNotFound { return }
            events.record(cronJob, type: "Warning", reason: "FailedDelete", message: "Deleted job: \(error)")
            throw error
        }
        logger.info("deleted job", metadata: ["cronjob": "\(cronJob.cacheKey)", "job": "\(job.name)"])
        events.record(cronJob, type: "Normal", reason: "SuccessfulDelete", message: "Deleted job \(job.name)")
    }

    func record(_ cronJob: CronJob, _ notice: CronJobs.Notice) {
        events.record(cronJob, type: notice.type, reason: notice.reason, message: notice.message)
    }
}
