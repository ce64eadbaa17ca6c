import ArgumentParser
import CNodeAgent
import DaemonRuntime
import Foundation
import NodeAgent

/// `netplane kubelet`: the node agent.
struct KubeletCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubelet",
        abstract: "Run the pods bound to this node with runc, wire them with the CNI plugins, and report their status.")

    @OptionGroup var daemonFlags: DaemonFlags
    @Option(help: "This node's name.") var nodeName: String
    @Option(help: "Where the CNI plugins are (colon-separated directories).") var cniBinDir = "/opt/cni/bin"
    @Option(help: "Where the CNI configuration is (the first file in lexical order is used).") var cniConfDir = "/etc/cni/net.d"
    @Option(help: "The agent's state: pod directories, logs, runc state.") var root = "/var/lib/netplane/kubelet"
    @Option(help: "The OCI runtime (runc).") var runtime = "runc"
    @Option(help: "The image store (default: ROOT/images).") var imageDir: String?
    @Option(help: "Run the node agent inside this network namespace (a path such as /run/netns/node1): the process re-executes itself there, as `ip netns exec` would.")
    var netns: String?
    @Option(help: "The node's InternalIP (default: the first global IPv4 address in its namespace).") var nodeIP: String?
    @Option(help: "Address of the agent's API (logs, stats) for the API server.") var address = "0.0.0.0"
    @Option(help: "Port of the agent's API.") var port = 10250
    @Option(help: "The node's CPU capacity (default: this machine's).") var cpu: String?
    @Option(help: "The node's memory capacity, a quantity such as 8Gi (default: this machine's).") var memory: String?
    @Option(help: "Pods this node takes at most.") var maxPods = 110
    @Option(help: "Labels for the Node, KEY=VALUE, comma-separated.") var nodeLabels: String?
    @Option(help: "The cluster DNS server(s) pods with dnsPolicy ClusterFirst use (comma-separated; none: the node's resolv.conf).")
    var clusterDNS: String?
    @Option(help: "The cluster's DNS domain.") var clusterDomain = "cluster.local"
    @Option(help: "The cgroup under which every pod's cgroup is made (default: /netplane/NODE).") var cgroupParent: String?
    @Option(help: "The sandbox process (default: netplane-pause beside this executable).") var pauseBinary: String?
    @Option(help: "Seconds between full passes over the node's pods.") var resyncPeriod: Double = 30

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port: \(port) is not a port") }
        guard maxPods > 0 else { throw ValidationError("--max-pods: must be positive") }
        guard resyncPeriod > 0 else { throw ValidationError("--resync-period: must be positive") }
        if let cgroupParent, !cgroupParent.hasPrefix("/") { throw ValidationError("--cgroup-parent: must start with /") }
    }

    /// The executable's directory (where netplane-pause is installed beside it).
    static var executableDirectory: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().path
    }

    func run() async throws {
        if let netns {
            // Everything the agent does (CNI plugins, probes, its API, the API client) happens
            // on the node, so the whole process moves there.
            var args = CommandLine.arguments
            if let i = args.firstIndex(of: "--netns") { args.removeSubrange(i...(i + 1)) }
            args.removeAll { $0.hasPrefix("--netns=") }
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? args[0]
            let cArgs = args.map { strdup($0) } + [nil]
            _ = netplane_exec_in_netns(netns, exe, cArgs)
            throw ValidationError("--netns \(netns): \(String(cString: strerror(errno)))")
        }
        guard let runc = ProcessRunner.resolve(runtime) else {
            throw ValidationError("--runtime: \(runtime) not found (install Debian's runc)")
        }
        let pause = pauseBinary ?? Self.executableDirectory + "/netplane-pause"
        guard access(pause, X_OK) == 0 else { throw ValidationError("--pause-binary: \(pause) is not an executable") }
        var labels: [String: String] = [:]
        for pair in (nodeLabels ?? "").split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw ValidationError("--node-labels: expected KEY=VALUE, got \(pair)") }
            labels[kv[0]] = kv[1]
        }
        let daemon = try daemonFlags.daemon("kubelet", defaultBind: "127.0.0.1:10248")
        let settings = NodeAgentDaemon.Settings(
            nodeName: nodeName, nodeIP: nodeIP, address: address, port: port, cpu: cpu, memory: memory, maxPods: maxPods,
            labels: labels, resyncPeriod: .milliseconds(Int(resyncPeriod * 1000)))
        let resolv = (try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8)) ?? ""
        let context = AgentContext(
            settings: .init(nodeName: nodeName, root: root, cgroupParent: cgroupParent ?? "/netplane/\(nodeName)",
                            clusterDNS: (clusterDNS ?? "").split(separator: ",").map(String.init), clusterDomain: clusterDomain,
                            hostIP: nodeIP ?? NodeAgentDaemon.firstAddress(), pauseBinary: pause, resolvConf: resolv),
            client: daemon.client, events: daemon.eventRecorder(component: "kubelet"), logger: daemon.logger,
            runc: Runc(binary: runc, root: root + "/runc"),
            cni: CNIRuntime(binDirs: cniBinDir.split(separator: ":").map(String.init), confDir: cniConfDir),
            images: ImageStore(directory: imageDir ?? root + "/images"))
        let agent = NodeAgentDaemon(daemon: daemon, settings: settings, context: context)
        daemon.logger.info("kubelet starting", metadata: ["node": "\(nodeName)", "runtime": "\(runc)", "cni-conf-dir": "\(cniConfDir)"])
        try await daemon.run { try await agent.run() }
    }
}

/// `netplane image import|ls`: the node's local image store.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage the node's local images (what `netplane kubelet` runs containers from).",
        subcommands: [Import.self, List.self])

    struct Location: ParsableArguments {
        @Option(help: "The image store (the kubelet's --image-dir, default ROOT/images).") var imageDir: String?
        @Option(help: "The kubelet's --root.") var root = "/var/lib/netplane/kubelet"
        var store: ImageStore { ImageStore(directory: imageDir ?? root + "/images") }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "import",
                                                        abstract: "Import the images of a `docker save` or OCI image-layout tarball.")
        @OptionGroup var location: Location
        @Argument(help: "The tarball.") var file: String

        func run() async throws {
            do {
                for name in try location.store.importArchive(file) { print("imported \(name)") }
            } catch { throw ValidationError(error.description) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the images in the store.")
        @OptionGroup var location: Location

        func run() async throws {
            print("IMAGE\tID")
            print("docker.io/library/busybox:*\tbusybox (built in, from the host's busybox-static)")
            for image in location.store.list() where image.id != "busybox" {
                print("\(image.names.joined(separator: ","))\t\(image.id)")
            }
        }
    }
}
