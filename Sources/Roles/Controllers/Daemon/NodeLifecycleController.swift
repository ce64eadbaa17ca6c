import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging
import Synchronization

/// The node lifecycle controller of `netplane controllers`: watches every node's heartbeat
/// (its Lease in kube-node-lease and its Ready condition's lastHeartbeatTime), and carries
/// out `NodeLifecycle.plan`: a node silent for the grace period turns Unknown and gets the
/// unreachable taints, its pods turn not ready (so Services stop sending them traffic), and
/// pods that do not tolerate the NoExecute taint are evicted when their toleration runs out.
/// A heartbeat is judged by when this controller saw it change, not by its timestamp, so a
/// node with a skewed clock is judged fairly.
public final class NodeLifecycleController: Sendable {
    public struct Settings: Sendable {
        /// Silence after which a node is Unknown (kube-controller-manager's 40 s).
        public var gracePeriod: Duration
        /// How often every node is looked at (kube-controller-manager's 5 s).
        public var monitorPeriod: Duration
        public var resyncPeriod: Duration

        public init(gracePeriod: Duration = .seconds(40), monitorPeriod: Duration = .seconds(5), resyncPeriod: Duration) {
            self.gracePeriod = gracePeriod
            self.monitorPeriod = monitorPeriod
            self.resyncPeriod = resyncPeriod
        }
    }

    let daemon: Daemon
    let settings: Settings
    let work = WorkQueue()
    let loop: SyncLoop
    let nodes: Informer<Node>
    let leases: Informer<Lease>
    let pods: Informer<Pod>
    let events: EventRecorder
    /// The last heartbeat seen per node and when this controller saw it.
    let heartbeats = Mutex<[String: (beat: String, seen: ContinuousClock.Instant)]>([:])
    /// A toleration runs out without an event.
    let rechecks: Rechecks
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let nodeIndex = "node"
    public static let leaseNamespace = "kube-node-lease"

    public init(daemon: Daemon, settings: Settings) {
        self.daemon = daemon
        self.settings = settings
        let work = work
        nodes = daemon.informer(Node.self) { event in work.mark(event.object.name) }
        leases = daemon.informer(Lease.self, namespace: Self.leaseNamespace) { event in work.mark(event.object.name) }
        pods = daemon.informer(Pod.self, indexers: [Self.nodeIndex: { pod in pod.nodeName.map { [$0] } ?? [] }]) { event in
            if let node = event.object.nodeName, !node.isEmpty { work.mark(node) }
        }
        events = daemon.eventRecorder(component: "node-controller")
        rechecks = Rechecks(work, slack: .zero)
        loop = daemon.syncLoop(work, .init(resyncPeriod: settings.resyncPeriod, name: "nodelifecycle"))
    }

    public func run() async throws {
        let ticker = work.markFullEvery(settings.monitorPeriod)
        defer { ticker.cancel() }
        try await runKeyed(daemon, loop, work, "nodes", all: { nodes.list().map(\.name) }) { name throws(ClientError) in
            try await sync(name)
        }
    }

    /// Seconds since the node's heartbeat last changed, as this controller saw it.
    func silence(of node: Node) -> Int {
        let lease = leases.get(namespace: Self.leaseNamespace, name: node.name)
        let ready = (node.json[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "Ready" }
        let beat = "\(lease?.json[path: ["spec", "renewTime"]]?.stringValue ?? "")|\(ready?["lastHeartbeatTime"]?.stringValue ?? "")"
        let now = ContinuousClock.now
        let seen = heartbeats.withLock { all -> ContinuousClock.Instant in
            if let known = all[node.name], known.beat == beat { return known.seen }
            all[node.name] = (beat, now)
            return now
        }
        return Int((now - seen).components.seconds)
    }

    func sync(_ name: String) async throws(ClientError) {
        guard let node = nodes.get(name: name), node.deletionTimestamp == nil else {
            heartbeats.withLock { $0[name] = nil }
            return
        }
        let now = APITime.now()
        let grace = Int(settings.gracePeriod.components.seconds)
        let plan = NodeLifecycle.plan(node, silentFor: silence(of: node), gracePeriod: grace,
                                      pods: pods.byIndex(Self.nodeIndex, name), now: now)
        if let conditions = plan.conditions {
            var updated = node
            updated.json[path: ["status", "conditions"]] = conditions
            _ = try await client.updateStatus(updated)
            logger.info("node stopped posting its status", metadata: ["node": "\(name)"])
            events.record(node, reason: "NodeNotReady", message: "Node \(name) status is now: NodeNotReady")
        }
        if let taints = plan.taints {
            _ = try await client.patch(Node.resource, namespace: nil, name: name, ["spec": ["taints": taints]])
            logger.info("node taints", metadata: ["node": "\(name)", "taints": "\(taints)"])
        }
        for pod in plan.markNotReady {
            var conditions = (pod.json[path: ["status", "conditions"]]?.arrayValue ?? []).filter { $0["type"] != "Ready" }
            conditions.append(["type": "Ready", "status": "False", "reason": "NodeNotReady",
                               "lastTransitionTime": .string(APITime.format(now))])
            do {
                _ = try await client.patch(Pod.resource, namespace: pod.namespace, name: pod.name,
                                           ["status": ["conditions": .array(conditions)]], subresource: "status")
            } catch { if !error.isNotFound { throw error } }
        }
        for pod in plan.evict {
            let condition: JSONValue = ["type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                                        "message": "Taint manager: deleting due to NoExecute taint",
                                        "lastTransitionTime": .string(APITime.format(now))]
            let conditions = (pod.json[path: ["status", "conditions"]]?.arrayValue ?? []).filter { $0["type"] != "DisruptionTarget" }
            do {
                _ = try await client.patch(Pod.resource, namespace: pod.namespace, name: pod.name,
                                           ["status": ["conditions": .array(conditions + [condition])]], subresource: "status")
                try await client.delete(Pod.resource, namespace: pod.namespace, name: pod.name, uid: pod.uid)
            } catch { if !error.isNotFound { throw error } }
            logger.info("evicted a pod from a tainted node", metadata: ["pod": "\(pod.cacheKey)", "node": "\(name)"])
            events.record(pod, reason: "TaintManagerEviction", message: "Marking for deletion Pod \(pod.cacheKey)")
        }
        rechecks.schedule(name, at: plan.recheckAt, now: now)
    }
}
