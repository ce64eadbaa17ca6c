import IPVSModel
import NetAddress
import ProxyCore
import Testing

/// IPVS mode's compiler (pure): virtual servers, bound addresses and masquerade sets per port.
@Suite struct IPVSCompilerTests {
    static let endpoints = (1...3).map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 8080, isLocal: $0 == 1) }

    @Test func everyFrontendGetsAVirtualServerWithItsPolicysRealServers() throws {
        let port = ServicePort(namespace: "default", name: "web", port: 80, clusterIPs: [IPAddress("10.96.0.10")!],
                               nodePort: 30080, externalIPs: [IPAddress("203.0.113.7")!], loadBalancerIPs: [IPAddress("203.0.113.8")!],
                               affinitySeconds: 300, externalTrafficLocal: true, endpoints: Self.endpoints)
        let options = IPVSOptions(scheduler: "sh", nodePortAddresses: [IPAddress("198.18.0.11")!, IPAddress("fd00::11")!])
        let state = IPVSCompiler.compile(port, options)
        let keys = Set(state.services.keys.map(\.description))
        #expect(keys == ["TCP 10.96.0.10:80", "TCP 203.0.113.7:80", "TCP 203.0.113.8:80", "TCP 198.18.0.11:30080", "TCP [fd00::11]:30080"])
        let cluster = try #require(state.services.values.first { $0.service.port == 80 && $0.service.address == IPAddress("10.96.0.10") })
        #expect(cluster.service.scheduler == "sh" && cluster.service.persistenceTimeout == 300)
        #expect(cluster.destinations.count == 3)
        // externalTrafficPolicy Local: external frontends serve from the local endpoint only,
        // and keep the client address (not in the always-masquerade set).
        let nodePort = try #require(state.services.values.first { $0.service.port == 30080 && $0.service.address.isIPv4 })
        #expect(nodePort.destinations.map(\.address) == [IPAddress("10.244.1.2")!])
        #expect(state.externalFrontends.isEmpty)
        // An IPv6 node port has no IPv6 endpoints here: a virtual server without real servers.
        #expect(state.services.values.first { !$0.service.address.isIPv4 }?.destinations.isEmpty == true)
        #expect(state.addresses == [IPAddress("10.96.0.10")!, IPAddress("203.0.113.7")!, IPAddress("203.0.113.8")!])
        #expect(state.clusterFrontends.map(\.port) == [80])
        #expect(state.hairpins.count == 3)
    }

    @Test func policyClusterMasqueradesExternalFrontendsAndTerminatingEndpointsStandIn() throws {
        var endpoints = Self.endpoints.map { e -> ProxyEndpoint in
            var e = e
            e.ready = false
            e.terminating = true
            e.serving = e.address == IPAddress("10.244.2.2")
            return e
        }
        endpoints.append(ProxyEndpoint(address: IPAddress("10.244.4.2")!, port: 8080, ready: false))
        let port = ServicePort(namespace: "default", name: "web", proto: .udp, port: 53, clusterIPs: [IPAddress("10.96.0.10")!],
                               nodePort: 30053, endpoints: endpoints)
        let state = IPVSCompiler.compile(port, IPVSOptions(nodePortAddresses: [IPAddress("198.18.0.11")!]))
        #expect(state.externalFrontends.map { "\($0.address):\($0.port)" } == ["198.18.0.11:30053"])
        // No ready endpoint: the serving terminating one carries the traffic meanwhile.
        #expect(state.services.values.allSatisfy { $0.destinations.map(\.address) == [IPAddress("10.244.2.2")!] })
        #expect(state.services.keys.allSatisfy { $0.proto == .udp })
    }
}

/// Which UDP endpoints lose their conntrack flows (pure).
@Suite struct ConntrackCleanupTests {
    static func port(_ name: String, _ proto: ServiceProtocol, _ pods: [Int]) -> ServicePort {
        ServicePort(namespace: "default", name: name, proto: proto, port: 53, clusterIPs: [IPAddress("10.96.0.53")!],
                    endpoints: pods.map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 5353) })
    }

    @Test func onlyUDPEndpointsThatStoppedServingAreStale() {
        let endpoint = { (n: Int) in ConntrackCleanup.Endpoint(address: IPAddress("10.244.\(n).2")!, port: 5353) }
        #expect(ConntrackCleanup.staleUDPEndpoints(before: [Self.port("a", .udp, [1, 2, 3])], after: [Self.port("a", .udp, [1, 3])]) == [endpoint(2)])
        // TCP ends its connections by itself.
        #expect(ConntrackCleanup.staleUDPEndpoints(before: [Self.port("a", .tcp, [1, 2])], after: [Self.port("a", .tcp, [1])]).isEmpty)
        // A port that is gone takes all of its endpoints, unless another port still uses one.
        #expect(ConntrackCleanup.staleUDPEndpoints(before: [Self.port("a", .udp, [1, 2]), Self.port("b", .udp, [2])],
                                                   after: [Self.port("b", .udp, [2])]) == [endpoint(1)])
        // A not-ready endpoint no longer serves.
        var notReady = Self.port("a", .udp, [1, 2])
        notReady.endpoints[1].ready = false
        #expect(ConntrackCleanup.staleUDPEndpoints(before: [Self.port("a", .udp, [1, 2])], after: [notReady]) == [endpoint(2)])
    }
}
