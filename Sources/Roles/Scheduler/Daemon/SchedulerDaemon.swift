import APIMachinery
import APITypes
import Client
public import DaemonRuntime
import JSON
import Logging
import Metrics
public import SchedulerCore
import Synchronization

/// `netplane scheduler`'s loop, shaped as kube-scheduler's: informers keep a `Cluster` (nodes
/// and the pods on them) current one change at a time, pending pods wait in a
/// `SchedulingQueue`, and each pass tries the queue's active pods one by one, most urgent
/// first, binding through `pods/binding` while it goes on with the next (up to 32 bindings in
/// flight). A pod just placed counts on its node (assumed) until the cache shows it bound,
/// so a burst never overfills a node. A pod that fits nowhere may preempt pods of lower
/// priority (they are deleted, it is nominated to their node), gets `PodScheduled=False`
/// (Unschedulable) and a `FailedScheduling` Event with the reasons per node count, as
/// `kubectl describe pod` shows them, and waits for a change in the cluster.
public final class SchedulerDaemon: Sendable {
    public static let defaultName = "default-scheduler"

    let daemon: Daemon
    let settings: Scheduling.Settings
    let schedulerName: String
    let work = WorkQueue()
    let loop: SyncLoop
    let pods: Informer<Pod>
    let nodes: Informer<Node>
    let namespaces: Informer<Namespace>
    let budgets: Informer<PodDisruptionBudget>
    /// When a timer will next wake the loop for the queue's back-off.
    let wake = Mutex<ContinuousClock.Instant?>(nil)
    let attempts: Counter
    let scheduled: Counter
    let unschedulable: Counter
    let preemptions: Counter
    let pending: Gauge
    let events: EventRecorder
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    /// Marks on the work queue: a pod, a pending pod's status-only change, a node, a
    /// namespace's labels, a disruption budget, the queue's timer.
    enum Mark {
        static let pod = "pod:", podStatus = "pod-status:", node = "node:", namespace = "ns:", budget = "pdb:", tick = "tick"
    }

