import ArgumentParser
import DaemonRuntime
import Foundation
import NetAddress
import Proxy

/// `netplane proxy`: the service proxy of one node.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Program this node's Services (ClusterIP, NodePort, LoadBalancer, externalIPs) into nftables.")

    @OptionGroup var daemonFlags: DaemonFlags
    @Option(help: "This node's name (its Node object and local endpoints).") var nodeName: String
    @Option(help: "nftables (the default) or ipvs.") var mode = "nftables"
    @Option(help: "IPVS mode's scheduler: rr, wrr, lc, wlc, sh, dh, sed or nq.") var ipvsScheduler = "rr"
    @Option(help: "Pod CIDRs (comma-separated): traffic from outside them to a ClusterIP is masqueraded.")
    var clusterCIDR: String?
    @Option(help: "Node ports answer on the node's addresses inside these CIDRs (comma-separated; default: all).")
    var nodeportAddresses: String?
    @Flag(help: "Masquerade all traffic to service addresses.") var masqueradeAll = false
    @Option(help: "Seconds between full resyncs.") var syncPeriod: Double = 30
    @Option(help: "Program the rules in this network namespace (a path such as /run/netns/node1) instead of the proxy's own.")
    var netns: String?

    func prefixes(_ text: String?, _ flag: String) throws -> [IPPrefix] {
        try (text ?? "").split(separator: ",").map { item in
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            do { return try IPPrefix(trimmed.contains("/") ? trimmed : trimmed + (trimmed.contains(":") ? "/128" : "/32")) } catch {
                throw ValidationError("\(flag): \(error)")
            }
        }
    }

    func run() async throws {
        let proxyMode: ProxyMode
        switch mode {
        case "nftables": proxyMode = .nftables
        case "ipvs":
            guard IPVSOptions.schedulers.contains(ipvsScheduler) else {
                throw ValidationError("--ipvs-scheduler: expected one of \(IPVSOptions.schedulers.sorted().joined(separator: ", ")), got \(ipvsScheduler)")
            }
            proxyMode = .ipvs(scheduler: ipvsScheduler)
        default: throw ValidationError("--mode: expected nftables or ipvs, got \(mode)")
        }
        guard syncPeriod > 0 else { throw ValidationError("--sync-period: must be positive") }
        var settings = ProxyController.Settings(
            nodeName: nodeName, clusterCIDRs: try prefixes(clusterCIDR, "--cluster-cidr"), masqueradeAll: masqueradeAll,
            nodePortCIDRs: try prefixes(nodeportAddresses, "--nodeport-addresses"),
            syncPeriod: .milliseconds(Int(syncPeriod * 1000)))
        settings.mode = proxyMode
        settings.namespacePath = netns
        // kube-proxy's metrics port.
        let daemon = try daemonFlags.daemon("proxy", defaultBind: "127.0.0.1:10249")
        let controller = ProxyController(daemon: daemon, settings: settings)
        daemon.logger.info("proxying", metadata: ["node": "\(nodeName)", "mode": "\(mode == "ipvs" ? "ipvs/\(ipvsScheduler)" : "nftables")",
                                                  "resync": "\(syncPeriod)s"])
        // SIGTERM/SIGINT: stop syncing and leave the rules in place (a restarted proxy takes
        // them over without dropping a connection).
        try await daemon.run { try await controller.run() }
    }
}
