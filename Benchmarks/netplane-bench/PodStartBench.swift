import APITypes
import ArgumentParser
import Client
import Foundation
import JSON
import NetplaneTestSupport
import Synchronization

/// Pod start-up end to end: a real cluster in namespaces (NodeCluster: `netplane apiserver`,
/// `controllers`, `scheduler` and one `netplane kubelet` with runc and Netplane's bridge +
/// host-local CNI plugins), 100 busybox pods created through the API, each timed from just
/// before its create request to the first watch event that shows it Running with an IP.
/// Pods are created at a steady rate (`--rate`, the way the Kubernetes pod start-up SLO is
/// measured) and then all at once. The anchors, in the same run: the SLO itself (p99 ≤ 5 s,
/// published) and podman 4.3 with runc and the same CNI plugins starting the same busybox
/// image (`podman run -d`, one after another). The floor: `runc run -d` of a prepared bundle
/// alone (no API, no network, no sandbox).
struct PodStartBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "podstart",
        abstract: "Pod create -> Running-with-IP latency through netplane kubelet (p50, p99), against podman run -d.")

    @Option(help: "Pods per case.") var pods = 100
    @Option(help: "Pods created per second in the paced case.") var rate = 10.0
    @Option(help: "podman containers started for the anchor (0: skip it).") var anchorRuns = 100

    func run() async throws {
        let cluster = try NodeCluster(nodes: 1, kubeletArguments: ["--max-pods", "250"])
        defer { cluster.stop() }
        let driver = [productsDirectory() + "/netplane-bench", "podstart-driver", "--kubeconfig", cluster.api.kubeconfig,
                      "--pods", String(pods)]
        // The driver runs where the API server is (the fabric namespace) and prints one JSON line.
        func drive(_ extra: [String]) throws -> [String: Any] {
            let result = try Command.run(["ip", "netns", "exec", cluster.fabric.name] + driver + extra)
            guard result.succeeded, let line = result.stdout.split(separator: "\n").last,
                  let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ValidationError("driver failed: \(result.stderr)\n\(cluster.log("kubelet1").suffix(2000))")
            }
            return json
        }
        // One pod first: the built-in busybox image is made on first use (images present, as the SLO assumes).
        _ = try drive(["--namespace", "warmup", "--pods", "1", "--rate", "0"])
        let paced = try drive(["--namespace", "paced", "--rate", String(rate)])
        let burst = try drive(["--namespace", "burst", "--rate", "0"])
        func line(_ name: String, _ r: [String: Any]) {
            print(String(format: "netplane %@: %d pods, p50 %.3f s, p99 %.3f s, max %.3f s (all Running with an IP after %.2f s)",
                         name, r["pods"] as? Int ?? 0, r["p50"] as? Double ?? 0, r["p99"] as? Double ?? 0,
                         r["max"] as? Double ?? 0, r["total"] as? Double ?? 0))
        }
        line("paced at \(rate)/s", paced)
        line("all at once", burst)

        let floor = try runcFloor(image: cluster.dir + "/images/images/busybox/rootfs", runs: 50)
        print(String(format: "floor: runc run -d of a prepared busybox bundle alone, p50 %.3f s, p99 %.3f s", floor.p50, floor.p99))

        var anchorP99: Double?
        if anchorRuns > 0 {
            let anchor = try podmanAnchor(rootfs: cluster.dir + "/images/images/busybox/rootfs", runs: anchorRuns)
            anchorP99 = anchor.p99
            print(String(format: "anchor: podman run -d (runc, Netplane's bridge + host-local), %d containers one after another, p50 %.3f s, p99 %.3f s",
                         anchorRuns, anchor.p50, anchor.p99))
        }
        print("anchor: Kubernetes pod start-up SLO, p99 <= 5 s (published; stateless pods, images present)")
        let p99 = paced["p99"] as? Double ?? 0
        if let anchorP99 {
            print(String(format: "RESULT podstart-p99 netplane=%.3f anchor=%.3f ratio=%.2f", p99, anchorP99, anchorP99 / p99))
        }
        print(String(format: "RESULT podstart-p99-vs-slo netplane=%.3f anchor=5.000 ratio=%.1f", p99, 5.0 / p99))
        print(String(format: "target: p99 <= 0.5 s: %@", p99 <= 0.5 ? "met" : "not met"))
    }

    struct Percentiles { var p50: Double; var p99: Double }

    static func percentiles(_ samples: [Double]) -> Percentiles {
        let sorted = samples.sorted()
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)] }
        return Percentiles(p50: at(0.5), p99: at(0.99))
    }

    /// `runc run -d` + `runc delete -f` of one prepared bundle, `runs` times: the runtime's own cost.
    func runcFloor(image: String, runs: Int) throws -> Percentiles {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-runc-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/bundle", withIntermediateDirectories: true)
        try Command.check(["runc", "spec", "--bundle", dir + "/bundle"])
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/bundle/config.json"))) as! [String: Any]
        var process = config["process"] as! [String: Any]
        process["terminal"] = false
        process["args"] = ["sleep", "3600"]
        process.removeValue(forKey: "rlimits")
        config["process"] = process
        config["root"] = ["path": image, "readonly": true]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/bundle/config.json"))
        var samples: [Double] = []
        for i in 0..<runs {
            let id = "np-bench-floor-\(getpid())-\(i)"
            // The container inherits runc's stdio: /dev/null, or it would hold a pipe open.
            let cost = try measureCommand(["runc", "--root", dir + "/state", "run", "-d", "--bundle", dir + "/bundle", id],
                                          stdinFile: "/dev/null", quiet: true)
            samples.append(cost.wall)
            _ = try Command.run(["runc", "--root", dir + "/state", "delete", "-f", id])
        }
        return Self.percentiles(samples)
    }

    /// podman (CNI backend, runc, cgroupfs) in a namespace of its own, with Netplane's bridge
    /// and host-local plugins, starting the same busybox root filesystem (imported), one
    /// container after another; each `podman run -d` returns once the container runs with its
    /// network.
    func podmanAnchor(rootfs: String, runs: Int) throws -> Percentiles {
        guard (try? Command.run(["podman", "--version"]))?.succeeded == true else {
            throw ValidationError("the anchor needs podman (apt-get install podman), or --anchor-runs 0")
        }
        let ns = try TestNamespace.create("bench-podman")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-podman-\(getpid())").path
        defer {
            ns.remove()
            _ = try? Command.run(["sh", "-c", "grep -o ' \(dir)[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l"])
            try? FileManager.default.removeItem(atPath: dir)
        }
        try FileManager.default.createDirectory(atPath: dir + "/cni", withIntermediateDirectories: true)
        try """
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            runtime = "runc"
            [network]
            network_backend = "cni"
            cni_plugin_dirs = ["\(productsDirectory())", "/usr/lib/cni"]
            network_config_dir = "\(dir)/cni"
            default_network = "podnet"
            """.write(toFile: dir + "/containers.conf", atomically: true, encoding: .utf8)
        try """
            [storage]
            driver = "overlay"
            graphroot = "\(dir)/storage"
            runroot = "\(dir)/run"
            """.write(toFile: dir + "/storage.conf", atomically: true, encoding: .utf8)
        try """
            {"cniVersion": "0.4.0", "name": "podnet", "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": true,
             "isDefaultGateway": true, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.200.0/24"}]], "dataDir": "\(dir)/ipam"}}]}
            """.write(toFile: dir + "/cni/podnet.conflist", atomically: true, encoding: .utf8)
        let env = ["env", "CONTAINERS_CONF=\(dir)/containers.conf", "CONTAINERS_STORAGE_CONF=\(dir)/storage.conf"]
        // nsenter, not `ip netns exec`: podman's runc needs the real /sys (cgroups).
        let podman = env + ["nsenter", "--net=\(ns.path)", "podman"]
        try Command.check(["tar", "-C", rootfs, "-cf", dir + "/busybox.tar", "."])
        try Command.check(podman + ["import", dir + "/busybox.tar", "localhost/busybox:bench"])
        // Podman's default rlimits exceed this machine's hard limits; low ones pass.
        let run = podman + ["run", "-d", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "podnet",
                            "localhost/busybox:bench", "httpd", "-f", "-p", "8080"]
        // conmon (podman's monitor) keeps the stdio it was started with: /dev/null here.
        _ = try measureCommand(run, stdinFile: "/dev/null", quiet: true)
        var samples: [Double] = []
        for _ in 0..<runs {
            samples.append(try measureCommand(run, stdinFile: "/dev/null", quiet: true).wall)
        }
        let ips = try Command.check(podman + ["ps", "-q"]).split(separator: "\n").count
        guard ips == runs + 1 else { throw ValidationError("podman runs \(ips) containers, expected \(runs + 1)") }
        _ = try Command.run(podman + ["rm", "-f", "-a", "-t", "0"])
        return Self.percentiles(samples)
    }
}

