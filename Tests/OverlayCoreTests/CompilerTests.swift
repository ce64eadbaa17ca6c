import APITypes
import ControllersCore
import JSON
import NetAddress
import NetlinkModel
import OverlayCore
import Testing

/// The overlay's desired state as a pure function of the Nodes (no root, no kernel).
@Suite struct OverlayCompilerTests {
    static let local = LocalNode(name: "node1", interface: "eth0", address: try! IPPrefix("198.18.0.11/24"),
                                 podCIDR: try! IPPrefix("10.244.1.0/24"))
    static let mac2 = MACAddress("0a:00:00:00:00:02")!
    static let mac3 = MACAddress("0a:00:00:00:00:03")!

    static func node(_ name: String, _ cidr: String?, _ ip: String?, _ type: String? = "vxlan", mac: MACAddress? = nil) -> OverlayNode {
        OverlayNode(name: name, podCIDR: cidr.map { try! IPPrefix($0) }, publicIP: ip.flatMap { IPv4Address($0) },
                    backendType: type, vtepMAC: mac)
    }

    static let vxlan = OverlayBackend.vxlan(vni: 1, port: 8472, directRouting: false)

    @Test func vxlanGivesEachRemoteNodeARouteANeighbourAndAnFDBEntry() throws {
        let nodes = [Self.node("node1", "10.244.1.0/24", "198.18.0.11", mac: MACAddress("0a:00:00:00:00:01")),
                     Self.node("node2", "10.244.2.0/24", "198.18.0.12", mac: Self.mac2),
                     Self.node("node3", "10.244.3.0/24", "198.18.1.13", mac: Self.mac3)]
        let (state, skipped) = OverlayCompiler.desiredState(local: Self.local, nodes: nodes, backend: Self.vxlan)
        #expect(skipped.isEmpty)
        let proto = OverlayCompiler.routeProtocol
        #expect(state.routes == [
            Route(destination: try IPPrefix("10.244.2.0/24"), gateway: IPAddress("10.244.2.0"), device: "flannel.1", onlink: true, proto: proto),
            Route(destination: try IPPrefix("10.244.3.0/24"), gateway: IPAddress("10.244.3.0"), device: "flannel.1", onlink: true, proto: proto),
        ])
        #expect(state.neighbours == [Neighbour(ip: IPAddress("10.244.2.0")!, mac: Self.mac2, device: "flannel.1"),
                                     Neighbour(ip: IPAddress("10.244.3.0")!, mac: Self.mac3, device: "flannel.1")])
        #expect(state.fdb == [FDBEntry(mac: Self.mac2, device: "flannel.1", destination: IPAddress("198.18.0.12")),
                              FDBEntry(mac: Self.mac3, device: "flannel.1", destination: IPAddress("198.18.1.13"))])
        #expect(state.peers.isEmpty)
    }

    @Test func directRoutingRoutesSameSubnetNodesWithoutEncapsulation() throws {
        let nodes = [Self.node("node2", "10.244.2.0/24", "198.18.0.12", mac: Self.mac2),
                     Self.node("node3", "10.244.3.0/24", "198.18.1.13", mac: Self.mac3)]
        let (state, _) = OverlayCompiler.desiredState(local: Self.local, nodes: nodes,
                                                      backend: .vxlan(vni: 7, port: 4789, directRouting: true))
        #expect(state.routes.contains(Route(destination: try IPPrefix("10.244.2.0/24"), gateway: IPAddress("198.18.0.12"),
                                            device: "eth0", proto: OverlayCompiler.routeProtocol)))
        #expect(state.routes.contains { $0.destination == (try? IPPrefix("10.244.3.0/24")) && $0.device == "flannel.7" })
        #expect(state.fdb.map(\.mac) == [Self.mac3])
    }

    @Test func hostGatewayRoutesViaNodeIPsAndLeavesOutNodesOffTheSubnet() throws {
        let nodes = [Self.node("node2", "10.244.2.0/24", "198.18.0.12", "host-gw"),
                     Self.node("node3", "10.244.3.0/24", "198.18.1.13", "host-gw")]
        let (state, skipped) = OverlayCompiler.desiredState(local: Self.local, nodes: nodes, backend: .hostGW)
        #expect(state.routes == [Route(destination: try IPPrefix("10.244.2.0/24"), gateway: IPAddress("198.18.0.12"),
                                       device: "eth0", proto: OverlayCompiler.routeProtocol)])
        #expect(state.neighbours.isEmpty && state.fdb.isEmpty)
        #expect(skipped.map(\.node) == ["node3"])
        #expect(skipped.first?.reason.contains("L2 adjacency") == true)
    }

    @Test func udpMapsEachRemoteSubnetToItsNode() throws {
        let nodes = [Self.node("node2", "10.244.2.0/24", "198.18.0.12", "udp"),
                     Self.node("node3", "10.244.3.0/24", "198.18.1.13", "udp")]
        let (state, _) = OverlayCompiler.desiredState(local: Self.local, nodes: nodes, backend: .udp(port: 8285))
        #expect(state.routes.isEmpty)
        #expect(state.peers == [try IPPrefix("10.244.2.0/24"): IPv4Address("198.18.0.12")!,
                                try IPPrefix("10.244.3.0/24"): IPv4Address("198.18.1.13")!])
    }

    @Test func incompleteOrConflictingNodesAreLeftOutWithAReason() throws {
        let nodes = [Self.node("a-nocidr", nil, "198.18.0.20", mac: Self.mac2),
                     Self.node("b-noip", "10.244.4.0/24", nil, mac: Self.mac2),
                     Self.node("c-overlap-local", "10.244.1.0/25", "198.18.0.21", mac: Self.mac2),
                     Self.node("d-nobackend", "10.244.5.0/24", "198.18.0.22", nil),
                     Self.node("e-hostgw", "10.244.6.0/24", "198.18.0.23", "host-gw"),
                     Self.node("f-nomac", "10.244.7.0/24", "198.18.0.24"),
                     Self.node("g-good", "10.244.8.0/24", "198.18.0.25", mac: Self.mac3),
                     Self.node("h-overlap-g", "10.244.8.0/23", "198.18.0.26", mac: Self.mac2)]
        let (state, skipped) = OverlayCompiler.desiredState(local: Self.local, nodes: nodes, backend: Self.vxlan)
        #expect(state.routes.map(\.destination) == [try IPPrefix("10.244.8.0/24")])
        let reasons = Dictionary(uniqueKeysWithValues: skipped.map { ($0.node, $0.reason) })
        #expect(reasons.keys.sorted() == ["a-nocidr", "b-noip", "c-overlap-local", "d-nobackend", "e-hostgw", "f-nomac", "h-overlap-g"])
        #expect(reasons["c-overlap-local"]?.contains("overlaps node node1") == true)
        #expect(reasons["h-overlap-g"]?.contains("overlaps node g-good") == true)
        #expect(reasons["e-hostgw"]?.contains("backend host-gw") == true)
    }

    @Test func nodesAreReadFromFlannelAnnotations() throws {
        let json = try JSONValue.parse("""
            {"metadata": {"name": "n2", "annotations": {
                "flannel.alpha.coreos.com/backend-type": "vxlan",
                "flannel.alpha.coreos.com/backend-data": "{\\"VNI\\":1,\\"VtepMAC\\":\\"0a:00:00:00:00:02\\"}",
                "flannel.alpha.coreos.com/public-ip": "198.18.0.12"}},
             "spec": {"podCIDR": "10.244.2.0/24", "podCIDRs": ["10.244.2.0/24", "fd00:2::/64"]},
             "status": {"addresses": [{"type": "InternalIP", "address": "198.18.9.9"}]}}
            """)
        let node = OverlayNode(Node(json: json))
        #expect(node == Self.node("n2", "10.244.2.0/24", "198.18.0.12", mac: Self.mac2))
        // Before flanneld publishes, the InternalIP stands in.
        let bare = OverlayNode(Node(json: try JSONValue.parse("""
            {"metadata": {"name": "n3"}, "status": {"addresses": [{"type": "InternalIP", "address": "198.18.0.13"}]}}
            """)))
        #expect(bare == Self.node("n3", nil, "198.18.0.13", nil))
    }

    @Test func subnetEnvIsWhatFlannelWrites() throws {
        let env = SubnetEnv(network: try IPPrefix("10.244.0.0/16"), subnet: try IPPrefix("10.244.3.0/24"), mtu: 1450, ipMasq: true)
        #expect(env.text == "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n")
    }
}

