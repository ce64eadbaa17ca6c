import Foundation
import NetAddress
import Netlink
import NetplaneTestSupport
import Testing

/// Link kinds this machine's kernel lacks, in the VM lane (Debian's kernel with the ipip and
/// dummy modules): created through Netlink, checked with `ip -j -d link` and `ip -j addr`.
@Suite(.serialized) struct TunnelVMTests {
    @Test func ipipTunnelAndTheFallbackDevice() throws {
        try TestNamespace.with(label: "ipipvm") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "eth0", kind: .dummy, up: true))
            try nl.addAddress(IPPrefix("198.18.0.1/24"), link: "eth0")
            try nl.addLink(LinkSpec(name: "tun1", kind: .ipip(IPIPOptions(local: IPv4Address("198.18.0.1"), remote: IPv4Address("198.18.0.2"),
                                                                       device: "eth0", ttl: 64)), mtu: 1480, up: true))
            let links = try ns.linksByName()
            let tunnel = try #require(links["tun1"])
            #expect(tunnel[path: "linkinfo", "info_kind"] as? String == "ipip")
            #expect(tunnel[path: "linkinfo", "info_data", "local"] as? String == "198.18.0.1")
            #expect(tunnel[path: "linkinfo", "info_data", "remote"] as? String == "198.18.0.2")
            #expect(tunnel[path: "linkinfo", "info_data", "link"] as? String == "eth0")
            #expect(tunnel[path: "linkinfo", "info_data", "ttl"] as? Int == 64)
            #expect(tunnel["mtu"] as? Int == 1480)
            // Loading ipip made tunl0, the catch-all device Calico routes through: adding it
            // fails as .exists, configuring it works.
            let fallback = try #require(links["tunl0"], "no tunl0: \(links.keys.sorted())")
            #expect(fallback[path: "linkinfo", "info_kind"] as? String == "ipip")
            let duplicate = #expect(throws: NetlinkError.self) {
                try nl.addLink(LinkSpec(name: "tunl0", kind: .ipip(IPIPOptions())))
            }
            #expect(duplicate?.code == .exists)
            try nl.setLink(named: "tunl0", .mtu(1440), .up)
            try nl.addAddress(IPPrefix("10.244.1.0/32"), link: "tunl0")
            let configured = try #require(try ns.linksByName()["tunl0"])
            #expect(configured["mtu"] as? Int == 1440)
            #expect((configured["flags"] as? [String])?.contains("UP") == true)
            let read = try nl.link(named: "tun1")
            #expect(read.kind == "ipip" && read.mtu == 1480)
            #expect(try nl.addresses(link: "tunl0").map(\.prefix) == [try IPPrefix("10.244.1.0/32")])
        }
    }

    @Test func dummyLinksCarryAddresses() throws {
        try TestNamespace.with(label: "dummyvm") { (ns: TestNamespace) in
            let nl = try ns.handle()
            // The IPVS proxy's way: service addresses bound on a dummy device.
            try nl.addLink(LinkSpec(name: "netplane-ipvs0", kind: .dummy))
            for address in ["10.96.0.1/32", "10.96.0.10/32", "fd00:96::1/128"] {
                try nl.addAddress(IPPrefix(address), link: "netplane-ipvs0")
            }
            let link = try #require(try ns.linksByName()["netplane-ipvs0"])
            #expect(link[path: "linkinfo", "info_kind"] as? String == "dummy")
            let listed = try ns.ipJSON(["addr", "show", "dev", "netplane-ipvs0"]).first?["addr_info"] as? [[String: Any]] ?? []
            #expect(Set(listed.compactMap { $0["local"] as? String }) == ["10.96.0.1", "10.96.0.10", "fd00:96::1"])
            #expect(try nl.link(named: "netplane-ipvs0").kind == "dummy")
            try nl.deleteLink(named: "netplane-ipvs0")
            #expect(try ns.linksByName()["netplane-ipvs0"] == nil)
        }
    }
}
