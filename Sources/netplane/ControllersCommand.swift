import ArgumentParser
import Controllers
import DaemonRuntime
import Foundation
import NetAddress

/// `netplane controllers`: the cluster's control loops, each chosen with `--controllers` as
/// kube-controller-manager's are.
struct ControllersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controllers",
        abstract: "Run the control loops: service accounts (a default one per namespace), deployments, replica sets, daemon sets, stateful sets, jobs, cron jobs, endpoint slices, disruption budgets, node lifecycle, garbage collection, and node IPAM (a pod CIDR for every Node) when --cluster-cidr is given.")

    /// Every controller, by the name `--controllers` uses.
    static let all = ["cronjob", "daemonset", "deployment", "disruption", "endpointslice", "garbagecollector", "job", "nodeipam", "nodelifecycle",
                      "replicaset", "serviceaccount", "statefulset"]

    @OptionGroup var daemonFlags: DaemonFlags
    @Option(help: "Controllers to run: '*' for all, a name to add one, '-name' to leave one out (e.g. '*,-nodeipam'). Known: \(all.joined(separator: ", ")).")
    var controllers = "*"
    @Option(help: "Pod network (comma-separated, one per IP family) that node pod CIDRs are carved from; node IPAM runs only with it.")
    var clusterCIDR: String?
    @Option(help: "Prefix length of each node's IPv4 pod CIDR.") var nodeCIDRMaskSizeIPv4 = 24
    @Option(help: "Prefix length of each node's IPv6 pod CIDR.") var nodeCIDRMaskSizeIPv6 = 64
    @Option(help: "Seconds between full passes of every controller.") var resyncPeriod: Double = 30
    @Option(help: "How long a node may be silent (no Lease renewal, no status heartbeat) before it is marked Unknown and tainted unreachable (e.g. 40s, 2m).")
    var nodeMonitorGracePeriod = "40s"
    @Option(help: "How often the node lifecycle controller looks at every node (e.g. 5s).")
    var nodeMonitorPeriod = "5s"

    /// A Go-style duration as kube-controller-manager's flags take them: 500ms, 40s, 2m, 1h (or bare seconds).
    static func duration(_ text: String, flag: String) throws -> Duration {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (unit, scale) in units where text.hasSuffix(unit) {
            if unit == "s" && text.hasSuffix("ms") { continue }
            if let value = Double(text.dropLast(unit.count)), value > 0 { return .milliseconds(Int(value * scale * 1000)) }
        }
        if let value = Double(text), value > 0 { return .milliseconds(Int(value * 1000)) }
        throw ValidationError("\(flag): expected a positive duration such as 40s or 2m, got \(text)")
    }

    /// The controllers `--controllers` selects, as kube-controller-manager reads the flag.
    static func selected(_ text: String) throws -> Set<String> {
        var chosen = Set<String>()
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if item == "*" { chosen.formUnion(all); continue }
            let name = item.hasPrefix("-") ? String(item.dropFirst()) : item
            guard all.contains(name) else {
                throw ValidationError("--controllers: unknown controller \(name) (known: \(all.joined(separator: ", ")))")
            }
            if item.hasPrefix("-") { chosen.remove(name) } else { chosen.insert(name) }
        }
        return chosen
    }

    func run() async throws {
        var enabled = try Self.selected(controllers)
        guard resyncPeriod > 0 else { throw ValidationError("--resync-period: must be positive") }
        let resync = Duration.milliseconds(Int(resyncPeriod * 1000))
        var cidrs: [IPPrefix] = []
        for item in (clusterCIDR ?? "").split(separator: ",") {
            do { cidrs.append(try IPPrefix(item.trimmingCharacters(in: .whitespaces))) } catch {
                throw ValidationError("--cluster-cidr: \(error)")
            }
        }
        // kube-controller-manager's port.
        let daemon = try daemonFlags.daemon("controllers", defaultBind: "127.0.0.1:10257")
        if cidrs.isEmpty, enabled.contains("nodeipam") {
            // As kube-controller-manager: node IPAM allocates only with --cluster-cidr.
            if controllers.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "nodeipam" }) {
                throw ValidationError("--controllers: nodeipam needs --cluster-cidr")
            }
            enabled.remove("nodeipam")
        }
        var bodies: [@Sendable () async throws -> Void] = []
        if enabled.contains("nodeipam") {
            let settings = NodeIPAMController.Settings(clusterCIDRs: cidrs, maskSizeIPv4: nodeCIDRMaskSizeIPv4,
                                                       maskSizeIPv6: nodeCIDRMaskSizeIPv6, resyncPeriod: resync)
            let ipam: NodeIPAMController
            do { ipam = try NodeIPAMController(daemon: daemon, settings: settings) } catch {
                throw ValidationError("--cluster-cidr: \(error)")
            }
            daemon.logger.info("node IPAM", metadata: ["cluster_cidrs": "\(cidrs.map(\.description).joined(separator: ","))"])
            bodies.append { try await ipam.run() }
        }
        if enabled.contains("serviceaccount") {
            let accounts = ServiceAccountController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await accounts.run() }
        }
        if enabled.contains("endpointslice") {
            let slices = EndpointSliceController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await slices.run() }
        }
        if enabled.contains("deployment") {
            let deployments = DeploymentController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await deployments.run() }
        }
        if enabled.contains("daemonset") {
            let daemonSets = DaemonSetController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await daemonSets.run() }
        }
        if enabled.contains("job") {
            let jobs = JobController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await jobs.run() }
        }
        if enabled.contains("nodelifecycle") {
            let settings = NodeLifecycleController.Settings(
                gracePeriod: try Self.duration(nodeMonitorGracePeriod, flag: "--node-monitor-grace-period"),
                monitorPeriod: try Self.duration(nodeMonitorPeriod, flag: "--node-monitor-period"), resyncPeriod: resync)
            let lifecycle = NodeLifecycleController(daemon: daemon, settings: settings)
            bodies.append { try await lifecycle.run() }
        }
        if enabled.contains("statefulset") {
            let statefulSets = StatefulSetController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await statefulSets.run() }
        }
        if enabled.contains("cronjob") {
            let cronJobs = CronJobController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await cronJobs.run() }
        }
        if enabled.contains("replicaset") {
            let replicaSets = ReplicaSetController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await replicaSets.run() }
        }
        if enabled.contains("disruption") {
            let disruption = DisruptionController(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await disruption.run() }
        }
        if enabled.contains("garbagecollector") {
            let collector = GarbageCollector(daemon: daemon, resyncPeriod: resync)
            bodies.append { try await collector.run() }
        }
        daemon.logger.info("controllers", metadata: ["enabled": "\(enabled.sorted().joined(separator: ","))"])
        let run = bodies
        try await daemon.run {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for body in run { group.addTask { try await body() } }
                // The first controller to fail ends the daemon (the others are cancelled).
                try await group.next()
                try await group.waitForAll()
            }
        }
    }
}
