import Foundation
import Testing
import Netlink
import NetAddress
import NetplaneTestSupport

@Suite("Route batches (Root)", .serialized)
struct RouteBatchRootTests {
    /// 10k /32 routes via a gateway, like a routed node's per-pod routes.
    static func routes(count: Int) -> [Route] {
        (0..<count).map { i in
            let address = IPv4Address(10, UInt8(244 + i >> 16), UInt8(i >> 8 & 255), UInt8(i & 255))
            return Route(destination: try! IPPrefix(address: .v4(address), length: 32),
                         gateway: IPAddress("198.18.0.2"), device: "br0")
        }
    }

    static func prepare(_ ns: TestNamespace) throws {
        try Command.check(["ip", "-n", ns.name, "link", "add", "br0", "type", "bridge"])
        try Command.check(["ip", "-n", ns.name, "link", "set", "br0", "up"])
        try Command.check(["ip", "-n", ns.name, "addr", "add", "198.18.0.1/24", "dev", "br0"])
    }

    static func routeCount(_ ns: TestNamespace) throws -> Int {
        try Command.check(["ip", "-n", ns.name, "route", "show"]).split(separator: "\n").count
    }

    @Test("Root: 10k routes added and deleted in batches, timed against ip -batch")
    func tenThousandRoutes() throws {
        let routes = Self.routes(count: 10_000)
        let clock = ContinuousClock()
        var netplane: (Duration, Duration) = (.zero, .zero)
        try TestNamespace.with(label: "batch") { (ns: TestNamespace) in
            try Self.prepare(ns)
            let nl = try NetlinkHandle(namespace: try ns.netns())
            netplane.0 = try clock.measure { try nl.addRoutes(routes) }
            #expect(try Self.routeCount(ns) == 10_001)
            let shown = try Command.check(["ip", "-n", ns.name, "route", "show", "10.244.39.15"])
            #expect(shown.contains("10.244.39.15 via 198.18.0.2 dev br0"))
            #expect(try nl.routes().count == 10_001)
            // Every request failing at once still reports every failure (no reply is lost).
            let again = #expect(throws: NetlinkError.self) { try nl.addRoutes(routes) }
            #expect(again?.code == .exists)
            #expect(again?.description.hasSuffix("(10000 of 10000 routes failed)") == true)
            netplane.1 = try clock.measure { try nl.deleteRoutes(routes) }
            #expect(try Self.routeCount(ns) == 1)
        }

        var iproute: (Duration, Duration) = (.zero, .zero)
        try TestNamespace.with(label: "batch") { (ns: TestNamespace) in
            try Self.prepare(ns)
            let add = routes.map { "route add \($0.destination) via 198.18.0.2 dev br0" }.joined(separator: "\n") + "\n"
            let del = add.replacingOccurrences(of: "route add", with: "route del")
            iproute.0 = try clock.measure { try Command.check(["ip", "-n", ns.name, "-batch", "-"], stdin: add) }
            #expect(try Self.routeCount(ns) == 10_001)
            iproute.1 = try clock.measure { try Command.check(["ip", "-n", ns.name, "-batch", "-"], stdin: del) }
        }
        print("10k routes: Netplane add \(netplane.0) delete \(netplane.1); ip -batch add \(iproute.0) delete \(iproute.1)")
    }

    @Test("Root: a batch attempts every route and reports the failures")
    func batchFailures() throws {
        try TestNamespace.with(label: "batch") { (ns: TestNamespace) in
            try Self.prepare(ns)
            let nl = try NetlinkHandle(namespace: try ns.netns())
            let routes = Self.routes(count: 1000)
            try nl.addRoutes(Array(routes[0..<10]))
            let error = #expect(throws: NetlinkError.self) { try nl.addRoutes(routes) }
            #expect(error?.code == .exists)
            #expect(error?.description.contains("10 of 1000 routes failed") == true)
            #expect(try Self.routeCount(ns) == 1001)
        }
    }
}
