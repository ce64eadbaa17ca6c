import Foundation
import Testing
import Netlink
import NetAddress
import NetplaneTestSupport

@Suite("Links (Root)", .serialized)
struct LinkRootTests {
    @Test("Root: bridge and veth with the peer created in another namespace")
    func bridgeAndVeth() throws {
        try TestNamespace.with(2, label: "link") { nss in
            let (a, b) = (nss[0], nss[1])
            let nl = try a.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            try nl.addLink(LinkSpec(name: "veth-a", kind: .veth(peerName: "veth-b", peerNamespace: try b.netns()),
                                    master: "br0", up: true))

            let linksA = try a.linksByName()
            #expect(linksA["br0"]?[path: "linkinfo", "info_kind"] as? String == "bridge")
            #expect(linksA["veth-a"]?["master"] as? String == "br0")
            #expect((linksA["veth-a"]?["flags"] as? [String])?.contains("UP") == true)
            #expect(linksA["veth-b"] == nil)
            let peer = try #require(try b.linksByName()["veth-b"])
            #expect(peer[path: "linkinfo", "info_kind"] as? String == "veth")
            #expect((peer["flags"] as? [String])?.contains("UP") == false)

            // Netplane's own reader agrees with ip.
            let read = try nl.link(named: "veth-a")
            #expect(read.kind == "veth")
            #expect(read.isUp)
            #expect(read.index == linksA["veth-a"]?["ifindex"] as? Int32)
            #expect(read.masterIndex == (try nl.link(named: "br0")).index)
            #expect(read.mac?.description == linksA["veth-a"]?["address"] as? String)
            // (Tunnel modules add their fallback devices, tunl0 and the like, to every namespace.)
            let fallback: Set = ["tunl0", "sit0", "ip6tnl0", "gre0", "gretap0", "erspan0", "ip_vti0", "ip6_vti0", "ip6gre0"]
            #expect(try nl.links().map(\.name).filter { !fallback.contains($0) }.sorted() == ["br0", "lo", "veth-a"])
        }
    }

