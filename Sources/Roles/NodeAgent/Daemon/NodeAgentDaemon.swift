import APIMachinery
public import Client
public import DaemonRuntime
import Foundation
import JSON
import NetNamespace
import NodeAgentCore
import Synchronization

/// `netplane kubelet`: registers this node, keeps its Lease, runs the pods bound to it (one
/// PodWorker each), finds them again after a restart and tears down what was deleted while
/// it was away, and serves their logs to the API server.
public final class NodeAgentDaemon: Sendable {
    public struct Settings: Sendable {
        public var nodeName: String
        /// The node's InternalIP (nil: the first global IPv4 address of this namespace).
        public var nodeIP: String?
        /// Where the agent's API (logs, exec, stats) listens; its port goes in the Node's status.
        public var address: String
        public var port: Int
        public var cpu: String?
        public var memory: String?
        public var maxPods: Int
        public var labels: [String: String]
        public var resyncPeriod: Duration

        public init(nodeName: String, nodeIP: String?, address: String, port: Int, cpu: String?, memory: String?, maxPods: Int,
                    labels: [String: String], resyncPeriod: Duration) {
            self.nodeName = nodeName
            self.nodeIP = nodeIP
            self.address = address
            self.port = port
            self.cpu = cpu
            self.memory = memory
            self.maxPods = maxPods
            self.labels = labels
            self.resyncPeriod = resyncPeriod
        }
    }

    struct Running: Sendable {
        var key: String
        var worker: PodWorker
    }

    let daemon: Daemon
    let settings: Settings
    public let context: AgentContext
    let pods: Informer<Pod>
    let queue = WorkQueue()
    let loop: SyncLoop
    let workers = Mutex<[String: Running]>([:])
    /// The token the API server presents when it asks for logs (from the Secret it writes).
    let serverToken = Mutex<String?>(nil)
    /// The last CPU reading of each cgroup the summary reports, for a rate (nanocores).
    let cpuSamples = Mutex<[String: CPUSample]>([:])

    struct CPUSample: Sendable {
        var time: Double
        var nanos: UInt64
        var rate: UInt64
    }

    public init(daemon: Daemon, settings: Settings, context: AgentContext) {
        self.daemon = daemon
        self.settings = settings
        self.context = context
        let queue = self.queue
        pods = daemon.informer(Pod.self, options: ListOptions(fieldSelector: "spec.nodeName=\(settings.nodeName)")) { event in
            queue.mark(event.object.cacheKey)
        }
        loop = daemon.syncLoop(queue, .init(resyncPeriod: settings.resyncPeriod, retryInitial: .milliseconds(200)))
    }

    public func run() async throws {
        ProcessRunner.shared.start()
        for dir in ["pods", "runc"] {
            try FileManager.default.createDirectory(atPath: "\(context.settings.root)/\(dir)", withIntermediateDirectories: true)
        }
        chmod(context.settings.root, 0o700)
        let node = try await register()
        let heartbeat = Task { await heartbeats(nodeUID: node.uid ?? "") }
        let server = Task { await serve() }
        defer {
            heartbeat.cancel()
            server.cancel()
        }
        try await loop.run(setup: { () async throws -> Bool in
            guard await daemon.cachesSynced() else { throw CancellationError() }
            await adopt()
            return true
        }) { _, pass in
            let keys = pass.full ? Set(pods.list().map(\.cacheKey)).union(workers.withLock { Set($0.values.map(\.key)) }) : pass.dirty
            for key in keys { await dispatch(key) }
        }
    }

    // MARK: - Pods

    /// Hands a pod's latest state to its worker (making one for a new pod), or tells the
    /// workers of a name whose pod is gone (or was replaced by another uid).
    func dispatch(_ key: String) async {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        let pod = parts.count == 2 ? pods.get(namespace: parts[0], name: parts[1]) : nil
        let current = workers.withLock { $0.filter { $0.value.key == key } }
        for (uid, running) in current where uid != pod?.uid {
            await running.worker.podGone()
        }
        guard let pod, !pod.uid.isEmpty else { return }
        if let running = current[pod.uid] {
            await running.worker.update(pod.json)
            return
        }
        // A pod that ended before this agent knew it (its record is gone) stays as it is.
        if pod.phase == "Succeeded" || pod.phase == "Failed" { return }
        start(PodWorker(context: context, pod: pod.json, record: nil), key: key)
    }

    func start(_ worker: PodWorker, key: String) {
        let uid = worker.uid
        workers.withLock { $0[uid] = Running(key: key, worker: worker) }
        Task {
            await worker.run()
            _ = workers.withLock { $0.removeValue(forKey: uid) }
        }
    }

