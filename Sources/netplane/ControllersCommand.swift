import ArgumentParser
import Client
import Controllers
import Foundation
import Logging
import NetAddress

/// `netplane controllers`: the cluster's control loops. So far: node IPAM (pod CIDRs).
struct ControllersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controllers",
        abstract: "Run the control loops: node IPAM (a pod CIDR for every Node, from --cluster-cidr).")

    @Option(help: "kubeconfig of the API server.") var kubeconfig: String
    @Option(help: "Pod network (comma-separated, one per IP family) that node pod CIDRs are carved from.")
    var clusterCIDR: String
    @Option(help: "Prefix length of each node's IPv4 pod CIDR.") var nodeCIDRMaskSizeIPv4 = 24
    @Option(help: "Prefix length of each node's IPv6 pod CIDR.") var nodeCIDRMaskSizeIPv6 = 64
    @Option(help: "Seconds between full passes over the Nodes.") var resyncPeriod: Double = 30

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "netplane.controllers")
        var cidrs: [IPPrefix] = []
        for item in clusterCIDR.split(separator: ",") {
            do { cidrs.append(try IPPrefix(item.trimmingCharacters(in: .whitespaces))) } catch {
                throw ValidationError("--cluster-cidr: \(error)")
            }
        }
        guard resyncPeriod > 0 else { throw ValidationError("--resync-period: must be positive") }
        var settings = NodeIPAMController.Settings(clusterCIDRs: cidrs, maskSizeIPv4: nodeCIDRMaskSizeIPv4,
                                                   maskSizeIPv6: nodeCIDRMaskSizeIPv6,
                                                   resyncPeriod: .milliseconds(Int(resyncPeriod * 1000)))
        settings.log = { logger.info("\($0)") }
        let client = try Daemon.client(kubeconfig: kubeconfig)
        let ipam: NodeIPAMController
        do { ipam = try NodeIPAMController(client: client, settings: settings) } catch {
            throw ValidationError("--cluster-cidr: \(error)")
        }
        logger.info("node IPAM: pod CIDRs from \(cidrs.map(\.description).joined(separator: ","))")
        let running = Task { await ipam.run() }
        _ = await Signals.next()
        running.cancel()
        await Daemon.close(client, logger: logger, "stopped")
    }
}
