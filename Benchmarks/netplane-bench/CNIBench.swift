import ArgumentParser
import Foundation
import Netlink

/// ADD then DEL of bridge + host-local for N pod namespaces, each call a real plugin process
/// started the way a runtime starts it (environment, config on stdin) from inside a node
/// namespace: Netplane's plugins and the reference plugins, same config shape, same run.
struct CNIBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cni",
        abstract: "ADD then DEL of bridge + host-local over N namespaces: Netplane vs the reference plugins.")

    @Option(help: "Number of pod namespaces.") var count = 200
    @Option(help: "Directory of Netplane's bridge and host-local (default: beside this binary).")
    var netplaneDir: String?
    @Option(help: "Directory of the reference plugins.") var referenceDir = "/usr/lib/cni"
    @Flag(help: "Run the reference plugins first.") var anchorFirst = false

    struct Side {
        var name: String
        var dir: String
        var bridge: String
        var subnet: String
        var add: [Double] = []
        var del: [Double] = []
    }

    func run() throws {
        let ourDir = netplaneDir ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().path
        for dir in [ourDir, referenceDir] {
            for plugin in ["bridge", "host-local"] where !FileManager.default.isExecutableFile(atPath: dir + "/" + plugin) {
                throw ValidationError("no \(plugin) in \(dir)")
            }
        }
        let tag = "\(getpid())"
        let nodeName = "np-bench-cni-node-\(tag)"
        let node = try NetNS.create(name: nodeName)
        var pods: [String] = []
        defer {
            for p in pods { try? NetNS.delete(name: p) }
            try? NetNS.delete(name: nodeName)
        }
        for i in 0..<count {
            let name = "np-bench-cni-\(tag)-\(i)"
            _ = try NetNS.create(name: name)
            pods.append(name)
        }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-cni-\(tag)").path
        defer { try? FileManager.default.removeItem(atPath: data) }

        var sides = [Side(name: "netplane", dir: ourDir, bridge: "cni-np", subnet: "10.244.0.0/16"),
                     Side(name: "reference", dir: referenceDir, bridge: "cni-ref", subnet: "10.88.0.0/16")]
        if anchorFirst { sides.reverse() }
        waitForIdleKernel()
        try node.run {
            for s in sides.indices {
                let conf = #"{"cniVersion":"1.0.0","name":"bench-\#(sides[s].name)","type":"bridge","bridge":"\#(sides[s].bridge)","#
                    + #""isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"\#(sides[s].subnet)","#
                    + #""dataDir":"\#(data)"}}"#
                let confFile = data + "-\(sides[s].name).json"
                try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
                try conf.write(toFile: confFile, atomically: true, encoding: .utf8)
                defer { unlink(confFile) }
                func call(_ command: String, _ i: Int) throws -> Double {
                    let env = ["CNI_COMMAND=\(command)", "CNI_CONTAINERID=bench-\(i)", "CNI_NETNS=/run/netns/\(pods[i])",
                               "CNI_IFNAME=eth0", "CNI_PATH=\(sides[s].dir)", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
                    return try measureCommand([sides[s].dir + "/bridge"], stdinFile: confFile, environment: env).wall
                }
                for i in 0..<count { sides[s].add.append(try call("ADD", i)) }
                for i in 0..<count { sides[s].del.append(try call("DEL", i)) }
            }
        }
        // Both sides must have cleaned up after themselves for the timings to mean anything.
        let leftovers = try NetlinkHandle(namespace: node).links().filter { $0.kind == "veth" }.count
        guard leftovers == 0 else { throw ValidationError("\(leftovers) veths left in the node after DEL") }
        let floor = try kernelDeleteFloor(node: node, pods: pods.prefix(min(count, 50)).map { $0 })

        let ours = sides.first { $0.name == "netplane" }!, theirs = sides.first { $0.name == "reference" }!
        func ms(_ xs: [Double]) -> String {
            String(format: "median %.2f ms, mean %.2f ms, p90 %.2f ms", median(xs) * 1000,
                   xs.reduce(0, +) / Double(max(xs.count, 1)) * 1000, percentile(xs, 0.9) * 1000)
        }
        print("cni: bridge + host-local (isGateway, ipMasq), \(count) pods, one process per call")
        print("  netplane  ADD \(ms(ours.add)); DEL \(ms(ours.del))")
        print("  reference ADD \(ms(theirs.add)); DEL \(ms(theirs.del))")
        printResult("cni-add", netplane: median(ours.add) * 1000, anchor: median(theirs.add) * 1000, unit: "ms")
        print("  kernel    deleting a pod's veth in-process (no plugin, no IPAM, no rules): \(ms(floor))")
        printResult("cni-del", netplane: median(ours.del) * 1000, anchor: median(theirs.del) * 1000, unit: "ms",
                    extra: String(format: "kernel-floor=%.2f", median(floor) * 1000))
    }

    /// The least any DEL can take on this kernel: one RTM_DELLINK of a pod's veth, sent from
    /// this process on an open netlink socket in the pod's namespace. Unregistering a device
    /// ends in `netdev_run_todo -> rcu_barrier()` in the caller's context (moving it to another
    /// namespace does too), so this is a wait for an RCU grace period, whoever deletes.
    /// All veths are made first and the kernel left to settle, as the plugins' DELs find
    /// veths made long before.
    func kernelDeleteFloor(node: NetNS, pods: [String]) throws -> [Double] {
        let host = try NetlinkHandle(namespace: node)
        var handles: [NetlinkHandle] = []
        for (i, pod) in pods.enumerated() {
            let ns = try NetNS.open(name: pod)
            try host.addLink(LinkSpec(name: "np-floor-\(i)", kind: .veth(peerName: "eth0", peerNamespace: ns)))
            handles.append(try NetlinkHandle(namespace: ns))
        }
        waitForIdleKernel()
        var times: [Double] = []
        for ctr in handles {
            let start = now()
            try ctr.deleteLink(named: "eth0")
            times.append(now() - start)
        }
        return times
    }
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
}