    public init(daemon: Daemon, settings: Scheduling.Settings, schedulerName: String = defaultName, resyncPeriod: Duration) {
        self.daemon = daemon
        self.settings = settings
        self.schedulerName = schedulerName
        let work = work
        pods = daemon.informer(Pod.self) { event in
            // The scheduler's own status writes (conditions, nomination) change nothing it decides on.
            if case .updated(let old, let new) = event, old.json["spec"] == new.json["spec"], old.labels == new.labels,
               old.deletionTimestamp == new.deletionTimestamp, old.phase == new.phase {
                work.mark(Mark.podStatus + new.cacheKey)
            } else {
                work.mark(Mark.pod + event.object.cacheKey)
            }
        }
        nodes = daemon.informer(Node.self) { event in
            // Heartbeats are not news: only what filters and scores read.
            if case .updated(let old, let new) = event, old.json["spec"] == new.json["spec"], old.labels == new.labels,
               old.json[path: ["status", "allocatable"]] == new.json[path: ["status", "allocatable"]] {
                return
            }
            work.mark(Mark.node + event.object.name)
        }
        namespaces = daemon.informer(Namespace.self) { event in
            if case .updated(let old, let new) = event, old.labels == new.labels { return }
            work.mark(Mark.namespace + event.object.name)
        }
        budgets = daemon.informer(PodDisruptionBudget.self) { _ in work.mark(Mark.budget) }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, retryInitial: .milliseconds(100)))
        let factory = daemon.observability.factory
        attempts = Counter(label: "netplane_scheduler_schedule_attempts_total", factory: factory)
        scheduled = Counter(label: "netplane_scheduler_pods_scheduled_total", factory: factory)
        unschedulable = Counter(label: "netplane_scheduler_unschedulable_total", factory: factory)
        preemptions = Counter(label: "netplane_scheduler_preemptions_total", factory: factory)
        pending = Gauge(label: "netplane_scheduler_pending_pods", factory: factory)
        events = daemon.eventRecorder(component: schedulerName)
    }

    struct State {
        var cluster = Scheduling.Cluster()
        var queue = SchedulingQueue()
        /// Pods placed by this scheduler that the cache does not show bound yet: key -> node.
        var assumed: [String: String] = [:]
    }

    public func run() async throws {
        guard await daemon.cachesSynced() else { return }
        try await loop.run(setup: { State() }) { state, pass in
            if pass.full { rebuild(&state) } else { apply(pass.dirty, &state) }
            let failed = await scheduleActive(&state)
            pending.record(state.queue.counts.active + state.queue.counts.backoff + state.queue.counts.unschedulable)
            armTimer(state.queue.nextChange())
            if !failed.isEmpty { throw DaemonError(message: "binding failed: \(failed.joined(separator: "; "))") }
        }
    }

    func isOurs(_ pod: Pod) -> Bool {
        (pod.json[path: ["spec", "schedulerName"]]?.stringValue ?? Self.defaultName) == schedulerName
    }

    static func isFinished(_ pod: Pod) -> Bool { pod.phase == "Succeeded" || pod.phase == "Failed" }

    // MARK: Keeping the cluster current

    /// The whole picture again from the caches (first pass, resync, after a failure).
    func rebuild(_ state: inout State) {
        state.cluster = Scheduling.Cluster()
        state.cluster.namespaceLabels = Dictionary(namespaces.list().map { ($0.name, $0.labels) }, uniquingKeysWith: { a, _ in a })
        state.cluster.budgets = budgetsNow()
        for node in nodes.list() where node.deletionTimestamp == nil { state.cluster.upsert(node) }
        var seen = Set<String>()
        for pod in pods.list() {
            seen.insert(pod.cacheKey)
            track(pod, &state)
        }
        for key in state.assumed.keys where !seen.contains(key) { state.assumed[key] = nil }
        for key in state.queue.keys where !seen.contains(key) { state.queue.remove(key) }
        state.queue.clusterChanged(now: .now)
    }

    /// Takes one pod's current state into the cluster and the queue.
    func track(_ pod: Pod, _ state: inout State) {
        let key = pod.cacheKey
        if Self.isFinished(pod) {
            state.cluster.remove(key)
            state.queue.remove(key)
            state.assumed[key] = nil
        } else if let node = pod.nodeName, !node.isEmpty {
            state.cluster.place(Scheduling.PodInfo(pod), on: node)
            state.assumed[key] = nil
            state.queue.remove(key)
        } else if let node = state.assumed[key] {
            // Bound (or being bound) by us; the cache has not caught up.
            if state.cluster.placement[key] == nil { state.cluster.place(Scheduling.PodInfo(pod), on: node) }
        } else if pod.deletionTimestamp == nil && isOurs(pod) {
            let info = Scheduling.PodInfo(pod)
            state.cluster.nominate(info)
            state.queue.add(info)
        } else {
            state.queue.remove(key)
        }
    }

    func apply(_ dirty: Set<String>, _ state: inout State) {
        var changed = false
        for mark in dirty {
            if mark.hasPrefix(Mark.pod) {
                let key = String(mark.dropFirst(Mark.pod.count))
                let wasPlaced = state.cluster.placement[key] != nil
                if let pod = podNamed(key) {
                    track(pod, &state)
                    if wasPlaced && state.cluster.placement[key] == nil { changed = true }
                } else {
                    state.cluster.remove(key)
                    state.queue.remove(key)
                    state.assumed[key] = nil
                    changed = changed || wasPlaced
                }
            } else if mark.hasPrefix(Mark.podStatus) {
                // A status change of a pending pod: its nomination may have changed, nothing else.
                let key = String(mark.dropFirst(Mark.podStatus.count))
                if let pod = podNamed(key), (pod.nodeName ?? "").isEmpty, state.queue.contains(key) {
                    let info = Scheduling.PodInfo(pod)
                    state.cluster.nominate(info)
                    state.queue.refresh(info)
                } else if let pod = podNamed(key) {
                    track(pod, &state)
                }
            } else if mark.hasPrefix(Mark.node) {
                let name = String(mark.dropFirst(Mark.node.count))
                if let node = nodes.get(name: name), node.deletionTimestamp == nil { state.cluster.upsert(node) } else { state.cluster.removeNode(name) }
                changed = true
            } else if mark.hasPrefix(Mark.namespace) {
                let name = String(mark.dropFirst(Mark.namespace.count))
                state.cluster.namespaceLabels[name] = namespaces.get(name: name)?.labels
                changed = true
            } else if mark == Mark.budget {
                state.cluster.budgets = budgetsNow()
            }
        }
        let now = ContinuousClock.now
        if changed { state.queue.clusterChanged(now: now) } else { state.queue.flush(now: now) }
    }

    func podNamed(_ key: String) -> Pod? {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        return parts.count == 2 ? pods.get(namespace: parts[0], name: parts[1]) : nil
    }

    func budgetsNow() -> [Scheduling.Budget] {
        budgets.list().compactMap { pdb in
            guard let selector = try? LabelSelector(json: pdb.json[path: ["spec", "selector"]] ?? .null) else { return nil }
            return Scheduling.Budget(namespace: pdb.namespace ?? "", selector: selector,
                                     disruptionsAllowed: pdb.json[path: ["status", "disruptionsAllowed"]]?.intValue ?? 0)
        }
    }

    /// Wakes the loop when the queue's back-off next lets a pod go.
    func armTimer(_ at: ContinuousClock.Instant?) {
        guard let at else { return }
        let arm = wake.withLock { current -> Bool in
            if let current, current <= at, current > .now { return false }
            current = at
            return true
        }
        guard arm else { return }
        let work = work
        Task {
            try? await Task.sleep(until: at, clock: .continuous)
            work.mark(Mark.tick)
        }
    }

    // MARK: Scheduling

    enum Outcome: Sendable {
        case bound(String)
        case notBound(String, ClientError)
        case reported
    }

    /// Tries every active pod; returns the bindings that failed for a reason other than the
    /// pod being bound or gone already.
    func scheduleActive(_ state: inout State) async -> [String] {
        var failed: [String] = []
        await withTaskGroup(of: Outcome.self) { group in
            var inFlight = 0
            func settle(_ outcome: Outcome, _ state: inout State) {
                switch outcome {
                case .bound(let key):
                    state.queue.done(key)
                    scheduled.increment()
                case .notBound(let key, let error):
                    // Undo the assumption; already bound elsewhere or gone: the cache will say.
                    state.cluster.remove(key)
                    state.assumed[key] = nil
                    state.queue.failed(key, now: .now)
                    if !(error.isConflict || error.isNotFound) { failed.append("\(key): \(error)") }
                case .reported: break
                }
            }
            while let pod = state.queue.pop() {
                attempts.increment()
                while inFlight >= 32, let outcome = await group.next() {
                    inFlight -= 1
                    settle(outcome, &state)
                }
                switch state.cluster.schedule(pod, settings: settings) {
                case .node(let node):
                    state.cluster.place(pod, on: node)
                    state.assumed[pod.key] = node
                    inFlight += 1
                    group.addTask { await self.bind(pod, to: node) }
                case .unschedulable(let reasons):
                    unschedulable.increment()
                    let message = Scheduling.Decision.unschedulable(reasons: reasons).message
                    let preemption = state.cluster.preemption(for: pod, settings: settings)
                    if let preemption {
                        preemptions.increment()
                        var nominated = pod
                        nominated.nominatedNode = preemption.node
                        state.cluster.nominate(nominated)
                    }
                    state.queue.unschedulable(pod.key, now: .now)
                    inFlight += 1
                    group.addTask {
                        if let preemption { await self.preempt(pod, preemption) }
                        await self.reportUnschedulable(pod.pod, message)
                        return .reported
                    }
                }
            }
            for await outcome in group { settle(outcome, &state) }
        }
        return failed
    }

    func bind(_ pod: Scheduling.PodInfo, to node: String) async -> Outcome {
        let binding: JSONValue = ["apiVersion": "v1", "kind": "Binding",
                                  "metadata": ["name": .string(pod.name), "namespace": .string(pod.namespace), "uid": .string(pod.uid)],
                                  "target": ["apiVersion": "v1", "kind": "Node", "name": .string(node)]]
        do {
            try await client.post(Pod.resource, namespace: pod.namespace, name: pod.name, subresource: "binding", binding)
        } catch {
            return .notBound(pod.key, error)
        }
        logger.debug("bound", metadata: ["pod": "\(pod.key)", "node": "\(node)"])
        events.record(pod.pod, reason: "Scheduled", message: "Successfully assigned \(pod.key) to \(node)")
        return .bound(pod.key)
    }

    /// Removes the victims and nominates the pod to their node (kube-scheduler's
    /// DefaultPreemption): the victims get a DisruptionTarget condition and a Preempted Event.
    func preempt(_ pod: Scheduling.PodInfo, _ preemption: Scheduling.Preemption) async {
        logger.info("preempting", metadata: ["pod": "\(pod.key)", "node": "\(preemption.node)",
                                             "victims": "\(preemption.victims.map(\.key).joined(separator: ","))"])
        for victim in preemption.victims {
            let message = "Preempted by pod \(pod.uid) on node \(preemption.node)"
            do {
                let condition: JSONValue = ["type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                                            "message": .string("\(schedulerName): \(message)"),
                                            "lastTransitionTime": .string(APITime.format(APITime.now()))]
                let conditions = (victim.pod.json[path: ["status", "conditions"]]?.arrayValue ?? []).filter { $0["type"] != "DisruptionTarget" }
                _ = try await client.patch(Pod.resource, namespace: victim.namespace, name: victim.name,
                                           ["status": ["conditions": .array(conditions + [condition])]], subresource: "status")
                try await client.delete(Pod.resource, namespace: victim.namespace, name: victim.name, uid: victim.uid)
                events.record(victim.pod, reason: "Preempted", message: message)
            } catch {
                if !error.isNotFound { logger.warning("preempting a pod failed", metadata: ["pod": "\(victim.key)", "error": "\(error)"]) }
            }
        }
        do {
            _ = try await client.patch(Pod.resource, namespace: pod.namespace, name: pod.name,
                                       ["status": ["nominatedNodeName": .string(preemption.node)]], subresource: "status")
        } catch {
            logger.warning("nominating a pod failed", metadata: ["pod": "\(pod.key)", "error": "\(error)"])
        }
    }

    /// PodScheduled=False with the reasons, and a FailedScheduling Event, once per new message.
    func reportUnschedulable(_ pod: Pod, _ message: String) async {
        let conditions = pod.json[path: ["status", "conditions"]]?.arrayValue ?? []
        if conditions.contains(where: { $0["type"] == "PodScheduled" && $0["status"] == "False" && $0["message"]?.stringValue == message }) {
            return
        }
        let now = JSONValue.string(APITime.format(APITime.now()))
        var updated = conditions.filter { $0["type"] != "PodScheduled" }
        updated.append(["type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": .string(message),
                        "lastProbeTime": .null, "lastTransitionTime": now])
        do {
            _ = try await client.patch(Pod.resource, namespace: pod.namespace, name: pod.name,
                                       ["status": ["conditions": .array(updated)]], subresource: "status")
        } catch {
            if !error.isNotFound { logger.warning("reporting an unschedulable pod failed", metadata: ["pod": "\(pod.cacheKey)", "error": "\(error)"]) }
            return
        }
        events.record(pod, type: "Warning", reason: "FailedScheduling", message: message)
        logger.info("unschedulable", metadata: ["pod": "\(pod.cacheKey)", "why": "\(message)"])
    }
}
