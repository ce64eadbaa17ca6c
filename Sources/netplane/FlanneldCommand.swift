import ArgumentParser
import DaemonRuntime
import Foundation
import JSON
import NetAddress
import Overlay

/// `netplane flanneld`: this node's part of the flannel-like overlay.
struct FlanneldCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flanneld",
        abstract: "Join this node to the pod overlay (VXLAN, host-gw or UDP) and keep it in step with the other Nodes.")

    @OptionGroup var daemonFlags: DaemonFlags
    @Option(help: "This node's name (its Node object carries the pod CIDR).") var nodeName: String
    @Option(help: "The underlay interface (default: the IPv4 default route's).") var iface: String?
    @Option(help: "vxlan, host-gw or udp (default: net-conf.json's Backend.Type, else vxlan).") var backend: String?
    @Option(help: "VXLAN network identifier (default 1).") var vni: UInt32?
    @Option(help: "UDP port: VXLAN's destination port (default 8472) or the UDP backend's (default 8285).") var port: UInt16?
    @Flag(help: "VXLAN: route directly (host-gw style) to nodes on the same underlay subnet.") var directRouting = false
    @Option(help: "The pod network all node subnets come from (default: net-conf.json's Network, else 10.244.0.0/16).")
    var network: String?
    @Option(help: "flannel's net-conf.json (Network, Backend.Type/VNI/Port/DirectRouting); flags override it.")
    var netConf: String?
    @Flag(inversion: .prefixedNo, help: "Masquerade pod traffic leaving the pod network.") var ipMasq = true
    @Option(help: "Where the CNI plugin's subnet.env is written.") var subnetFile = "/run/flannel/subnet.env"
    @Option(help: "Program the overlay in this network namespace (a path such as /run/netns/node1).") var netns: String?
    @Option(help: "Seconds between full syncs against the kernel.") var resyncPeriod: Double = 30

    /// flannel's net-conf.json, the part that matters here.
    struct NetConf {
        var network: String?
        var type: String?
        var vni: UInt32?
        var port: UInt16?
        var directRouting = false
    }

    func loadNetConf() throws -> NetConf {
        guard let netConf else { return NetConf() }
        let json: JSONValue
        do {
            json = try JSONValue.parse(Array(try Data(contentsOf: URL(fileURLWithPath: netConf))))
        } catch {
            throw ValidationError("--net-conf \(netConf): \(error)")
        }
        let backend = json["Backend"]
        return NetConf(network: json["Network"]?.stringValue, type: backend?["Type"]?.stringValue,
                       vni: backend?["VNI"]?.intValue.map { UInt32(clamping: $0) },
                       port: backend?["Port"]?.intValue.map { UInt16(clamping: $0) },
                       directRouting: backend?["DirectRouting"]?.boolValue ?? false)
    }

    func run() async throws {
        let file = try loadNetConf()
        let networkText = network ?? file.network ?? "10.244.0.0/16"
        let network: IPPrefix
        do { network = try IPPrefix(networkText) } catch { throw ValidationError("--network: \(error)") }
        guard network.address.isIPv4, network.network == network else {
            throw ValidationError("--network: \(networkText) must be an IPv4 network without host bits")
        }
        let chosen: OverlayBackend
        switch backend ?? file.type ?? "vxlan" {
        case "vxlan":
            let vni = vni ?? file.vni ?? 1
            guard vni < 1 << 24 else { throw ValidationError("--vni: \(vni) does not fit in 24 bits") }
            chosen = .vxlan(vni: vni, port: port ?? file.port ?? 8472, directRouting: directRouting || file.directRouting)
        case "host-gw": chosen = .hostGW
        case "udp": chosen = .udp(port: port ?? file.port ?? 8285)
        case let other: throw ValidationError("--backend: expected vxlan, host-gw or udp, got \(other)")
        }
        guard resyncPeriod > 0 else { throw ValidationError("--resync-period: must be positive") }
        let settings = FlannelDaemon.Settings(nodeName: nodeName, network: network, backend: chosen, interface: iface,
                                              ipMasq: ipMasq, subnetFile: subnetFile, namespacePath: netns,
                                              resyncPeriod: .milliseconds(Int(resyncPeriod * 1000)))
        let daemon = try daemonFlags.daemon("flanneld", defaultBind: "127.0.0.1:10266")
        let flanneld = FlannelDaemon(daemon: daemon, settings: settings)
        daemon.logger.info("flanneld starting", metadata: ["node": "\(nodeName)", "network": "\(network)",
                                                           "backend": "\(chosen.typeName)"])
        // A failure to join ends the process with the reason (exit 1); a signal ends it cleanly
        // and leaves the kernel state for the next flanneld to adopt.
        try await daemon.run { try await flanneld.run() }
        daemon.logger.info("stopped; the overlay stays in place for the next flanneld")
    }
}