    /// After a restart: a worker for every pod record on disk (its containers are adopted, not
    /// restarted), and a teardown for the records whose pods were deleted meanwhile; runc
    /// containers that no record names are removed.
    func adopt() async {
        let root = "\(context.settings.root)/pods"
        var known = Set<String>()
        for uid in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            guard let record = PodRecord.load("\(root)/\(uid)/state.json") else {
                // A directory without a record: a sandbox that never got far. Nothing runs there.
                context.removePodCgroups(uid)
                try? FileManager.default.removeItem(atPath: "\(root)/\(uid)")
                continue
            }
            known.insert(uid)
            let pod = pods.get(namespace: record.namespace, name: record.name)
            let key = "\(record.namespace)/\(record.name)"
            var json: JSONValue = pod?.json ?? ["metadata": ["name": .string(record.name), "namespace": .string(record.namespace), "uid": .string(uid)]]
            if pod?.uid != uid {
                json = ["metadata": ["name": .string(record.name), "namespace": .string(record.namespace), "uid": .string(uid)]]
            }
            let worker = PodWorker(context: context, pod: json, record: record)
            if pod?.uid != uid { await worker.podGone() }
            context.logger.info(pod?.uid == uid ? "adopting pod" : "cleaning up a pod deleted while the agent was away",
                                metadata: ["pod": "\(key)", "uid": "\(uid)"])
            start(worker, key: key)
        }
        if let containers = try? await context.runc.list() {
            for container in containers where !known.contains(where: { container.id.hasPrefix($0 + "-") }) {
                context.logger.info("removing a container no pod owns", metadata: ["id": "\(container.id)"])
                try? await context.runc.delete(id: container.id)
            }
        }
    }

    func worker(namespace: String, name: String) -> PodWorker? {
        let key = "\(namespace)/\(name)"
        let uid = pods.get(namespace: namespace, name: name)?.uid
        return workers.withLock { all in all.first { $0.value.key == key && ($0.key == uid || uid == nil) }?.value.worker }
    }

    // MARK: - Node

    /// The first global IPv4 address of this network namespace (the node's InternalIP when
    /// no --node-ip is given).
    public static func firstAddress() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var found: String?
        var cursor = list
        while found == nil, let entry = cursor {
            cursor = entry.pointee.ifa_next
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                let raw = UInt32(bigEndian: sin.pointee.sin_addr.s_addr)
                return "\(raw >> 24).\((raw >> 16) & 255).\((raw >> 8) & 255).\(raw & 255)"
            }
            if !ip.hasPrefix("127.") && !ip.hasPrefix("169.254.") { found = ip }
        }
        return found
    }

    var capacity: JSONValue {
        let cpu = settings.cpu ?? String(ProcessInfo.processInfo.activeProcessorCount)
        let memory = settings.memory ?? "\(ProcessInfo.processInfo.physicalMemory / 1024)Ki"
        return ["cpu": .string(cpu), "memory": .string(memory), "pods": .string(String(settings.maxPods))]
    }

    var networkReady: Bool { (try? context.cni.network()) != nil }

    func nodeStatus(previous: JSONValue?) -> JSONValue {
        let now = APITime.format(APITime.now())
        let ready = networkReady
        var conditions: [JSONValue] = []
        for (type, ok, reason, message) in [
            ("MemoryPressure", false, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", false, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", false, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            ("Ready", ready, ready ? "KubeletReady" : "KubeletNotReady",
             ready ? "kubelet is posting ready status"
                   : "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"),
        ] {
            let status = ok ? "True" : "False"
            let old = previous?["conditions"]?.arrayValue?.first { $0["type"]?.stringValue == type }
            let since = old?["status"]?.stringValue == status ? old?["lastTransitionTime"] : nil
            conditions.append(["type": .string(type), "status": .string(status), "reason": .string(reason), "message": .string(message),
                               "lastHeartbeatTime": .string(now), "lastTransitionTime": since ?? .string(now)])
        }
        var addresses: [JSONValue] = []
        if let ip = context.settings.hostIP { addresses.append(["type": "InternalIP", "address": .string(ip)]) }
        addresses.append(["type": "Hostname", "address": .string(settings.nodeName)])
        var uts = utsname()
        uname(&uts)
        let kernel = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return [
            "capacity": capacity, "allocatable": capacity, "conditions": .array(conditions), "addresses": .array(addresses),
            "daemonEndpoints": ["kubeletEndpoint": ["Port": .int(Int64(settings.port))]],
            "nodeInfo": nodeInfo(kernel: kernel),
        ]
    }

    func nodeInfo(kernel: String) -> JSONValue {
        let runtime: JSONValue = .string("runc://" + Self.runcVersion)
        return ["kubeletVersion": "v1.32.0-netplane", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
                "containerRuntimeVersion": runtime, "kernelVersion": .string(kernel), "osImage": .string(Self.osImage()),
                "machineID": "", "systemUUID": "", "bootID": ""]
    }

    static let runcVersion = "1.1"

    static func osImage() -> String {
        let text = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return line.dropFirst(12).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return "Linux"
    }

    static let notReadyTaint: JSONValue = ["key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"]

    /// Creates the Node (tainted not-ready until it reports Ready, as a kubelet registers),
    /// or takes over an existing one (its spec, such as the pod CIDR, is kept).
    func register() async throws -> JSONValue {
        var labels: [String: JSONValue] = ["kubernetes.io/hostname": .string(settings.nodeName), "kubernetes.io/os": "linux",
                                           "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"]
        for (k, v) in settings.labels { labels[k] = .string(v) }
        let existing = try await existingNode()
        let node: JSONValue
        if existing != nil {
            node = try await context.client.patch(Node.resource, namespace: nil, name: settings.nodeName, ["metadata": ["labels": .object(labels)]])
        } else {
            let object: JSONValue = ["apiVersion": "v1", "kind": "Node",
                                     "metadata": ["name": .string(settings.nodeName), "labels": .object(labels)],
                                     "spec": ["taints": [Self.notReadyTaint]]]
            node = try await context.client.create(Node.resource, object)
            daemon.logger.info("registered node", metadata: ["node": "\(settings.nodeName)"])
        }
        return try await updateNodeStatus(node)
    }

    /// This node's object, nil when there is none yet.
    func existingNode() async throws -> JSONValue? {
        do {
            return try await context.client.get(Node.resource, namespace: nil, name: settings.nodeName)
        } catch {
            if error.isNotFound { return nil }
            throw error
        }
    }

    /// Writes the node's status, and takes the not-ready taint off once Ready (puts it back
    /// when the network goes away).
    @discardableResult
    func updateNodeStatus(_ node: JSONValue) async throws -> JSONValue {
        var updated = try await context.client.patch(Node.resource, namespace: nil, name: settings.nodeName,
                                                     ["status": nodeStatus(previous: node["status"])], subresource: "status")
        let taints = updated[path: ["spec", "taints"]]?.arrayValue ?? []
        let tainted = taints.contains { $0["key"] == Self.notReadyTaint["key"] && $0["effect"] == "NoSchedule" }
        let ready = networkReady
        if ready == tainted {
            let next = ready ? taints.filter { !($0["key"] == Self.notReadyTaint["key"] && $0["effect"] == "NoSchedule") }
                             : taints + [Self.notReadyTaint]
            updated = try await context.client.patch(Node.resource, namespace: nil, name: settings.nodeName,
                                                     ["spec": ["taints": .array(next)]])
        }
        return updated
    }

    /// The node's heartbeats: its Lease renewed every 10 s, its status every minute and
    /// within a second of readiness changing (a CNI configuration appearing or going).
    func heartbeats(nodeUID: String) async {
        var lastLease = ContinuousClock.now - .seconds(60)
        var lastStatus = ContinuousClock.now
        var lastSample = ContinuousClock.now - .seconds(60)
        var wasReady = networkReady
        while !Task.isCancelled {
            if ContinuousClock.now - lastLease >= .seconds(10) {
                await renewLease(nodeUID: nodeUID)
                lastLease = .now
            }
            if ContinuousClock.now - lastSample >= .seconds(10) {
                // CPU is a rate between two readings: take one every 10 s (kubectl top's window).
                _ = await summary()
                lastSample = .now
            }
            let ready = networkReady
            if ready != wasReady || ContinuousClock.now - lastStatus > .seconds(60) {
                if let node = try? await context.client.get(Node.resource, namespace: nil, name: settings.nodeName),
                   (try? await updateNodeStatus(node)) != nil {
                    lastStatus = .now
                    wasReady = ready
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func renewLease(nodeUID: String) async {
        let now = Date()
        let micros = Int(now.timeIntervalSince1970 * 1_000_000) % 1_000_000
        let base = APITime.format(Int(now.timeIntervalSince1970)).dropLast()
        let renew = "\(base).\(String(repeating: "0", count: 6 - String(micros).count))\(micros)Z"
        let renewed: ClientError?
        do {
            _ = try await context.client.patch(Lease.resource, namespace: "kube-node-lease", name: settings.nodeName,
                                               ["spec": ["renewTime": .string(renew), "holderIdentity": .string(settings.nodeName)]])
            renewed = nil
        } catch { renewed = error }
        guard let renewed else { return }
        if renewed.isNotFound {
            let lease: JSONValue = [
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": ["name": .string(settings.nodeName), "namespace": "kube-node-lease",
                             "ownerReferences": [["apiVersion": "v1", "kind": "Node", "name": .string(settings.nodeName), "uid": .string(nodeUID)]]],
                "spec": ["holderIdentity": .string(settings.nodeName), "leaseDurationSeconds": 40, "renewTime": .string(renew)],
            ]
            do { _ = try await context.client.create(Lease.resource, lease) } catch {
                daemon.logger.warning("cannot create the node lease", metadata: ["error": "\(error)"])
            }
        } else {
            daemon.logger.warning("cannot renew the node lease", metadata: ["error": "\(renewed)"])
        }
    }
}
