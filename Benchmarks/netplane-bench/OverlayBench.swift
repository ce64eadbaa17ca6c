import ArgumentParser
import Foundation
import NetAddress
import Netlink
import NetplaneTestSupport
import Overlay

/// The overlay's kernel programming: the VXLAN state for N remote nodes (a route, a permanent
/// neighbour and an FDB entry each) installed by flanneld's applier, against `ip -batch` +
/// `bridge -batch` of the same entries; then one node joining at that size (compile + apply
/// vs the same three entries through ip and bridge). With `--throughput`, pod-to-pod TCP
/// throughput across two nodes (iperf3) for each backend of a real flannel cluster.
struct OverlayBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "overlay",
        abstract: "Program VXLAN routes/neighbours/FDB for N nodes: Netplane vs ip/bridge -batch; --throughput: iperf3 per backend.")

    @Option(help: "Remote nodes.") var nodes = 1000
    @Option(help: "Repetitions of each side (the median is reported).") var repeats = 5
    @Flag(help: "Measure pod-to-pod TCP throughput per backend (iperf3) instead.") var throughput = false
    @Option(help: "iperf3 seconds per backend.") var seconds = 5

    func run() throws {
        if throughput { try measureThroughput() } else { try measureProgramming() }
    }

    // MARK: - Programming

    static func remote(_ i: Int) -> OverlayNode {
        let mac = MACAddress(bytes: [0x0a, 0x58, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)])
        return OverlayNode(name: "node\(i)", podCIDR: try? IPPrefix(address: .v4(IPv4Address(0x0A00_0000 | UInt32(i) << 8)), length: 24),
                           publicIP: IPv4Address(0xC613_0000 | UInt32(i)), backendType: "vxlan", vtepMAC: mac)
    }

    func measureProgramming() throws {
        let name = "np-bench-overlay-\(getpid())"
        let ns = try NetNS.create(name: name)
        defer { try? NetNS.delete(name: name) }
        let handle = try NetlinkHandle(namespace: ns)
        try handle.addLink(LinkSpec(name: "eth0", kind: .veth(peerName: "peer0", peerNamespace: nil), up: true))
        try handle.setLink(named: "peer0", .up)
        try handle.addAddress(IPPrefix("198.18.0.1/24"), link: "eth0")
        let underlay = Underlay(interface: "eth0", address: try IPPrefix("198.18.0.1/24"), mtu: 1500)
        let local = LocalNode(name: "node0", interface: "eth0", address: underlay.address, podCIDR: try IPPrefix("10.0.0.0/24"))
        let backend = OverlayBackend.vxlan(vni: 1, port: 8472, directRouting: false)
        func freshDevice() throws {
            try? handle.deleteLink(named: "flannel.1")
            _ = try OverlayDevice.ensureVXLAN(handle, vni: 1, port: 8472, underlay: underlay, podCIDR: local.podCIDR)
        }
        let all = (1...nodes + 1).map(Self.remote)
        let existing = Array(all.prefix(nodes)), joiner = all[nodes]
        let (state, _) = OverlayCompiler.desiredState(local: local, nodes: existing, backend: backend)
        guard state.routes.count == nodes, state.fdb.count == nodes else { throw ValidationError("compiler gave \(state.routes.count) routes") }

        // The same entries as iproute2 batch files.
        let dir = FileManager.default.temporaryDirectory.path
        func lines(_ nodes: [OverlayNode]) -> (ip: String, bridge: String) {
            var ip = "", bridge = ""
            for node in nodes {
                let cidr = node.podCIDR!, vtep = cidr.network.address, mac = node.vtepMAC!
                ip += "neigh replace \(vtep) lladdr \(mac) dev flannel.1 nud permanent\n"
                ip += "route replace \(cidr) via \(vtep) dev flannel.1 onlink proto 77\n"
                bridge += "fdb replace \(mac) dev flannel.1 dst \(node.publicIP!) self permanent\n"
            }
            return (ip, bridge)
        }
        let files = ["ip-all", "bridge-all", "ip-join", "bridge-join"].map { "\(dir)/np-bench-overlay-\($0)-\(getpid())" }
        defer { files.forEach { unlink($0) } }
        let (ipAll, bridgeAll) = lines(existing), (ipJoin, bridgeJoin) = lines([joiner])
        for (file, text) in zip(files, [ipAll, bridgeAll, ipJoin, bridgeJoin]) { try text.write(toFile: file, atomically: true, encoding: .utf8) }
        func anchor(_ ip: String, _ bridge: String) throws -> Double {
            try measureCommand(["ip", "-n", name, "-batch", ip]).wall
                + measureCommand(["ip", "netns", "exec", name, "bridge", "-batch", bridge]).wall
        }

        var joinParts: [(Double, Double)] = []
        var fullOurs: [Double] = [], fullTheirs: [Double] = [], joinOurs: [Double] = [], joinTheirs: [Double] = []
        for _ in 0..<repeats {
            try freshDevice()
            let applier = OverlayApplier(handle: handle, device: "flannel.1")
            fullOurs.append(try measureInProcess { try applier.sync(state, full: true) }.wall)
            try check(handle, nodes)
            // One node joins: flanneld recompiles from all Nodes and applies the difference.
            var next = OverlayState()
            let compile = measureInProcess { next = OverlayCompiler.desiredState(local: local, nodes: all, backend: backend).state }.wall
            let apply = try measureInProcess { try applier.sync(next) }.wall
            joinOurs.append(compile + apply)
            joinParts.append((compile, apply))
            try check(handle, nodes + 1)

            try freshDevice()
            fullTheirs.append(try anchor(files[0], files[1]))
            try check(handle, nodes)
            joinTheirs.append(try anchor(files[2], files[3]))
            try check(handle, nodes + 1)
        }
        func ms(_ xs: [Double]) -> String { xs.map { String(format: "%.2f", $0 * 1000) }.joined(separator: " ") }
        print("overlay: \(nodes) remote VXLAN nodes (route + neighbour + FDB each), median of \(repeats)")
        print("  full load ms: netplane [\(ms(fullOurs))] ip+bridge -batch [\(ms(fullTheirs))]")
        print("  join at \(nodes) ms: netplane (compile + apply) [\(ms(joinOurs))] ip+bridge -batch [\(ms(joinTheirs))]")
        print("  join parts ms: compile [\(ms(joinParts.map(\.0)))] apply [\(ms(joinParts.map(\.1)))]")
        printResult("overlay-full-\(nodes)", netplane: median(fullOurs), anchor: median(fullTheirs), unit: "s")
        printResult("overlay-join-at-\(nodes)", netplane: median(joinOurs), anchor: median(joinTheirs), unit: "s",
                    extra: String(format: "target_ms=2 netplane_ms=%.3f", median(joinOurs) * 1000))
    }

    /// The namespace holds exactly `count` overlay routes, neighbours and FDB entries.
    func check(_ handle: NetlinkHandle, _ count: Int) throws {
        let routes = try handle.routes().filter { $0.device == "flannel.1" }.count
        let neighbours = try handle.neighbours(link: "flannel.1").filter { $0.state.contains(.permanent) }.count
        let fdb = try handle.fdb(device: "flannel.1").filter { $0.destination != nil }.count
        guard routes == count, neighbours == count, fdb == count else {
            throw ValidationError("expected \(count) of each, found \(routes) routes, \(neighbours) neighbours, \(fdb) fdb entries")
        }
    }

    // MARK: - Throughput

    func measureThroughput() throws {
        var results: [(String, Double)] = []
        for backend in ["vxlan", "host-gw", "udp"] {
            let gbits = try FlannelClusterThroughput.measure(backend: backend, seconds: seconds)
            print(String(format: "  %@: %.2f Gbit/s pod to pod across nodes (iperf3 -t %d)", backend, gbits, seconds))
            results.append((backend, gbits))
        }
        let table = Dictionary(uniqueKeysWithValues: results)
        // Throughput: bigger is better, so the "ratio" is each against the kernel's VXLAN.
        for (backend, gbits) in results where backend != "vxlan" {
            print(String(format: "RESULT overlay-throughput-%@ netplane=%.3f anchor=%.3f ratio=%.2f unit=Gbit/s anchor_is=vxlan",
                         backend, gbits, table["vxlan"] ?? 0, (table["vxlan"] ?? 0) > 0 ? gbits / table["vxlan"]! : 0))
        }
    }
}

