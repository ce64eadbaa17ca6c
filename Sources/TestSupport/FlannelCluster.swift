public import Foundation

/// A small cluster for the overlay tests, all in namespaces: a "fabric" namespace with the
/// underlay bridge br0, `nodes` node namespaces on it (node i has eth0 198.18.0.(10+i)/24 and
/// is Node `node<i>` in the API), a real `netplane apiserver` and `netplane controllers`
/// (node IPAM from 10.244.0.0/16), and one `netplane flanneld` per node started on demand
/// (`--netns`, the node's namespace). Pods are namespaces attached by the flannel CNI plugin
/// run inside their node, the way a container runtime on that node would.
public final class FlannelCluster {
    public struct Pod {
        public var ns: TestNamespace
        public var node: Int
        public var ip: String
    }

    public let dir: String
    public let api: APIServerProcess
    public let fabric: TestNamespace
    public private(set) var nodes: [TestNamespace] = []
    public private(set) var pods: [Pod] = []
    private var controllers: Process?
    private var flanneld: [Int: Process] = [:]
    /// Where each daemon serves /metrics, /healthz and /readyz on 127.0.0.1: "controllers",
    /// "flanneld<i>".
    public private(set) var statusPorts: [String: Int] = [:]
    let binary = productsDirectory() + "/netplane"