/// The timing half of `podstart`, run inside the fabric namespace where the API server is:
/// creates the pods (paced or at once) and watches them; prints one JSON line.
struct PodStartDriver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "podstart-driver", abstract: "(used by podstart)", shouldDisplay: false)

    @Option var kubeconfig: String
    @Option var namespace: String
    @Option var pods = 100
    @Option var rate = 10.0

    func run() async throws {
        let client = try APIClient(try ClientConfig.kubeconfig(kubeconfig), maxConnections: 32)
        _ = try await client.create(Namespace.resource, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])
        let started = Locked<[String: Double]>([:])
        let running = Locked<[String: Double]>([:])
        let informer = Informer<Pod>(client, namespace: namespace) { event in
            let pod = event.object
            guard pod.phase == "Running", !pod.podIPs.isEmpty else { return }
            let t = now()
            running.withLock { if $0[pod.name] == nil { $0[pod.name] = t } }
        }
        let watching = Task { await informer.run() }
        defer { watching.cancel() }
        guard await informer.waitForSync() else { throw ValidationError("the pod watch did not start") }
        let begin = now()
        let namespace = self.namespace
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<pods {
                if rate > 0 {
                    let due = begin + Double(i) / rate
                    let wait = due - now()
                    if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
                }
                let name = String(format: "pod-%03d", i)
                group.addTask {
                    let pod: JSONValue = [
                        "apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name), "namespace": .string(namespace)],
                        "spec": ["terminationGracePeriodSeconds": 1,
                                 "containers": [["name": "c", "image": "busybox", "command": ["sleep", "3600"]]]],
                    ]
                    started.withLock { $0[name] = now() }
                    _ = try await client.create(Pod.resource, pod)
                }
            }
            try await group.waitForAll()
        }
        let deadline = now() + 120
        while running.withLock({ $0.count }) < pods {
            guard now() < deadline else { throw ValidationError("\(running.withLock { $0.count })/\(pods) pods running after 120 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let total = now() - begin
        let latencies = started.withLock { s in running.withLock { r in s.map { r[$0.key]! - $0.value } } }
        let p = PodStartBench.percentiles(latencies)
        // The pods go before the next case: gracefully, so that the list is empty only once the
        // node agent has torn every one down (the teardown is not measured).
        for i in 0..<pods {
            _ = try? await client.delete(Pod.resource, namespace: namespace, name: String(format: "pod-%03d", i))
        }
        let drained = now() + 120
        while (try? await client.list(Pod.resource, namespace: namespace))?.items.isEmpty == false, now() < drained {
            try await Task.sleep(for: .milliseconds(200))
        }
        print(#"{"pods": \#(pods), "p50": \#(p.p50), "p99": \#(p.p99), "max": \#(latencies.max() ?? 0), "total": \#(total)}"#)
        await client.shutdown()
    }
}
