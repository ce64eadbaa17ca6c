public import Foundation

/// A cluster whose nodes run real pods, all in namespaces: a "fabric" namespace with the
/// underlay bridge br0 (198.18.0.1/24) where the control plane runs (`netplane apiserver` on
/// 198.18.0.1:6443, `controllers`, `scheduler`), and node namespaces on it (node i has eth0
/// 198.18.0.(10+i)/24, a default route via the fabric) each with a `netplane kubelet`
/// (`--netns`, runc, the node's CNI config) and, on request, `flanneld` and `proxy`. kubectl
/// runs in the fabric namespace, where the API server is.
public final class NodeCluster {
    /// How pods get their network: a bridge per node with its own host-local range
    /// (10.88.i.0/24; pods of different nodes do not reach each other), or the flannel
    /// overlay (VXLAN over the fabric, node subnets from 10.244.0.0/16) with the service proxy.
    public enum Network { case bridge, flannel }

    public let dir: String
    public let api: APIServerProcess
    public let fabric: TestNamespace
    public let network: Network
    public private(set) var nodes: [TestNamespace] = []
    var daemons: [String: Process] = [:]
    let binary = productsDirectory() + "/netplane"

    public init(nodes count: Int, network: Network = .bridge, kubeletArguments: [String] = []) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-nodes-\(UUID().uuidString)").path
        self.network = network
        fabric = try TestNamespace.create("fabric")
        do {
            try Command.check(["ip", "-n", fabric.name, "link", "add", "br0", "type", "bridge"])
            try Command.check(["ip", "-n", fabric.name, "addr", "add", "198.18.0.1/24", "dev", "br0"])
            try Command.check(["ip", "-n", fabric.name, "link", "set", "br0", "up"])
            try Command.check(["ip", "-n", fabric.name, "link", "set", "lo", "up"])
            api = try APIServerProcess(dataDir: dir + "/api", listen: "198.18.0.1:6443", namespace: fabric.name)
        } catch {
            fabric.remove()
            throw error
        }
        do {
            for i in 1...count { try addNodeNamespace(i) }
            try startInFabric("controllers", ["controllers", "--kubeconfig", api.kubeconfig(daemon: "controllers"), "--cluster-cidr", "10.244.0.0/16",
                                              "--node-monitor-grace-period", "40s", "--metrics-bind", ""])
            try startInFabric("scheduler", ["scheduler", "--kubeconfig", api.kubeconfig(daemon: "scheduler"), "--metrics-bind", ""])
            for i in 1...count {
                if network == .flannel { try startFlanneld(i) }
                try startKubelet(i, extra: kubeletArguments)
            }
            guard eventually(seconds: 30, { (try? readyNodes()) == count }) else {
                throw CommandFailed(command: ["kubectl", "get", "nodes"],
                                    result: CommandResult(status: -1, stdout: (try? kubectl(["get", "nodes"]).stdout) ?? "",
                                                          stderr: "nodes not Ready:\n" + log("kubelet1")))
            }
        } catch {
            stop()
            throw error
        }
    }

    func readyNodes() throws -> Int {
        let out = try kubectl(["get", "nodes", "-o", "jsonpath={range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\" \"}{end}"]).stdout
        return out.split(separator: " ").filter { $0 == "True" }.count
    }

    func addNodeNamespace(_ i: Int) throws {
        let node = try TestNamespace.create("node\(i)")
        nodes.append(node)
        try Command.check(["ip", "-n", fabric.name, "link", "add", "p\(i)", "type", "veth", "peer", "name", "eth0", "netns", node.name])
        try Command.check(["ip", "-n", fabric.name, "link", "set", "p\(i)", "master", "br0", "up"])
        try Command.check(["ip", "-n", node.name, "addr", "add", "198.18.0.\(10 + i)/24", "dev", "eth0"])
        try Command.check(["ip", "-n", node.name, "link", "set", "eth0", "up"])
        try Command.check(["ip", "-n", node.name, "link", "set", "lo", "up"])
        try Command.check(["ip", "-n", node.name, "route", "add", "default", "via", "198.18.0.1"])
        try FileManager.default.createDirectory(atPath: cniConfDir(i), withIntermediateDirectories: true)
        try cniConfig(i).write(toFile: cniConfDir(i) + "/10-net.conflist", atomically: true, encoding: .utf8)
    }

    public func node(_ i: Int) -> TestNamespace { nodes[i - 1] }
    public func nodeDir(_ i: Int) -> String { "\(dir)/node\(i)" }
    public func cniConfDir(_ i: Int) -> String { "\(nodeDir(i))/cni" }
    public func kubeletRoot(_ i: Int) -> String { "\(nodeDir(i))/kubelet" }
    public func ipamDir(_ i: Int) -> String { "\(nodeDir(i))/ipam" }
    /// Node i's cgroup parent: one per cluster, so clusters of tests running side by side
    /// never share a node's cgroup (its usage is what `kubectl top node` shows).
    public func cgroupParent(_ i: Int) -> String { "/netplane/\(URL(fileURLWithPath: dir).lastPathComponent)/node\(i)" }
    public func log(_ name: String) -> String { (try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? "" }

    /// The node's conflist: what its kubelet runs (with portmap for hostPorts).
    public func cniConfig(_ i: Int) -> String {
        let portmap = #"{"type": "portmap", "capabilities": {"portMappings": true}}"#
        switch network {
        case .bridge:
            return """
            {"cniVersion": "1.0.0", "name": "podnet", "plugins": [
              {"type": "bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": true,
               "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.\(i).0/24"}]], "dataDir": "\(ipamDir(i))"}},
              \(portmap)]}
            """
        case .flannel:
            return """
            {"cniVersion": "1.0.0", "name": "cbr0", "plugins": [
              {"type": "flannel", "subnetFile": "\(nodeDir(i))/subnet.env", "dataDir": "\(nodeDir(i))/flannel",
               "ipam": {"dataDir": "\(ipamDir(i))"}, "delegate": {"hairpinMode": true, "isDefaultGateway": true}},
              \(portmap)]}
            """
        }
    }

    func start(_ name: String, _ executable: String, _ args: [String]) throws {
        daemons[name] = try startLogged(executable, args, log: "\(dir)/\(name).log")
    }

    func startInFabric(_ name: String, _ args: [String]) throws {
        try start(name, "/usr/sbin/ip", ["netns", "exec", fabric.name, binary] + args)
    }

    /// CNI plugins: Netplane's (bridge, host-local, loopback, flannel), then the reference
    /// ones from Debian's containernetworking-plugins (portmap).
    public var cniBinDirs: String { productsDirectory() + ":/usr/lib/cni" }

    /// Each node agent runs as its node (system:node:node<i>), kept to its own objects by the
    /// Node authorizer, as an operator's would be.
    public func kubeletArguments(_ i: Int, extra: [String] = []) throws -> [String] {
        ["kubelet", "--kubeconfig", try api.kubeconfig(node: "node\(i)"), "--node-name", "node\(i)", "--netns", node(i).path,
         "--node-ip", "198.18.0.\(10 + i)", "--cni-bin-dir", cniBinDirs, "--cni-conf-dir", cniConfDir(i),
         "--root", kubeletRoot(i), "--image-dir", dir + "/images", "--cgroup-parent", cgroupParent(i), "--cpu", "4", "--memory", "8Gi", "--metrics-bind", "",
         "--resync-period", "10"] + extra
    }

    public func startKubelet(_ i: Int, extra: [String] = []) throws {
        try start("kubelet\(i)", binary, try kubeletArguments(i, extra: extra))
    }

    /// Stops a daemon with `signal` (SIGTERM: the way an operator restarts it) and waits.
    public func stop(_ name: String, signal: Int32 = SIGTERM) {
        guard let process = daemons.removeValue(forKey: name) else { return }
        if process.isRunning { kill(process.processIdentifier, signal) }
        for _ in 0..<200 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    public func startFlanneld(_ i: Int) throws {
        try startInFabric("flanneld\(i)", ["flanneld", "--kubeconfig", api.kubeconfig(daemon: "flanneld"), "--node-name", "node\(i)", "--iface", "eth0",
                                           "--backend", "vxlan", "--netns", node(i).path, "--subnet-file", "\(nodeDir(i))/subnet.env",
                                           "--metrics-bind", ""])
    }

    public func startProxy(_ i: Int) throws {
        try startInFabric("proxy\(i)", ["proxy", "--kubeconfig", api.kubeconfig(daemon: "proxy"), "--node-name", "node\(i)",
                                        "--netns", node(i).path, "--metrics-bind", ""])
    }

    /// Starts the NetworkPolicy enforcer on node i (log "policy<i>").
    public func startPolicy(_ i: Int, extra: [String] = []) throws {
        try startInFabric("policy\(i)", ["policy", "--kubeconfig", api.kubeconfig(daemon: "policy"), "--node-name", "node\(i)",
                                         "--netns", node(i).path, "--metrics-bind", ""] + extra)
    }

    @discardableResult
    public func kubectl(_ args: [String], stdin: String? = nil) throws -> CommandResult {
        try api.kubectl(args, stdin: stdin)
    }

    /// kubectl that must succeed; its stdout.
    @discardableResult
    public func kubectlOK(_ args: [String], stdin: String? = nil) throws -> String {
        let result = try kubectl(args, stdin: stdin)
        guard result.succeeded else { throw CommandFailed(command: ["kubectl"] + args, result: result) }
        return result.stdout
    }

    /// A field of a pod (`jsonpath`), "" when it cannot be read.
    public func podField(_ name: String, _ jsonpath: String, namespace: String = "default") -> String {
        (try? kubectl(["get", "pod", name, "-n", namespace, "-o", "jsonpath=\(jsonpath)"]).stdout) ?? ""
    }

    /// What is left of pods on node i: runc containers, pod network namespaces, pause
    /// processes, reserved addresses, pod directories. Empty when nothing leaked.
    public func leftovers(_ i: Int) throws -> [String] {
        var found: [String] = []
        let runc = try Command.run(["runc", "--root", kubeletRoot(i) + "/runc", "list", "-q"])
        found += runc.stdout.split(separator: "\n").map { "runc container \($0)" }
        let pods = (try? FileManager.default.contentsOfDirectory(atPath: kubeletRoot(i) + "/pods")) ?? []
        found += pods.map { "pod directory \($0)" }
        for (_, network) in [("bridge", "podnet"), ("flannel", "cbr0")] {
            let reserved = (try? FileManager.default.contentsOfDirectory(atPath: "\(ipamDir(i))/\(network)")) ?? []
            found += reserved.filter { $0.first?.isNumber == true }.map { "reserved address \($0)" }
        }
        let veths = try node(i).run(["ip", "-o", "link", "show", "type", "veth"]).stdout
        // eth0 is the node's own link to the fabric; every other veth is a pod's.
        found += veths.split(separator: "\n").map { $0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces) }
            .filter { !$0.hasPrefix("eth0") }.map { "veth \($0)" }
        return found
    }

    public func stop() {
        for name in daemons.keys.filter({ $0.hasPrefix("kubelet") }) { stop(name) }
        for name in Array(daemons.keys) { stop(name, signal: SIGKILL) }
        api.stop()
        // Whatever a failed test left: containers, sandboxes, mounts.
        for i in nodes.indices.map({ $0 + 1 }) {
            let root = kubeletRoot(i)
            if let list = try? Command.run(["runc", "--root", root + "/runc", "list", "-q"]) {
                for id in list.stdout.split(separator: "\n") { _ = try? Command.run(["runc", "--root", root + "/runc", "delete", "--force", String(id)]) }
            }
            _ = try? Command.run(["sh", "-c", "grep -o ' \(root)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"])
            // Sandboxes: their pause processes and network namespaces, named in the records.
            for uid in (try? FileManager.default.contentsOfDirectory(atPath: root + "/pods")) ?? [] {
                guard let data = FileManager.default.contents(atPath: "\(root)/pods/\(uid)/state.json"),
                      let record = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
                if let pid = record["sandboxPID"] as? Int, pid > 0 { kill(Int32(pid), SIGKILL) }
                if let netns = record["netns"] as? String { _ = try? Command.run(["ip", "netns", "delete", netns]) }
            }
        }
        // The cluster's cgroup directories (the agents removed their pods' own).
        let hierarchies = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"]
            : ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/\($0)" }
        for hierarchy in hierarchies {
            Self.removeCgroupTree(hierarchy + "/netplane/\(URL(fileURLWithPath: dir).lastPathComponent)")
        }
        for node in nodes { node.remove() }
        fabric.remove()
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Removes a cgroup and every cgroup under it, deepest first: the pods' own are left
    /// behind when an agent is killed before it stops them. A process still in one (a
    /// container runc could not delete) is killed first, or the directory cannot go.
    static func removeCgroupTree(_ path: String) {
        let children = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        for child in children { removeCgroupTree(path + "/" + child) }
        for attempt in 0..<20 {
            let procs = (try? String(contentsOfFile: path + "/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in procs.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            if rmdir(path) == 0 || errno == ENOENT || attempt == 19 { return }
            usleep(50_000)
        }
    }

    public static func with(nodes: Int, network: Network = .bridge, _ body: (NodeCluster) throws -> Void) throws {
        let cluster = try NodeCluster(nodes: nodes, network: network)
        defer { cluster.stop() }
        try body(cluster)
    }
}