/// Node IPAM's allocator (pure).
@Suite struct PodCIDRAllocatorTests {
    @Test func handsOutEachSubnetOnceRoundRobinAndReportsFull() throws {
        var allocator = try PodCIDRAllocator(clusterCIDR: try IPPrefix("10.244.0.0/22"), maskSize: 24)
        #expect(allocator.capacity == 4)
        allocator.occupy(try IPPrefix("10.244.1.0/24"))
        let first = allocator.allocate(), second = allocator.allocate(), third = allocator.allocate()
        #expect([first, second, third].map { $0?.description } == ["10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"])
        #expect(allocator.allocate() == nil)
        allocator.release(try IPPrefix("10.244.2.0/24"))
        #expect(allocator.allocate()?.description == "10.244.2.0/24")
        #expect(allocator.allocate() == nil)
    }

    @Test func foreignCIDRsBlockWhatTheyOverlap() throws {
        var allocator = try PodCIDRAllocator(clusterCIDR: try IPPrefix("10.244.0.0/21"), maskSize: 24)
        #expect(allocator.occupy(try IPPrefix("10.244.0.0/23")))   // blocks .0 and .1
        #expect(allocator.occupy(try IPPrefix("10.244.5.128/25"))) // blocks .5
        #expect(!allocator.occupy(try IPPrefix("10.250.0.0/24")))  // not ours
        var got: [String] = []
        while let next = allocator.allocate() { got.append(next.description) }
        #expect(got == ["10.244.2.0/24", "10.244.3.0/24", "10.244.4.0/24", "10.244.6.0/24", "10.244.7.0/24"])
    }

