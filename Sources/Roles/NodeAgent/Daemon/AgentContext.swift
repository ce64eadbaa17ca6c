import APIMachinery
public import Client
import CNodeAgent
public import DaemonRuntime
import Foundation
import JSON
public import Logging
import NodeAgentCore
import Synchronization

/// What every pod worker of one agent shares: the API, the runtime, the images, the network.
public final class AgentContext: Sendable {
    public struct Settings: Sendable {
        public var nodeName: String
        /// Pod directories, runc state, logs.
        public var root: String
        /// The cgroup every pod's cgroup is made under (cgroupfs paths).
        public var cgroupParent: String
        public var clusterDNS: [String]
        public var clusterDomain: String
        /// The node's address pods see as status.hostIP.
        public var hostIP: String?
        public var pauseBinary: String
        /// The node's resolv.conf, what pods without cluster DNS get.
        public var resolvConf: String

        public init(nodeName: String, root: String, cgroupParent: String, clusterDNS: [String], clusterDomain: String,
                    hostIP: String?, pauseBinary: String, resolvConf: String) {
            self.nodeName = nodeName
            self.root = root
            self.cgroupParent = cgroupParent
            self.clusterDNS = clusterDNS
            self.clusterDomain = clusterDomain
            self.hostIP = hostIP
            self.pauseBinary = pauseBinary
            self.resolvConf = resolvConf
        }
    }

    public let settings: Settings
    public let client: APIClient
    public let events: EventRecorder
    public let logger: Logger
    public let runc: Runc
    public let cni: CNIRuntime
    public let images: ImageStore

    public init(settings: Settings, client: APIClient, events: EventRecorder, logger: Logger, runc: Runc, cni: CNIRuntime,
                images: ImageStore) {
        self.settings = settings
        self.client = client
        self.events = events
        self.logger = logger
        self.runc = runc
        self.cni = cni
        self.images = images
    }

    func podDirectory(_ uid: String) -> String { "\(settings.root)/pods/\(uid)" }
    func cgroupPath(_ uid: String) -> String { "\(settings.cgroupParent)/pod\(uid)" }

    /// Removes a pod's cgroup directories (runc removes each container's; the pod level is ours).
    func removePodCgroups(_ uid: String) {
        for base in Self.cgroupMounts() {
            let path = base + cgroupPath(uid)
            // Innermost first: the container directories runc left (if any), then the pod's.
            if let children = try? FileManager.default.contentsOfDirectory(atPath: path) {
                for child in children where (try? FileManager.default.attributesOfItem(atPath: "\(path)/\(child)")[.type] as? FileAttributeType) == .typeDirectory {
                    rmdir("\(path)/\(child)")
                }
            }
            rmdir(path)
        }
    }

    /// The cgroup hierarchies: every v1 controller mount, or the one v2 mount.
    static func cgroupMounts() -> [String] {
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") { return ["/sys/fs/cgroup"] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []
        return entries.map { "/sys/fs/cgroup/\($0)" }.filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: $0)) == nil
        }
    }

    /// CPU seconds used and memory in use by a pod, from its cgroup (v1 cpuacct and memory, or v2).
    func podUsage(_ uid: String) -> (cpuNanos: UInt64, memoryBytes: UInt64)? {
        Self.usage(cgroupPath(uid))
    }

    static func usage(_ path: String) -> (cpuNanos: UInt64, memoryBytes: UInt64)? {
        func number(_ file: String) -> UInt64? {
            (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") {
            guard let stat = try? String(contentsOfFile: "/sys/fs/cgroup\(path)/cpu.stat", encoding: .utf8) else { return nil }
            let usec = stat.split(separator: "\n").first { $0.hasPrefix("usage_usec ") }.flatMap { UInt64($0.split(separator: " ")[1]) } ?? 0
            return (usec * 1000, number("/sys/fs/cgroup\(path)/memory.current") ?? 0)
        }
        guard let cpu = number("/sys/fs/cgroup/cpuacct\(path)/cpuacct.usage") else { return nil }
        // Working set as the kubelet counts it: usage minus inactive file pages.
        var memory = number("/sys/fs/cgroup/memory\(path)/memory.usage_in_bytes") ?? 0
        if let stat = try? String(contentsOfFile: "/sys/fs/cgroup/memory\(path)/memory.stat", encoding: .utf8),
           let inactive = stat.split(separator: "\n").first(where: { $0.hasPrefix("total_inactive_file ") }).flatMap({ UInt64($0.split(separator: " ")[1]) }) {
            memory = memory > inactive ? memory - inactive : 0
        }
        return (cpu, memory)
    }
}

