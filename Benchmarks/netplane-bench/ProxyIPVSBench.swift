import ArgumentParser
import Foundation
import IPVS
import NetAddress
import Netlink
import Proxy

/// IPVS mode at scale (in the VM lane): `proxy-ipvs-full` loads S services × E endpoints into
/// a fresh namespace (virtual and real servers, the service addresses bound to the dummy
/// device, the nftables sets), against `ipvsadm --restore` of the same virtual and real
/// servers (IPVS alone) in another; `proxy-ipvs-incremental` adds one endpoint to one
/// service at that size, against `ipvsadm -a` of that real server.
extension ProxyBench {
    func runIPVS() throws {
        let ports = (0..<services).map { Self.port($0, endpoints: endpoints) }
        let ns = "np-bench-ipvs-\(getpid())"
        try Self.sh(["ip", "netns", "add", ns])
        defer { _ = try? Self.sh(["ip", "netns", "delete", ns]) }
        // IPVS takes only real servers it sees as unicast, which needs the local routing
        // table a namespace gets with its loopback up (as every node's is).
        try Self.sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        let proxier = try IPVSProxier(options: IPVSOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")]),
                                      namespace: NetNS.open(path: "/run/netns/\(ns)"))
        let full = try measureInProcess { try proxier.syncFull(ports) }
        var changed = ports[0]
        changed.endpoints.append(ProxyEndpoint(address: IPAddress("10.245.255.1")!, port: 8080))
        let incremental = try measureInProcess { try proxier.syncChanges(upserted: [changed], removed: []) }
        let listed = try Self.output(["ip", "netns", "exec", ns, "ipvsadm", "-Ln"])
        let virtual = listed.split(separator: "\n").filter { $0.hasPrefix("TCP") }.count
        let real = listed.split(separator: "\n").filter { $0.contains("->") && $0.contains("Masq") }.count
        guard virtual == services, real == services * endpoints + 1 else {
            throw ValidationError("IPVS holds \(virtual) virtual and \(real) real servers, not \(services) and \(services * endpoints + 1)")
        }

        // The anchor: the same virtual and real servers through ipvsadm --restore.
        let anchorNS = "np-bench-ipvsadm-\(getpid())"
        try Self.sh(["ip", "netns", "add", anchorNS])
        defer { _ = try? Self.sh(["ip", "netns", "delete", anchorNS]) }
        try Self.sh(["ip", "-n", anchorNS, "link", "set", "lo", "up"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-ipvsadm-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        var lines = ""
        for port in ports {
            let vip = "\(port.clusterIPs[0]):\(port.port)"
            lines += "-A -t \(vip) -s rr\n"
            for e in port.endpoints { lines += "-a -t \(vip) -r \(e.address):\(e.port) -m -w 1\n" }
        }
        try lines.write(toFile: file, atomically: true, encoding: .utf8)
        let anchorFull = try measureCommand(["ip", "netns", "exec", anchorNS, "ipvsadm", "--restore"], stdinFile: file)
        let anchorIncremental = try measureCommand(["ip", "netns", "exec", anchorNS, "ipvsadm", "-a", "-t", "\(ports[0].clusterIPs[0]):80",
                                                    "-r", "10.245.255.1:8080", "-m", "-w", "1"])
        print("proxy-ipvs: \(services) services × \(endpoints) endpoints; netplane full \(full.summary) (IPVS + \(services) bound addresses + nftables sets), ipvsadm --restore \(anchorFull.summary) (IPVS only)")
        print("proxy-ipvs: one endpoint added: netplane \(incremental.summary), ipvsadm -a \(anchorIncremental.summary)")
        printResult("proxy-ipvs-full", netplane: full.wall, anchor: anchorFull.wall, unit: "s")
        printResult("proxy-ipvs-incremental", netplane: incremental.wall, anchor: anchorIncremental.wall, unit: "s")
    }

    static func output(_ args: [String]) throws -> String {
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = args
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
