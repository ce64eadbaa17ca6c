import APIMachinery
import Client
public import DaemonRuntime
import JSON
import Logging
public import SchedulerCore

/// `netplane scheduler`'s loop: every pending pod of its scheduler name, highest priority
/// and oldest first, placed by `Scheduling.schedule` over the nodes and the pods already on
/// them, and bound through `pods/binding`. A pod just bound counts on its node (assumed) until
/// the cache shows it there, so a burst of pods never overfills a node. A pod that fits
/// nowhere gets `PodScheduled=False` (Unschedulable) and a `FailedScheduling` Event with the
/// reasons per node count, as `kubectl describe pod` shows them; every change to the nodes or
/// pods tries it again.
public final class SchedulerDaemon: Sendable {
    public static let defaultName = "default-scheduler"

    let daemon: Daemon
    let settings: Scheduling.Settings
    let schedulerName: String
    let work = WorkQueue()
    let loop: SyncLoop
    let pods: Informer<Pod>
    let nodes: Informer<Node>
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    public init(daemon: Daemon, settings: Scheduling.Settings, schedulerName: String = defaultName, resyncPeriod: Duration) {
        self.daemon = daemon
        self.settings = settings
        self.schedulerName = schedulerName
        let work = work
        pods = daemon.informer(Pod.self) { _ in work.markFull() }
        nodes = daemon.informer(Node.self) { _ in work.markFull() }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, retryInitial: .milliseconds(100)))
    }

    /// Pods bound by this scheduler that the cache does not show bound yet: key -> node.
    struct State {
        var assumed: [String: String] = [:]
    }

    public func run() async throws {
        guard await daemon.cachesSynced() else { return }
        try await loop.run(setup: { State() }) { state, _ in
            let failed = await pass(&state)
            if !failed.isEmpty { throw DaemonError(message: "binding failed: \(failed.joined(separator: "; "))") }
        }
    }

    func isPending(_ pod: Pod) -> Bool {
        (pod.nodeName ?? "").isEmpty && pod.deletionTimestamp == nil && pod.phase != "Succeeded" && pod.phase != "Failed"
            && (pod.json[path: ["spec", "schedulerName"]]?.stringValue ?? Self.defaultName) == schedulerName
    }

    func pass(_ state: inout State) async -> [String] {
        let allPods = pods.list()
        var pending: [Pod] = []
        var placed: [String: [Pod]] = [:]
        var seen = Set<String>()
        for pod in allPods {
            seen.insert(pod.cacheKey)
            if let node = pod.nodeName, !node.isEmpty {
                state.assumed[pod.cacheKey] = nil
                if pod.phase != "Succeeded" && pod.phase != "Failed" { placed[node, default: []].append(pod) }
            } else if let node = state.assumed[pod.cacheKey] {
                placed[node, default: []].append(pod)
            } else if isPending(pod) {
                pending.append(pod)
            }
        }
        state.assumed = state.assumed.filter { seen.contains($0.key) }
        var infos: [String: Scheduling.NodeInfo] = [:]
        for node in nodes.list() where node.deletionTimestamp == nil {
            infos[node.name] = Scheduling.NodeInfo(node: node, pods: placed[node.name] ?? [])
        }
        // Highest priority first, then the oldest.
        pending.sort { a, b in
            let (pa, pb) = (a.json[path: ["spec", "priority"]]?.intValue ?? 0, b.json[path: ["spec", "priority"]]?.intValue ?? 0)
            if pa != pb { return pa > pb }
            let (ta, tb) = (a.json[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "",
                            b.json[path: ["metadata", "creationTimestamp"]]?.stringValue ?? "")
            return ta != tb ? ta < tb : a.cacheKey < b.cacheKey
        }
        var failed: [String] = []
        for pod in pending {
            let decision = Scheduling.schedule(pod, nodes: Array(infos.values), settings: settings)
            switch decision {
            case .node(let name):
                do {
                    try await bind(pod, to: name)
                    state.assumed[pod.cacheKey] = name
                    infos[name]?.add(pod)
                } catch {
                    // Already bound (by someone else) or gone: the cache will say; else retry.
                    if !(error.isConflict || error.isNotFound) { failed.append("\(pod.cacheKey): \(error)") }
                }
            case .unschedulable:
                await reportUnschedulable(pod, decision.message)
            }
        }
        return failed
    }

    func bind(_ pod: Pod, to node: String) async throws(ClientError) {
        let binding: JSONValue = ["apiVersion": "v1", "kind": "Binding",
                                  "metadata": ["name": .string(pod.name), "namespace": .string(pod.namespace ?? "")],
                                  "target": ["apiVersion": "v1", "kind": "Node", "name": .string(node)]]
        try await client.post(Pod.resource, namespace: pod.namespace, name: pod.name, subresource: "binding", binding)
        logger.info("bound", metadata: ["pod": "\(pod.cacheKey)", "node": "\(node)"])
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
            let event: JSONValue = [
                "apiVersion": "v1", "kind": "Event",
                "metadata": ["generateName": .string(pod.name + "."), "namespace": .string(pod.namespace ?? "")],
                "involvedObject": ["apiVersion": "v1", "kind": "Pod", "name": .string(pod.name),
                                   "namespace": .string(pod.namespace ?? ""), "uid": .string(pod.uid)],
                "reason": "FailedScheduling", "message": .string(message), "type": "Warning",
                "source": ["component": .string(schedulerName)], "reportingComponent": .string(schedulerName),
                "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            ]
            _ = try await client.create(Event.resource, event)
            logger.info("unschedulable", metadata: ["pod": "\(pod.cacheKey)", "why": "\(message)"])
        } catch {
            logger.warning("reporting an unschedulable pod failed", metadata: ["pod": "\(pod.cacheKey)", "error": "\(error)"])
        }
    }
}
