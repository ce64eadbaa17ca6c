import ArgumentParser
import Client
import Foundation
import Hummingbird
import Logging
import NetAddress
import Proxy
import ServiceLifecycle

/// `netplane proxy`: the service proxy of one node.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Program this node's Services (ClusterIP, NodePort, LoadBalancer, externalIPs) into nftables.")

    @Option(help: "kubeconfig of the API server.") var kubeconfig: String
    @Option(help: "This node's name (its Node object and local endpoints).") var nodeName: String
    @Option(help: "nftables (the default) or ipvs.") var mode = "nftables"
    @Option(help: "IPVS mode's scheduler: rr, wrr, lc, wlc, sh, dh, sed or nq.") var ipvsScheduler = "rr"
    @Option(help: "Pod CIDRs (comma-separated): traffic from outside them to a ClusterIP is masqueraded.")
    var clusterCIDR: String?
    @Option(help: "Node ports answer on the node's addresses inside these CIDRs (comma-separated; default: all).")
    var nodeportAddresses: String?
    @Flag(help: "Masquerade all traffic to service addresses.") var masqueradeAll = false
    @Option(help: "Seconds between full resyncs.") var syncPeriod: Double = 30
    @Option(help: "Where /metrics and /healthz are served (HOST:PORT; empty: nowhere).") var metricsBind = "127.0.0.1:10249"
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
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "netplane.proxy")
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
        settings.log = { logger.info("\($0)") }
        settings.mode = proxyMode
        settings.namespacePath = netns
        let client = try Daemon.client(kubeconfig: kubeconfig)
        let controller = ProxyController(client: client, settings: settings)

        var server: Task<Void, any Error>?
        if !metricsBind.isEmpty {
            guard let colon = metricsBind.lastIndex(of: ":"), let port = Int(metricsBind[metricsBind.index(after: colon)...]) else {
                throw ValidationError("--metrics-bind: expected HOST:PORT, got \(metricsBind)")
            }
            let host = String(metricsBind[..<colon])
            let router = Router()
            let metrics = controller.metrics
            let window = settings.syncPeriod * 2 + .seconds(10)
            router.get("metrics") { _, _ in metrics.render() }
            router.get("healthz") { _, _ -> Response in
                let (ok, message) = metrics.healthy(within: window)
                return Response(status: ok ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
            }
            let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)), logger: logger)
            // A service group of our own, with no signal handling: `app.runService()` would
            // take SIGTERM for itself (through libdispatch) and stop only the metrics server.
            let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
            server = Task { try await group.run() }
        }
        logger.info("proxying for node \(nodeName) (\(mode == "ipvs" ? "IPVS, scheduler \(ipvsScheduler)" : "nftables"), full resync every \(syncPeriod) s)")
        let running = Task { await controller.run() }
        // SIGTERM/SIGINT: stop syncing and leave the rules in place (a restarted proxy takes
        // them over without dropping a connection).
        _ = await Signals.next()
        running.cancel()
        server?.cancel()
        await Daemon.close(client, logger: logger, "stopped; the rules stay in place for the next proxy")
    }
}
