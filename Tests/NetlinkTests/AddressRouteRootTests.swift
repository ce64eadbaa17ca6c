import Foundation
import Testing
import Netlink
import NetAddress
import NetplaneTestSupport

@Suite("Addresses and routes (Root)", .serialized)
struct AddressRouteRootTests {
    /// ns A: bridge br0 10.244.0.1/24 with veth-a enslaved; ns B: veth-b 10.244.0.2/24.
    static func wire(_ a: TestNamespace, _ b: TestNamespace) throws -> (NetlinkHandle, NetlinkHandle) {
        let nlA = try a.handle(), nlB = try b.handle()
        try nlA.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
        try nlA.addLink(LinkSpec(name: "veth-a", kind: .veth(peerName: "veth-b", peerNamespace: try b.netns()),
                                 master: "br0", up: true))
        try nlA.addAddress(IPPrefix("10.244.0.1/24"), link: "br0")
        try nlB.setLink(named: "veth-b", .up)
        try nlB.addAddress(IPPrefix("10.244.0.2/24"), link: "veth-b")
        return (nlA, nlB)
    }

    @Test("Root: ping between two namespaces over a bridge, then through a route")
    func pingOverBridge() throws {
        try TestNamespace.with(2, label: "ping") { nss in
            let (a, b) = (nss[0], nss[1])
            let (nlA, nlB) = try Self.wire(a, b)
            let ping = try a.run(["ping", "-c1", "-W2", "10.244.0.2"])
            #expect(ping.succeeded, "\(ping.stdout)\(ping.stderr)")

            // 198.18.0.1 lives on A's bridge; B reaches it only through the route.
            try nlA.addAddress(IPPrefix("198.18.0.1/32"), link: "br0")
            #expect(try !b.run(["ping", "-c1", "-W1", "198.18.0.1"]).succeeded)
            try nlB.addRoute(Route(destination: IPPrefix("198.18.0.0/24"), gateway: IPAddress("10.244.0.1")))
            let routed = try b.run(["ping", "-c1", "-W2", "198.18.0.1"])
            #expect(routed.succeeded, "\(routed.stdout)\(routed.stderr)")
        }
    }

    @Test("Root: add, replace, list and delete addresses")
    func addresses() throws {
        try TestNamespace.with(label: "addr") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            try nl.addAddress(IPPrefix("10.244.1.1/24"), link: "br0")
            try nl.addAddress(IPPrefix("10.244.2.1/24"), link: "br0")
            try nl.addAddress(IPPrefix("fd00:244::1/64"), link: "br0")

            let shown = try ns.ipJSON(["addr", "show", "dev", "br0"]).first?["addr_info"] as? [[String: Any]] ?? []
            let texts = Set(shown.compactMap { info -> String? in
                guard let local = info["local"] as? String, let length = info["prefixlen"] as? Int else { return nil }
                return "\(local)/\(length)"
            })
            #expect(texts.isSuperset(of: ["10.244.1.1/24", "10.244.2.1/24", "fd00:244::1/64"]))
            let read = Set(try nl.addresses(link: "br0").map(\.prefix.description))
            #expect(read.isSuperset(of: ["10.244.1.1/24", "10.244.2.1/24", "fd00:244::1/64"]))
            #expect(try nl.addresses(link: "br0", family: .ipv4).map(\.prefix.description).sorted()
                    == ["10.244.1.1/24", "10.244.2.1/24"])
            #expect(try nl.addresses(link: "lo", family: .ipv4).map(\.prefix.description) == ["127.0.0.1/8"])

            let duplicate = #expect(throws: NetlinkError.self) { try nl.addAddress(IPPrefix("10.244.1.1/24"), link: "br0") }
            #expect(duplicate?.code == .exists)
            try nl.replaceAddress(IPPrefix("10.244.1.1/24"), link: "br0")