    @Test("Root: promiscuous mode, bridge port hairpin and isolation, VLAN filtering where the kernel has it")
    func bridgePortSettings() throws {
        try TestNamespace.with(label: "brport") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            try nl.addLink(LinkSpec(name: "p0", kind: .veth(peerName: "p1"), master: "br0"))
            try nl.setLink(named: "br0", .promiscuous(true))
            #expect((try ns.linksByName()["br0"]?["flags"] as? [String])?.contains("PROMISC") == true)
            #expect(try nl.link(named: "br0").isPromiscuous)
            try nl.setBridgePort(named: "p0", hairpin: true, isolated: true)
            var port = try #require(try ns.linksByName()["p0"]?[path: "linkinfo", "info_slave_data"] as? [String: Any])
            #expect(port["hairpin"] as? Bool == true && port["isolated"] as? Bool == true)
            try nl.setBridgePort(named: "p0", hairpin: false)
            port = try #require(try ns.linksByName()["p0"]?[path: "linkinfo", "info_slave_data"] as? [String: Any])
            #expect(port["hairpin"] as? Bool == false && port["isolated"] as? Bool == true)
            #expect(throws: NetlinkError.self) { try nl.setBridgePort(named: "p1", hairpin: true) }

            // iproute2 says independently whether this kernel has bridge VLAN filtering.
            let hasFiltering = try ns.run(["ip", "link", "add", "probe0", "type", "bridge", "vlan_filtering", "1"]).succeeded
            _ = try ns.run(["ip", "link", "del", "probe0"])
            if hasFiltering {
                try nl.setBridgeVLANFiltering(true, bridge: "br0")
                #expect(try ns.linksByName()["br0"]?[path: "linkinfo", "info_data", "vlan_filtering"] as? Int == 1)
                try nl.addBridgeVLAN(100, link: "p0", pvid: true, untagged: true)
                try nl.deleteBridgeVLAN(1, link: "p0")
                let vlans = try ns.check(["bridge", "-j", "vlan", "show", "dev", "p0"])
                #expect(vlans.contains("\"vlan\":100") && !vlans.contains("\"vlan\":1,"), "\(vlans)")
            } else {
                let error = try #require(throws: NetlinkError.self) { try nl.setBridgeVLANFiltering(true, bridge: "br0") }
                #expect(error.code == .unsupported, "\(error)")
            }
            #expect(throws: NetlinkError.self) { try nl.addBridgeVLAN(0, link: "p0") }
        }
    }

    @Test("Root: vxlan with VNI, port, local, device, TTL and learning off")
    func vxlan() throws {
        try TestNamespace.with(label: "vxlan") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            let options = VXLANOptions(vni: 4242, local: IPAddress("198.18.0.1"), port: 8472, learning: false,
                                       device: "br0", ttl: 64)
            try nl.addLink(LinkSpec(name: "vxlan0", kind: .vxlan(options), mtu: 1450, up: true))

            let link = try #require(try ns.linksByName()["vxlan0"])
            #expect(link[path: "linkinfo", "info_kind"] as? String == "vxlan")
            #expect(link[path: "linkinfo", "info_data", "id"] as? Int == 4242)
            #expect(link[path: "linkinfo", "info_data", "port"] as? Int == 8472)
            #expect(link[path: "linkinfo", "info_data", "local"] as? String == "198.18.0.1")
            #expect(link[path: "linkinfo", "info_data", "learning"] as? Bool == false)
            #expect(link[path: "linkinfo", "info_data", "link"] as? String == "br0")
            #expect(link[path: "linkinfo", "info_data", "ttl"] as? Int == 64)
            #expect(link["mtu"] as? Int == 1450)

            let read = try nl.link(named: "vxlan0")
            #expect(read.vxlan == options)
            #expect(try nl.links().first { $0.name == "vxlan0" }?.vxlan == options)

            // Learning stays on unless asked, and the VNI must fit 24 bits.
            try nl.addLink(LinkSpec(name: "vxlan1", kind: .vxlan(VXLANOptions(vni: 7, remote: IPAddress("198.18.0.9")))))
            let second = try #require(try ns.linksByName()["vxlan1"])
            #expect(second[path: "linkinfo", "info_data", "learning"] as? Bool == true)
            #expect(second[path: "linkinfo", "info_data", "remote"] as? String == "198.18.0.9")
            #expect(second[path: "linkinfo", "info_data", "port"] as? Int == 4789)
            let tooBig = #expect(throws: NetlinkError.self) {
                try nl.addLink(LinkSpec(name: "vxlan2", kind: .vxlan(VXLANOptions(vni: 1 << 24))))
            }
            #expect(tooBig?.code == .invalidArgument)
        }
    }

    @Test("Root: macvlan on a parent, in bridge and private modes")
    func macvlan() throws {
        try TestNamespace.with(label: "macvl") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "p1", kind: .veth(peerName: "p2"), up: true))
            try nl.addLink(LinkSpec(name: "mv0", kind: .macvlan(parent: "p1"), up: true))
            try nl.addLink(LinkSpec(name: "mv1", kind: .macvlan(parent: "p1", mode: .private)))

            let links = try ns.linksByName()
            #expect(links["mv0"]?[path: "linkinfo", "info_kind"] as? String == "macvlan")
            #expect(links["mv0"]?[path: "linkinfo", "info_data", "mode"] as? String == "bridge")
            #expect(links["mv0"]?["link"] as? String == "p1")
            #expect(links["mv1"]?[path: "linkinfo", "info_data", "mode"] as? String == "private")
            #expect(try nl.link(named: "mv0").parentIndex == (try nl.link(named: "p1")).index)

            let missing = #expect(throws: NetlinkError.self) {
                try nl.addLink(LinkSpec(name: "mv2", kind: .macvlan(parent: "nope0")))
            }
            #expect(missing?.code == .linkNotFound)
            #expect(missing?.link == "nope0")
        }
    }

    @Test("Root: MTU, MAC, master, nomaster, down, rename and move to another namespace")
    func changes() throws {
        try TestNamespace.with(2, label: "chg") { nss in
            let (a, b) = (nss[0], nss[1])
            let nl = try a.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge))
            try nl.addLink(LinkSpec(name: "v1", kind: .veth(peerName: "v2"), mtu: 1500, mac: MACAddress("02:00:00:00:00:aa")))
            #expect(try a.linksByName()["v1"]?["address"] as? String == "02:00:00:00:00:aa")

            try nl.setLink(named: "v1", .mtu(1400), .mac(MACAddress("02:00:00:00:00:01")!), .master("br0"), .up)
            var v1 = try #require(try a.linksByName()["v1"])
            #expect(v1["mtu"] as? Int == 1400)
            #expect(v1["address"] as? String == "02:00:00:00:00:01")
            #expect(v1["master"] as? String == "br0")
            #expect((v1["flags"] as? [String])?.contains("UP") == true)

            try nl.setLink(named: "v1", .noMaster, .down)
            v1 = try #require(try a.linksByName()["v1"])
            #expect(v1["master"] == nil)
            #expect((v1["flags"] as? [String])?.contains("UP") == false)
            #expect(try nl.link(named: "v1").isUp == false)

            try nl.setLink(named: "v1", .rename("eth-x"))
            let renamed = try a.linksByName()
            #expect(renamed["v1"] == nil)
            #expect(renamed["eth-x"]?["mtu"] as? Int == 1400)

            try nl.setLink(named: "v2", .namespace(try b.netns()))
            #expect(try a.linksByName()["v2"] == nil)
            #expect(try b.linksByName()["v2"]?[path: "linkinfo", "info_kind"] as? String == "veth")

            try nl.deleteLink(named: "eth-x")
            #expect(try a.linksByName()["eth-x"] == nil)
            #expect(try b.linksByName()["v2"] == nil)  // a veth takes its peer with it
        }
    }

    @Test("Root: typed errors for unknown and duplicate links")
    func errors() throws {
        try TestNamespace.with(label: "err") { (ns: TestNamespace) in
            let nl = try ns.handle()
            let unknown = #expect(throws: NetlinkError.self) { try nl.link(named: "nope0") }
            #expect(unknown?.code == .linkNotFound)
            #expect(unknown?.link == "nope0")
            #expect(unknown?.description == "show link nope0: no link named \"nope0\"")
            for attempt in [{ try nl.setLink(named: "nope0", .up) }, { try nl.deleteLink(named: "nope0") },
                            { try nl.addLink(LinkSpec(name: "v1", kind: .veth(peerName: "v2"), master: "nope0")) }] {
                let error = #expect(throws: NetlinkError.self) { try attempt() }
                #expect(error?.code == .linkNotFound)
                #expect(error?.link == "nope0")
            }
            #expect(try ns.linksByName()["v1"] == nil)

            try nl.addLink(LinkSpec(name: "br0", kind: .bridge))
            let duplicate = #expect(throws: NetlinkError.self) { try nl.addLink(LinkSpec(name: "br0", kind: .bridge)) }
            #expect(duplicate?.code == .exists)
            #expect(duplicate?.errno == EEXIST)
            #expect(duplicate?.description.hasPrefix("add link br0 type bridge: File exists") == true)
        }
    }

    /// No ipip module on the development kernel: here the request must fail as `.unsupported`;
    /// in the VM (Debian kernel with `ipip`) the tunnel must come up as asked.
    @Test("Root: ipip tunnel, or a typed unsupported error where the kernel lacks ipip")
    func ipip() throws {
        try TestNamespace.with(label: "ipip") { (ns: TestNamespace) in
            let nl = try ns.handle()
            try nl.addLink(LinkSpec(name: "br0", kind: .bridge, up: true))
            let spec = LinkSpec(name: "tun1", kind: .ipip(IPIPOptions(local: IPv4Address("198.18.0.1"),
                                                                   remote: IPv4Address("198.18.0.2"), device: "br0")))
            do {
                try nl.addLink(spec)
                let link = try #require(try ns.linksByName()["tun1"])
                #expect(link[path: "linkinfo", "info_kind"] as? String == "ipip")
                #expect(link[path: "linkinfo", "info_data", "local"] as? String == "198.18.0.1")
                #expect(link[path: "linkinfo", "info_data", "remote"] as? String == "198.18.0.2")
                #expect(link[path: "linkinfo", "info_data", "link"] as? String == "br0")
            } catch let error as NetlinkError {
                #expect(ProcessInfo.processInfo.environment["NETPLANE_VM_LANE"] == nil, "the VM lane's kernel has ipip: \(error)")
                #expect(!FileManager.default.fileExists(atPath: "/sys/module/ipip"))
                #expect(error.code == .unsupported, "\(error)")
            }
        }
    }
}
