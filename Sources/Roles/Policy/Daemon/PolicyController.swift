import APITypes
import Client
public import DaemonRuntime
import JSON
import Logging
import Metrics
import NFTables
import Netlink
import PolicyCore
import Synchronization

/// `netplane policy`'s reconciler on the daemon runtime: informers on NetworkPolicies, Pods and
/// Namespaces mark what changed on the work queue; each pass feeds the changed objects to
/// the incremental compiler and commits its one transaction (both families). A full pass
/// (first, every `syncPeriod`, after a failure) rebuilds the compiler from the caches and
/// replaces the tables atomically, repairing anything changed behind the daemon's back.
public final class PolicyController: Sendable {
    public struct Settings: Sendable {
        public var nodeName: String
        public var syncPeriod: Duration
        public var tableName: String
        /// The network namespace to program, a path such as /run/netns/node1 (nil: the
        /// daemon's own).
        public var namespacePath: String?
        public init(nodeName: String, syncPeriod: Duration = .seconds(60), tableName: String = "netplane-policy",
                    namespacePath: String? = nil) {
            self.nodeName = nodeName; self.syncPeriod = syncPeriod; self.tableName = tableName; self.namespacePath = namespacePath
        }
    }

    let daemon: Daemon
    let settings: Settings
    let policies: Informer<NetworkPolicy>
    let pods: Informer<Pod>
    let namespaces: Informer<Namespace>
    let work = WorkQueue()
    let loop: SyncLoop
    let events: EventRecorder
    let isolatedPods: Gauge
    let rules: Gauge
    /// Policies already reported as invalid, by uid and resourceVersion (one Event each).
    let reported = Mutex<Set<String>>([])

    var logger: Logger { daemon.logger }

    public init(daemon: Daemon, settings: Settings) {
        self.daemon = daemon
        self.settings = settings
        let work = self.work
        policies = daemon.informer(NetworkPolicy.self) { event in work.mark("policy/" + event.object.cacheKey) }
        pods = daemon.informer(Pod.self) { event in work.mark("pod/" + event.object.cacheKey) }
        namespaces = daemon.informer(Namespace.self) { event in work.mark("namespace/" + event.object.name) }
        loop = daemon.syncLoop(work, .init(resyncPeriod: settings.syncPeriod))
        events = daemon.eventRecorder(component: "netplane-policy")
        isolatedPods = Gauge(label: "netplane_policy_isolated_pods", factory: daemon.observability.factory)
        rules = Gauge(label: "netplane_policy_rules", factory: daemon.observability.factory)
    }

    struct State {
        let socket: NFTSocket
        var compiler: PolicyCompiler
    }

    /// Syncs until cancelled; throws when the enforcer cannot start (no nftables socket).
    public func run() async throws {
        guard await daemon.cachesSynced() else { return }
        try await loop.run(setup: { () throws -> State in
            let namespace = try settings.namespacePath.map { try NetNS.open(path: $0) }
            try Self.enableBridgeFiltering(in: namespace)
            let socket = try settings.namespacePath.map { try NFTSocket(namespacePath: $0) } ?? NFTSocket()
            return State(socket: socket, compiler: PolicyCompiler(options: .init(nodeName: settings.nodeName, tableName: settings.tableName),
                                                                   generation: UInt32.random(in: 1...UInt32.max / 2)))
        }, sync: { state, pass in try self.sync(&state, pass) })
    }

    /// Pods on one node talk through a Linux bridge (the bridge and flannel plugins), which
    /// hands frames on without the IP hooks unless br_netfilter is asked to pass them through
    /// them (per network namespace). The nftables bridge family would see them too, but
    /// without conntrack there (nf_conntrack_bridge) replies could not be told from new
    /// connections, so the enforcer relies on br_netfilter.
    static func enableBridgeFiltering(in namespace: NetNS?) throws {
        for key in ["net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"] {
            do {
                if try Sysctl.get(key, in: namespace) != "1" { try Sysctl.set(key, "1", in: namespace) }
            } catch {
                throw DaemonError(message: "\(key): \(error): pods on one bridge cannot be filtered without br_netfilter (modprobe br_netfilter)")
            }
        }
    }