            try nl.deleteAddress(IPPrefix("10.244.2.1/24"), link: "br0")
            #expect(!(try Command.check(["ip", "-n", ns.name, "addr", "show", "dev", "br0"]).contains("10.244.2.1")))
            let missing = #expect(throws: NetlinkError.self) { try nl.deleteAddress(IPPrefix("10.244.2.1/24"), link: "br0") }
            #expect(missing?.code == .notFound)
            let noLink = #expect(throws: NetlinkError.self) { try nl.addAddress(IPPrefix("10.244.3.1/24"), link: "nope0") }
            #expect(noLink?.code == .linkNotFound)
        }
    }

    @Test("Root: routes with via, onlink, scope, table and metric; replace and delete semantics")
    func routes() throws {
        try TestNamespace.with(label: "route") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            try nl.addAddress(IPPrefix("198.18.0.1/24"), link: "br0")

            let via = Route(destination: try IPPrefix("10.1.0.0/24"), gateway: IPAddress("198.18.0.2"), device: "br0", metric: 10)
            let onlink = Route(destination: try IPPrefix("10.2.0.0/24"), gateway: IPAddress("10.99.99.1"), device: "br0", onlink: true)
            let linkScope = Route(destination: try IPPrefix("10.3.0.5/24"), device: "br0", table: 100)
            let defaultRoute = Route(destination: try IPPrefix("0.0.0.0/0"), gateway: IPAddress("198.18.0.254"), device: "br0")
            let tagged = Route(destination: try IPPrefix("10.5.0.0/16"), device: "br0", scope: .host, proto: .static,
                               source: IPAddress("198.18.0.1"))
            for route in [via, onlink, linkScope, defaultRoute, tagged] { try nl.addRoute(route) }

            let shown = try ns.ipJSON(["route", "show", "table", "all"])
            func find(_ dst: String, table: String? = nil) -> [String: Any]? {
                shown.first { $0["dst"] as? String == dst && (table == nil || $0["table"] as? String == table) }
            }
            #expect(find("10.1.0.0/24")?["gateway"] as? String == "198.18.0.2")
            #expect(find("10.1.0.0/24")?["dev"] as? String == "br0")
            #expect(find("10.1.0.0/24")?["metric"] as? Int == 10)
            #expect((find("10.2.0.0/24")?["flags"] as? [String])?.contains("onlink") == true)
            #expect(find("10.2.0.0/24")?["gateway"] as? String == "10.99.99.1")
            #expect(find("10.3.0.0/24", table: "100")?["scope"] as? String == "link")
            #expect(find("10.3.0.0/24", table: "100")?["gateway"] == nil)
            #expect(find("default")?["gateway"] as? String == "198.18.0.254")
            #expect(find("10.5.0.0/16")?["scope"] as? String == "host")
            #expect(find("10.5.0.0/16")?["protocol"] as? String == "static")
            #expect(find("10.5.0.0/16")?["prefsrc"] as? String == "198.18.0.1")
            #expect(try Command.check(["ip", "-n", ns.name, "route", "show", "table", "main"]).contains("10.3.0.0") == false)

            // What Netplane reads back equals what it was asked to add.
            let main = try nl.routes()
            for route in [via, onlink, defaultRoute, tagged] { #expect(main.contains(route), "\(route) in \(main)") }
            #expect(try nl.routes(table: 100) == [linkScope])
            #expect(try nl.routes(table: nil).contains(linkScope))
            #expect(main.contains { $0.proto == .kernel && $0.destination.description == "198.18.0.0/24" })

            // add is exclusive, replace overwrites the route with the same key, append adds.
            let duplicate = #expect(throws: NetlinkError.self) { try nl.addRoute(via) }
            #expect(duplicate?.code == .exists)
            #expect(duplicate?.description == "add route 10.1.0.0/24 via 198.18.0.2 dev br0 metric 10: File exists")
            var moved = via
            moved.gateway = IPAddress("198.18.0.3")
            try nl.replaceRoute(moved)
            let after = try ns.ipJSON(["route", "show", "10.1.0.0/24"])
            #expect(after.count == 1)
            #expect(after.first?["gateway"] as? String == "198.18.0.3")
            var otherMetric = via
            otherMetric.metric = 20
            try nl.replaceRoute(otherMetric)  // a different metric is a different route
            #expect(try ns.ipJSON(["route", "show", "10.1.0.0/24"]).count == 2)

            try nl.deleteRoute(moved)
            try nl.deleteRoute(linkScope)
            #expect(try ns.ipJSON(["route", "show", "10.1.0.0/24"]).map { $0["metric"] as? Int } == [20])
            #expect(try ns.ipJSON(["route", "show", "table", "100"]).isEmpty)
            let gone = #expect(throws: NetlinkError.self) { try nl.deleteRoute(linkScope) }
            #expect(gone?.code == .notFound)
            #expect(gone?.errno == ESRCH)
        }
    }

    @Test("Root: typed route errors: unknown device, unreachable gateway, mixed families")
    func routeErrors() throws {
        try TestNamespace.with(label: "rterr") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            try nl.addAddress(IPPrefix("198.18.0.1/24"), link: "br0")
            let noDevice = #expect(throws: NetlinkError.self) {
                try nl.addRoute(Route(destination: IPPrefix("10.1.0.0/24"), device: "nope0"))
            }
            #expect(noDevice?.code == .linkNotFound)
            #expect(noDevice?.link == "nope0")
            let unreachable = #expect(throws: NetlinkError.self) {
                try nl.addRoute(Route(destination: IPPrefix("10.1.0.0/24"), gateway: IPAddress("10.99.0.1"), device: "br0"))
            }
            #expect(unreachable?.code == .unreachable)
            let mixed = #expect(throws: NetlinkError.self) {
                try nl.addRoute(Route(destination: IPPrefix("10.1.0.0/24"), gateway: IPAddress("fd00::1")))
            }
            #expect(mixed?.code == .invalidArgument)
            #expect(try ns.ipJSON(["route", "show", "10.1.0.0/24"]).isEmpty)
        }
    }

    @Test("Root: IPv6 routes")
    func ipv6Routes() throws {
        try TestNamespace.with(label: "rt6") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            try Sysctl.setAcceptDAD(0, interface: "br0", in: try ns.netns())
            try nl.addAddress(IPPrefix("fd00:18::1/64"), link: "br0")
            let route = Route(destination: try IPPrefix("fd00:244::/64"), gateway: IPAddress("fd00:18::2"), device: "br0",
                              metric: 1024)
            try nl.addRoute(route)
            let shown = try ns.ipJSON(["-6", "route", "show", "fd00:244::/64"])
            #expect(shown.first?["gateway"] as? String == "fd00:18::2")
            #expect(try nl.routes(family: .ipv6).contains(route))
            try nl.deleteRoute(route)
            #expect(try ns.ipJSON(["-6", "route", "show", "fd00:244::/64"]).isEmpty)
        }
    }
}