    @Test func ipv6SubnetsAndBadSettings() throws {
        var allocator = try PodCIDRAllocator(clusterCIDR: try IPPrefix("fd00:10::/56"), maskSize: 64)
        #expect(allocator.allocate()?.description == "fd00:10::/64")
        #expect(allocator.allocate()?.description == "fd00:10:0:1::/64")
        #expect(throws: PodCIDRAllocator.Error.self) { try PodCIDRAllocator(clusterCIDR: try IPPrefix("10.244.0.0/16"), maskSize: 8) }
        #expect(throws: PodCIDRAllocator.Error.self) { try PodCIDRAllocator(clusterCIDR: try IPPrefix("10.244.0.1/16"), maskSize: 24) }
        #expect(throws: PodCIDRAllocator.Error.self) { try PodCIDRAllocator(clusterCIDR: try IPPrefix("10.0.0.0/8"), maskSize: 32) }
    }

    @Test func subnetArithmetic() throws {
        let net = try IPPrefix("10.244.0.0/16")
        #expect(net.subnet(3, length: 24)?.description == "10.244.3.0/24")
        #expect(net.subnetIndex(of: try IPPrefix("10.244.200.0/24")) == 200)
        #expect(net.subnet(256, length: 24) == nil)
        let v6 = try IPPrefix("fd00::/48")
        #expect(v6.subnet(0x1234, length: 64)?.description == "fd00:0:0:1234::/64")
        #expect(v6.subnetIndex(of: try IPPrefix("fd00:0:0:1234::/64")) == 0x1234)
        #expect(try IPPrefix("10.0.0.0/8").overlaps(try IPPrefix("10.3.0.0/16")))
        #expect(!(try IPPrefix("10.0.0.0/16").overlaps(try IPPrefix("10.1.0.0/16"))))
    }
}