    func sync(_ state: inout State, _ pass: SyncPass) throws {
        let start = ContinuousClock.now
        if pass.full {
            var compiler = PolicyCompiler(options: state.compiler.options, generation: state.compiler.generation)
            for namespace in namespaces.list() { compiler.update(namespace: namespace.name, labels: namespace.labels) }
            for pod in pods.list() { if let parsed = PolicyPod(pod) { compiler.update(pod: parsed) } }
            let policyObjects = policies.list()
            for policy in policyObjects { if let parsed = parse(policy) { compiler.update(policy: parsed) } }
            try state.socket.commit(compiler.fullTransaction())
            state.compiler = compiler
            logger.info("full sync", metadata: ["policies": "\(policyObjects.count)", "isolated_pods": "\(compiler.isolatedPodCount)",
                                                "rules": "\(compiler.ruleCount)", "took": "\(ContinuousClock.now - start)"])
        } else {
            for key in pass.dirty.sorted() { apply(key, to: &state.compiler) }
            var committed = false
            try state.compiler.commit { (t: Transaction) throws(NFTablesError) in
                try state.socket.commit(t)
                committed = true
            }
            if committed {
                logger.info("sync", metadata: ["changed": "\(pass.dirty.sorted().joined(separator: ","))",
                                               "took": "\(ContinuousClock.now - start)"])
            }
        }
        isolatedPods.record(state.compiler.isolatedPodCount)
        rules.record(state.compiler.ruleCount)
    }

    /// Feeds one changed object (as the caches have it now) to the compiler.
    func apply(_ key: String, to compiler: inout PolicyCompiler) {
        let (kind, rest) = (key.prefix { $0 != "/" }, key.drop { $0 != "/" }.dropFirst())
        let parts = rest.split(separator: "/", maxSplits: 1).map(String.init)
        switch kind {
        case "namespace":
            if let namespace = namespaces.get(name: String(rest)) {
                compiler.update(namespace: namespace.name, labels: namespace.labels)
            } else {
                compiler.removeNamespace(String(rest))
            }
        case "pod" where parts.count == 2:
            if let pod = pods.get(namespace: parts[0], name: parts[1]).flatMap(PolicyPod.init) {
                compiler.update(pod: pod)
            } else {
                compiler.removePod(ObjectKey(parts[0], parts[1]))
            }
        case "policy" where parts.count == 2:
            if let policy = policies.get(namespace: parts[0], name: parts[1]).flatMap(parse) {
                compiler.update(policy: policy)
            } else {
                compiler.removePolicy(ObjectKey(parts[0], parts[1]))
            }
        default:
            logger.warning("unknown work item", metadata: ["key": "\(key)"])
        }
    }

    /// The policy as the compiler takes it. One that cannot be read as written is enforced as
    /// deny-all for the pods it selects (failing closed: a typo must not open a pod), with a
    /// Warning Event on it; one whose pod selector cannot be read selects nothing.
    func parse(_ policy: NetworkPolicy) -> ParsedPolicy? {
        do {
            return try ParsedPolicy(policy)
        } catch {
            let fallback = ParsedPolicy.denyAll(policy)
            let id = policy.uid + "@" + policy.resourceVersion
            if reported.withLock({ $0.insert(id).inserted }) {
                let what = fallback == nil ? "it selects no pod" : "its pods are isolated with nothing allowed"
                logger.error("invalid NetworkPolicy", metadata: ["policy": "\(policy.cacheKey)", "error": "\(error)", "enforced": "\(what)"])
                events.record(policy, type: "Warning", reason: "InvalidPolicy", message: "\(error); \(what)")
            }
            return fallback
        }
    }
}