enum FlannelClusterThroughput {
    /// A two-node flannel cluster with `backend`; iperf3 from a pod on node 1 to a pod on node 2.
    static func measure(backend: String, seconds: Int) throws -> Double {
        var gbits = 0.0
        try FlannelCluster.with(nodes: 2) { cluster in
            for i in 1...2 { try cluster.startFlanneld(i, backend: backend) }
            let client = try cluster.addPod(node: 1), server = try cluster.addPod(node: 2)
            guard eventually(seconds: 15, { (try? client.ns.run(["ping", "-c", "1", "-W", "1", server.ip]).succeeded) == true }) else {
                throw ValidationError("\(backend): pods cannot reach each other\n\(cluster.log("flanneld1"))")
            }
            let iperf = Process()
            iperf.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            iperf.arguments = ["netns", "exec", server.ns.name, "iperf3", "-s", "-1"]
            iperf.standardOutput = FileHandle.nullDevice
            try iperf.run()
            defer { if iperf.isRunning { kill(iperf.processIdentifier, SIGKILL) }; iperf.waitUntilExit() }
            usleep(500_000)
            let out = try client.ns.check(["iperf3", "-J", "-c", server.ip, "-t", "\(seconds)"])
            guard let json = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
                  let end = json["end"] as? [String: Any], let received = end["sum_received"] as? [String: Any],
                  let bps = received["bits_per_second"] as? Double else {
                throw ValidationError("\(backend): unreadable iperf3 output")
            }
            gbits = bps / 1e9
        }
        return gbits
    }
}
