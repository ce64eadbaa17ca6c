import ArgumentParser
import Controllers
import DaemonRuntime
import Foundation
import NetAddress

/// `netplane controllers`: the cluster's control loops. So far: node IPAM (pod CIDRs).
struct ControllersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controllers",
        abstract: "Run the control loops: node IPAM (a pod CIDR for every Node, from --cluster-cidr).")

    @OptionGroup var daemonFlags: DaemonFlags
    @Option(help: "Pod network (comma-separated, one per IP family) that node pod CIDRs are carved from.")
    var clusterCIDR: String
    @Option(help: "Prefix length of each node's IPv4 pod CIDR.") var nodeCIDRMaskSizeIPv4 = 24
    @Option(help: "Prefix length of each node's IPv6 pod CIDR.") var nodeCIDRMaskSizeIPv6 = 64
    @Option(help: "Seconds between full passes over the Nodes.") var resyncPeriod: Double = 30

    func run() async throws {
        var cidrs: [IPPrefix] = []
        for item in clusterCIDR.split(separator: ",") {
            do { cidrs.append(try IPPrefix(item.trimmingCharacters(in: .whitespaces))) } catch {
                throw ValidationError("--cluster-cidr: \(error)")
            }
        }
        guard resyncPeriod > 0 else { throw ValidationError("--resync-period: must be positive") }
        let settings = NodeIPAMController.Settings(clusterCIDRs: cidrs, maskSizeIPv4: nodeCIDRMaskSizeIPv4,
                                                   maskSizeIPv6: nodeCIDRMaskSizeIPv6,
                                                   resyncPeriod: .milliseconds(Int(resyncPeriod * 1000)))
        // kube-controller-manager's port.
        let daemon = try daemonFlags.daemon("controllers", defaultBind: "127.0.0.1:10257")
        let ipam: NodeIPAMController
        do { ipam = try NodeIPAMController(daemon: daemon, settings: settings) } catch {
            throw ValidationError("--cluster-cidr: \(error)")
        }
        daemon.logger.info("node IPAM", metadata: ["cluster_cidrs": "\(cidrs.map(\.description).joined(separator: ","))"])
        try await daemon.run { try await ipam.run() }
    }
}
