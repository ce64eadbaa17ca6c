import ArgumentParser
import Foundation
import NetAddress
import Netlink

/// 10k /32 routes added then removed in a namespace: Netplane's batched route requests
/// against `ip -batch` of the same routes, alternating, in the same run.
struct RoutesBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes",
        abstract: "Add then remove N /32 routes: Netplane vs ip -batch.")

    @Option(help: "Number of /32 routes.") var count = 10_000
    @Option(help: "Repetitions of each side (the median is reported).") var repeats = 5

    func run() throws {
        let name = "np-bench-routes-\(getpid())"
        let ns = try NetNS.create(name: name)
        defer { try? NetNS.delete(name: name) }
        let handle = try NetlinkHandle(namespace: ns)
        // A veth pair inside the namespace carries the routes' next hop (as host-gw would).
        try handle.addLink(LinkSpec(name: "veth0", kind: .veth(peerName: "veth1", peerNamespace: nil), up: true))
        try handle.setLink(named: "veth1", .up)
        try handle.addAddress(IPPrefix("198.18.0.1/24"), link: "veth0")
        let gateway = IPAddress("198.18.0.2")!

        let routes = try (0..<count).map { i throws(AddressParseError) in
            Route(destination: try IPPrefix(address: .v4(IPv4Address(0x0A40_0000 + UInt32(i))), length: 32),
                  gateway: gateway, device: "veth0")
        }
        let dir = FileManager.default.temporaryDirectory.path
        let addFile = "\(dir)/np-bench-routes-add-\(getpid())", delFile = "\(dir)/np-bench-routes-del-\(getpid())"
        defer { unlink(addFile); unlink(delFile) }
        try routes.map { "route add \($0.destination) via 198.18.0.2 dev veth0\n" }.joined()
            .write(toFile: addFile, atomically: true, encoding: .utf8)
        try routes.map { "route del \($0.destination) via 198.18.0.2 dev veth0\n" }.joined()
            .write(toFile: delFile, atomically: true, encoding: .utf8)

        var ours: [Double] = [], theirs: [Double] = []
        for _ in 0..<repeats {
            let n = try measureInProcess {
                try handle.addRoutes(routes)
                try handle.deleteRoutes(routes)
            }
            ours.append(n.wall)
            let a = try measureCommand(["ip", "-n", name, "-batch", addFile]).wall
                + measureCommand(["ip", "-n", name, "-batch", delFile]).wall
            theirs.append(a)
        }
        let left = try handle.routes().filter { $0.destination.length == 32 && $0.gateway == gateway }.count
        guard left == 0 else { throw ValidationError("\(left) routes were left behind") }
        print("routes: \(count) x /32 via 198.18.0.2, add+remove, median of \(repeats): netplane \(ours.map { String(format: "%.3f", $0) }) ip-batch \(theirs.map { String(format: "%.3f", $0) })")
        printResult("routes", netplane: median(ours), anchor: median(theirs), unit: "s")
    }
}