    public init(nodes count: Int) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-flannel-\(UUID().uuidString)").path
        api = try APIServerProcess(dataDir: dir + "/api")
        fabric = try TestNamespace.create("fabric")
        do {
            try Command.check(["ip", "-n", fabric.name, "link", "add", "br0", "type", "bridge"])
            try Command.check(["ip", "-n", fabric.name, "link", "set", "br0", "up"])
            for i in 1...count { try addNode(i) }
            statusPorts["controllers"] = try EtcdCluster.freePort()
            // No node agent heartbeats here: the node lifecycle controller would mark the nodes unreachable.
            controllers = try start(["controllers", "--kubeconfig", api.kubeconfig(daemon: "controllers"), "--cluster-cidr", "10.244.0.0/16",
                                     "--controllers", "*,-nodelifecycle",
                                     "--metrics-bind", "127.0.0.1:\(statusPorts["controllers"]!)"],
                                    log: "controllers")
        } catch {
            stop()
            throw error
        }
    }

    /// Node i: a namespace on the fabric and a Node object with its InternalIP.
    public func addNode(_ i: Int) throws {
        let node = try TestNamespace.create("node\(i)")
        nodes.append(node)
        try Command.check(["ip", "-n", fabric.name, "link", "add", "p\(i)", "type", "veth", "peer", "name", "eth0", "netns", node.name])
        try Command.check(["ip", "-n", fabric.name, "link", "set", "p\(i)", "master", "br0", "up"])
        try Command.check(["ip", "-n", node.name, "addr", "add", "198.18.0.\(10 + i)/24", "dev", "eth0"])
        try Command.check(["ip", "-n", node.name, "link", "set", "eth0", "up"])
        let object = #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"node\#(i)"},"status":{"addresses":[{"type":"InternalIP","address":"198.18.0.\#(10 + i)"}]}}"#
        let applied = try api.kubectl(["apply", "-f", "-"], stdin: object)
        guard applied.succeeded else { throw CommandFailed(command: ["kubectl", "apply"], result: applied) }
    }

    public func node(_ i: Int) -> TestNamespace { nodes[i - 1] }
    public func subnetFile(_ i: Int) -> String { "\(dir)/node\(i)/subnet.env" }
    public func log(_ name: String) -> String { (try? String(contentsOfFile: "\(dir)/\(name).log", encoding: .utf8)) ?? "" }

    public func start(_ args: [String], log name: String) throws -> Process {
        try startLogged(binary, args, log: "\(dir)/\(name).log")
    }

    /// The flanneld arguments for node i.
    public func flanneldArguments(_ i: Int, backend: String, extra: [String] = []) -> [String] {
        if statusPorts["flanneld\(i)"] == nil { statusPorts["flanneld\(i)"] = try? EtcdCluster.freePort() }
        return ["flanneld", "--metrics-bind", "127.0.0.1:\(statusPorts["flanneld\(i)"] ?? 0)", "--kubeconfig", api.kubeconfig(daemon: "flanneld"), "--node-name", "node\(i)", "--iface", "eth0", "--backend", backend,
         "--netns", node(i).path, "--subnet-file", subnetFile(i), "--resync-period", "5"] + extra
    }

    /// Starts flanneld on node i and waits until it has written subnet.env.
    public func startFlanneld(_ i: Int, backend: String) throws {
        try? FileManager.default.removeItem(atPath: subnetFile(i))
        flanneld[i] = try start(flanneldArguments(i, backend: backend), log: "flanneld\(i)")
        guard eventually(seconds: 20, { FileManager.default.fileExists(atPath: subnetFile(i)) }) else {
            throw CommandFailed(command: ["flanneld", "node\(i)"],
                                result: CommandResult(status: -1, stdout: "", stderr: "no subnet.env:\n" + log("flanneld\(i)")))
        }
    }

    /// Stops flanneld on node i with SIGTERM (the way an operator restarts it) and waits.
    public func stopFlanneld(_ i: Int) {
        guard let process = flanneld.removeValue(forKey: i) else { return }
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        for _ in 0..<100 where process.isRunning { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// The CNI config a flannel user writes, pointed at this node's files.
    public func cniConfig(_ i: Int) -> String {
        """
        {"cniVersion": "1.0.0", "name": "cbr0", "type": "flannel",
         "subnetFile": "\(subnetFile(i))", "dataDir": "\(dir)/node\(i)/flannel",
         "ipam": {"dataDir": "\(dir)/node\(i)/ipam"},
         "delegate": {"hairpinMode": true, "isDefaultGateway": true}}
        """
    }

    /// Runs the flannel plugin inside node i (CNI_PATH: Netplane's plugins).
    public func cni(_ i: Int, _ command: String, container: String, netns: String, config: String? = nil,
             path: String = productsDirectory()) throws -> CommandResult {
        try Command.run(["ip", "netns", "exec", node(i).name, "env", "CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(container)",
                         "CNI_NETNS=\(netns)", "CNI_IFNAME=eth0", "CNI_PATH=\(path)", productsDirectory() + "/flannel"],
                        stdin: config ?? cniConfig(i))
    }

    /// A pod on node i, attached through the flannel plugin; returns its IPv4 address.
    @discardableResult
    public func addPod(node i: Int) throws -> Pod {
        let ns = try TestNamespace.create("pod\(i)")
        let result = try cni(i, "ADD", container: ns.name, netns: ns.path)
        guard result.succeeded, let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let ips = json["ips"] as? [[String: Any]], let address = ips.first?["address"] as? String else {
            ns.remove()
            throw CommandFailed(command: ["flannel", "ADD"], result: result)
        }
        let pod = Pod(ns: ns, node: i, ip: String(address.split(separator: "/")[0]))
        pods.append(pod)
        return pod
    }

    /// Every pod pings every other pod once; returns the pairs that failed.
    public func unreachablePairs() throws -> [String] {
        var failed: [String] = []
        for a in pods {
            for b in pods where a.ip != b.ip {
                let ping = try a.ns.run(["ping", "-c", "1", "-W", "2", b.ip])
                if !ping.succeeded { failed.append("\(a.ip)(node\(a.node)) -> \(b.ip)(node\(b.node))") }
            }
        }
        return failed
    }

    public func stop() {
        for i in flanneld.keys { stopFlanneld(i) }
        if let controllers, controllers.isRunning {
            kill(controllers.processIdentifier, SIGKILL)
            controllers.waitUntilExit()
        }
        api.stop()
        for pod in pods { pod.ns.remove() }
        for node in nodes { node.remove() }
        fabric.remove()
        try? FileManager.default.removeItem(atPath: dir)
    }

    public static func with(nodes: Int, _ body: (FlannelCluster) throws -> Void) throws {
        let cluster = try FlannelCluster(nodes: nodes)
        defer { cluster.stop() }
        try body(cluster)
    }
}

/// Polls `condition` every 100 ms for up to `seconds`.
public func eventually(seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(100_000)
    }
    return try condition()
}