/// A pod's ConfigMaps and Secrets, fetched once before its containers are made.
struct FetchedInputs: PodInputs {
    var configMaps: [String: [String: String]] = [:]
    var secrets: [String: [String: [UInt8]]] = [:]

    func configMap(_ namespace: String, _ name: String) -> [String: String]? { configMaps[name] }
    func secret(_ namespace: String, _ name: String) -> [String: [UInt8]]? { secrets[name] }

    /// Every ConfigMap and Secret the pod's env, envFrom and volumes name (a missing one is
    /// simply absent: the spec's `optional` decides whether that is an error).
    static func fetch(for pod: JSONValue, client: APIClient) async -> FetchedInputs {
        var cms = Set<String>(), secrets = Set<String>()
        let spec = pod["spec"] ?? .emptyObject
        for c in (spec["containers"]?.arrayValue ?? []) + (spec["initContainers"]?.arrayValue ?? []) {
            for source in c["envFrom"]?.arrayValue ?? [] {
                if let n = source[path: ["configMapRef", "name"]]?.stringValue { cms.insert(n) }
                if let n = source[path: ["secretRef", "name"]]?.stringValue { secrets.insert(n) }
            }
            for env in c["env"]?.arrayValue ?? [] {
                if let n = env[path: ["valueFrom", "configMapKeyRef", "name"]]?.stringValue { cms.insert(n) }
                if let n = env[path: ["valueFrom", "secretKeyRef", "name"]]?.stringValue { secrets.insert(n) }
            }
        }
        for v in spec["volumes"]?.arrayValue ?? [] {
            if let n = v[path: ["configMap", "name"]]?.stringValue { cms.insert(n) }
            if let n = v[path: ["secret", "secretName"]]?.stringValue { secrets.insert(n) }
            for source in v[path: ["projected", "sources"]]?.arrayValue ?? [] {
                if let n = source[path: ["configMap", "name"]]?.stringValue { cms.insert(n) }
                if let n = source[path: ["secret", "name"]]?.stringValue { secrets.insert(n) }
            }
        }
        let namespace = pod.namespace ?? "default"
        var inputs = FetchedInputs()
        for name in cms {
            guard let cm = try? await client.get(ConfigMap.resource, namespace: namespace, name: name) else { continue }
            var data = (cm["data"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            for (key, value) in cm["binaryData"]?.objectValue ?? [:] {
                if let bytes = value.stringValue.flatMap(Base64.decode) { data[key] = String(decoding: bytes, as: UTF8.self) }
            }
            inputs.configMaps[name] = data
        }
        for name in secrets {
            guard let secret = try? await client.get(Secret.resource, namespace: namespace, name: name) else { continue }
            var data = (secret["data"]?.objectValue ?? [:]).compactMapValues { $0.stringValue.flatMap(Base64.decode) }
            for (key, value) in secret["stringData"]?.objectValue ?? [:] { data[key] = value.stringValue.map { Array($0.utf8) } }
            inputs.secrets[name] = data
        }
        return inputs
    }
}

/// Wakes a pod worker: an update of its pod, a container's exit, a timer. Wake-ups that
/// arrive while it works are kept (one is enough).
final class WakeSignal: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func fire() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns on the next wake-up, or after `seconds`.
    func wait(seconds: Double) async {
        let timer = Task { [self] in
            try? await Task.sleep(for: .milliseconds(Int(max(0, seconds) * 1000)))
            if !Task.isCancelled { fire() }
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.pending {
                    s.pending = false
                    return true
                }
                s.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
        timer.cancel()
    }
}
