import APITypes
import ArgumentParser
import Client
import DaemonRuntime
import Foundation
import JSON
import NFTables
import NetAddress
import Policy

/// `netplane policy`: the NetworkPolicy enforcer of one node, and `trace` to explain a verdict.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Enforce NetworkPolicies for this node's pods in nftables; `trace` explains a verdict.",
        subcommands: [PolicyRun.self, PolicyTraceCommand.self], defaultSubcommand: PolicyRun.self)
}

struct PolicyRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the enforcer (the default: `netplane policy --kubeconfig … --node-name …`).")

    @OptionGroup var daemonFlags: DaemonFlags
    @Option(help: "This node's name: the pods bound to it are the ones enforced here.") var nodeName: String
    @Option(help: "Seconds between full resyncs.") var syncPeriod: Double = 60
    @Option(help: "Program the rules in this network namespace (a path such as /run/netns/node1) instead of the daemon's own.")
    var netns: String?

    func run() async throws {
        guard syncPeriod > 0 else { throw ValidationError("--sync-period: must be positive") }
        let settings = PolicyController.Settings(nodeName: nodeName, syncPeriod: .milliseconds(Int(syncPeriod * 1000)), namespacePath: netns)
        let daemon = try daemonFlags.daemon("policy", defaultBind: "127.0.0.1:10262")
        let controller = PolicyController(daemon: daemon, settings: settings)
        daemon.logger.info("enforcing NetworkPolicies", metadata: ["node": "\(nodeName)", "resync": "\(syncPeriod)s"])
        // SIGTERM/SIGINT: stop and leave the rules in place (pods stay protected while the
        // daemon restarts; the next start takes the tables over).
        try await daemon.run { try await controller.run() }
    }
}

struct PolicyTraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Explain whether a connection is allowed: the policies selecting each end and the rule that allows it, or why none does.")

    @Option(help: "kubeconfig of the API server.") var kubeconfig: String
    @Option(help: "The source: NAMESPACE/POD or an IP address.") var from: String
    @Option(help: "The destination: NAMESPACE/POD or an IP address.") var to: String
    @Option(help: "PORT/PROTOCOL (TCP, UDP or SCTP; TCP when omitted).") var port: String
    @Flag(help: "Also show the nftables map entries, chains and set elements that implement it on this node.") var kernel = false
    @Option(help: "With --kernel: the node's network namespace (a path such as /run/netns/node1).") var netns: String?

    func run() async throws {
        let parts = port.split(separator: "/")
        guard let number = parts.first.flatMap({ UInt16($0) }), number > 0, parts.count <= 2 else {
            throw ValidationError("--port: expected PORT/PROTOCOL such as 80/TCP, got \(port)")
        }
        let protoName = parts.count == 2 ? parts[1].uppercased() : "TCP"
        let proto: IPProtocol
        switch protoName {
        case "TCP": proto = .tcp
        case "UDP": proto = .udp
        case "SCTP": proto = .sctp
        default: throw ValidationError("--port: protocol must be TCP, UDP or SCTP, got \(protoName)")
        }
        let config: ClientConfig
        do { config = try ClientConfig.kubeconfig(kubeconfig) } catch { throw ValidationError("--kubeconfig: \(error)") }
        let client = try APIClient(config)
        let pods = try await client.listAll(Pod.resource).items.map(Pod.init(json:))
        let policyObjects = try await client.listAll(NetworkPolicy.resource).items.map(NetworkPolicy.init(json:))
        let namespaces = try await client.listAll(Namespace.resource).items.map(Namespace.init(json:))
        await client.shutdown()
        // Every pod that takes part in policies, read once for both ends.
        let policyPods = pods.compactMap(PolicyPod.init)

        func endpoint(_ text: String, _ flag: String) throws -> Endpoint {
            if let address = IPAddress(text) {
                let pod = policyPods.first { $0.ips.contains(address) }
                return Endpoint(address: address, pod: pod)
            }
            let name = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard name.count == 2 else { throw ValidationError("\(flag): expected NAMESPACE/POD or an IP address, got \(text)") }
            guard let object = pods.first(where: { $0.namespace == name[0] && $0.name == name[1] }) else {
                throw ValidationError("\(flag): pod \(text) not found")
            }
            guard let pod = PolicyPod(object) else {
                throw ValidationError("\(flag): pod \(text) takes no part in policies (no IP yet, hostNetwork, or finished)")
            }
            return Endpoint(pod: pod)
        }
        var source = try endpoint(from, "--from"), destination = try endpoint(to, "--to")
        // One end given as an address picks the family: the pod end answers at its address
        // of the same family.
        if IPAddress(from) != nil, let pod = destination.pod, let same = pod.ips.first(where: { $0.isIPv4 == source.address.isIPv4 }) {
            destination.address = same
        } else if IPAddress(to) != nil, let pod = source.pod, let same = pod.ips.first(where: { $0.isIPv4 == destination.address.isIPv4 }) {
            source.address = same
        }
        guard source.address.isIPv4 == destination.address.isIPv4 else {
            throw ValidationError("--from and --to have no address of the same family (\(source.address), \(destination.address))")
        }
        var parsed: [ParsedPolicy] = []
        for policy in policyObjects {
            do { parsed.append(try ParsedPolicy(policy)) } catch {
                print("warning: \(policy.cacheKey): \(error): enforced as deny-all for the pods it selects")
                if let fallback = ParsedPolicy.denyAll(policy) { parsed.append(fallback) }
            }
        }
        let evaluator = PolicyEvaluator(policies: parsed, namespaceLabels: Dictionary(namespaces.map { ($0.name, $0.labels) }, uniquingKeysWith: { a, _ in a }))
        let verdict = evaluator.verdict(from: source, to: destination, proto: proto, port: number)
        print("\(source) -> \(destination) \(number)/\(protoName): \(verdict.egress.allows && verdict.ingress.allows ? "ALLOWED" : "DENIED")")
        for line in verdict.egress.explanation + verdict.ingress.explanation { print("  " + line) }
        if kernel {
            let socket = try netns.map { try NFTSocket(namespacePath: $0) } ?? NFTSocket()
            print("kernel:")
            for line in try PolicyKernelView.describe(socket, tableName: "netplane-policy", source: source.address,
                                                      destination: destination.address, proto: proto.rawValue, port: number) {
                print("  " + line)
            }
        }
        if !(verdict.egress.allows && verdict.ingress.allows) { throw ExitCode(1) }
    }
}
