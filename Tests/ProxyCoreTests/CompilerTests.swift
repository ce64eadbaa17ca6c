import APITypes
import JSON
import NFTablesModel
import NetAddress
import ProxyCore
import Testing

/// The proxy's pure half: API objects to service ports, service ports to a ruleset value,
/// two rulesets to the transaction between them. No kernel involved.
@Suite("Proxy: model and ruleset compiler")
struct CompilerTests {
    static func service(_ name: String, type: String = "ClusterIP", clusterIP: String = "10.96.0.10",
                        ports: [JSONValue] = [["name": "http", "port": 80, "protocol": "TCP"]],
                        extra: [String: JSONValue] = [:]) -> JSONValue {
        var spec: JSONValue = ["type": .string(type), "clusterIP": .string(clusterIP), "clusterIPs": [.string(clusterIP)],
                               "ports": .array(ports)]
        for (k, v) in extra { spec[k] = v }
        return ["metadata": ["name": .string(name), "namespace": "default"], "spec": spec]
    }

    static func slice(_ service: String, port: Int = 8080, portName: String = "http",
                      endpoints: [(String, String, [String: Bool])]) -> JSONValue {
        ["metadata": ["name": .string("\(service)-abc"), "namespace": "default",
                      "labels": ["kubernetes.io/service-name": .string(service)]],
         "addressType": "IPv4",
         "ports": [["name": .string(portName), "port": .int(Int64(port)), "protocol": "TCP"]],
         "endpoints": .array(endpoints.map { address, node, conditions in
             ["addresses": [.string(address)], "nodeName": .string(node),
              "conditions": .object(conditions.mapValues(JSONValue.bool))]
         })]
    }

    /// The proxy's ports from Services and EndpointSlices written as JSON, as the API serves them.
    static func build(services: [JSONValue], slices: [JSONValue], nodeName: String) -> [ServicePort] {
        ServicePorts.build(services: services.map(Service.init(json:)), slices: slices.map(EndpointSlice.init(json:)),
                           nodeName: nodeName)
    }

    @Test func servicePortsFromAPIObjects() {
        let services = [
            Self.service("web", type: "NodePort", ports: [["name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080]],
                         extra: ["externalIPs": ["203.0.113.7"], "externalTrafficPolicy": "Local"]),
            Self.service("headless", clusterIP: "None"),
            ["metadata": ["name": "ext", "namespace": "default"], "spec": ["type": "ExternalName", "externalName": "example.com"]],
        ]
        let slices = [Self.slice("web", endpoints: [
            ("10.244.1.5", "node-a", ["ready": true]),
            ("10.244.2.5", "node-b", ["ready": false]),
            ("10.244.1.6", "node-a", ["ready": false, "serving": true, "terminating": true]),
        ])]
        let ports = Self.build(services: services, slices: slices, nodeName: "node-a")
        #expect(ports.map(\.id) == ["default/web:http/tcp"], "headless and ExternalName services get nothing")
        let web = ports[0]
        #expect(web.clusterIPs == [IPAddress("10.96.0.10")!] && web.port == 80 && web.nodePort == 30080)
        #expect(web.externalIPs == [IPAddress("203.0.113.7")!] && web.externalTrafficLocal)
        #expect(web.endpoints.map(\.port) == [8080, 8080, 8080])
        #expect(web.endpoints.filter(\.isLocal).map(\.address.description) == ["10.244.1.5", "10.244.1.6"])
        // Only ready endpoints take traffic while there are any.
        #expect(web.clusterEndpoints.map(\.address.description) == ["10.244.1.5"])
    }

    @Test func terminatingEndpointsOnlyWhenNoneIsReady() {
        let draining = [
            ProxyEndpoint(address: IPAddress("10.244.1.5")!, port: 80, ready: false, serving: true, terminating: true),
            ProxyEndpoint(address: IPAddress("10.244.1.6")!, port: 80, ready: false, serving: false, terminating: true),
        ]
        var port = ServicePort(namespace: "d", name: "s", portName: "", proto: .tcp, port: 80,
                               clusterIPs: [IPAddress("10.96.0.1")!], nodePort: nil, externalIPs: [], loadBalancerIPs: [],
                               affinitySeconds: nil, externalTrafficLocal: false, internalTrafficLocal: false,
                               endpoints: draining)
        #expect(port.clusterEndpoints.map(\.address.description) == ["10.244.1.5"])
        port.endpoints.append(ProxyEndpoint(address: IPAddress("10.244.1.7")!, port: 80))
        #expect(port.clusterEndpoints.map(\.address.description) == ["10.244.1.7"])
        port.internalTrafficLocal = true
        #expect(port.clusterEndpoints.isEmpty, "no local endpoint")
    }

    func compile(_ services: [JSONValue], _ slices: [JSONValue], family: Family = .ip) -> CompiledRulesets {
        RulesetCompiler.compile(Self.build(services: services, slices: slices, nodeName: "node-a"), family: family,
                                options: ProxyOptions(clusterCIDRs: [try! IPPrefix("10.244.0.0/16")],
                                                      nodePortAddresses: [IPAddress("198.18.0.11")!]))
    }

    @Test func oneMapLookupThenOneChainPerServiceWithEqualShares() throws {
        let ruleset = compile([Self.service("web")], [Self.slice("web", endpoints: [
            ("10.244.1.5", "node-a", [:]), ("10.244.2.5", "node-b", [:]), ("10.244.3.5", "node-c", [:]),
        ])])
        let chain = try #require(ruleset.chain("svc/default/web/http/tcp"))
        // First the masquerade mark for traffic from outside the cluster CIDR, then 3 DNATs.
        #expect(chain.rules.count == 4)
        let moduli = chain.rules.dropFirst().map { rule in rule.compactMap { if case .numgen(let m, _, _) = $0 { m } else { nil } } }
        #expect(moduli == [[3], [2], []], "probabilities 1/3, 1/2, rest: equal thirds")
        #expect(ruleset.elements("service-ips").count == 1)
        #expect(ruleset.elements("service-ips").first?.data == .verdict(.goto("svc/default/web/http/tcp")))
        #expect(ruleset.elements("hairpin").count == 3)
        #expect(ruleset.main.sets["nodeport-ips"]?.elements == [SetElement(.ipv4(IPv4Address("198.18.0.11")!))])
        // The service's chain and map element live in its shard, and only there.
        let shard = RulesetCompiler.shard(of: Self.build(services: [Self.service("web")], slices: [], nodeName: "")[0], shards: 32)
        #expect(ruleset.shards.count == 32 && ruleset.shards[shard].chains["svc/default/web/http/tcp"] != nil)
        #expect(ruleset.shards[shard].sets["service-ips"]?.elements.count == 1)
        // The IPv6 table carries none of it.
        let v6 = compile([Self.service("web")], [Self.slice("web", endpoints: [("10.244.1.5", "node-a", [:])])], family: .ip6)
        #expect(v6.elements("service-ips").isEmpty && v6.chain("svc/default/web/http/tcp") == nil)
    }

    @Test func clientIPAffinityAddsOneDynamicSetPerEndpoint() throws {
        var port = Self.build(services: [Self.service("web", extra: ["sessionAffinity": "ClientIP"])],
                                      slices: [Self.slice("web", endpoints: [("10.244.1.5", "node-a", [:]), ("10.244.2.5", "node-b", [:])])],
                                      nodeName: "node-a")[0]
        #expect(port.affinitySeconds == 10800, "the default timeout")
        port.affinitySeconds = 60
        let piece = RulesetCompiler.fragment(port, family: .ip, options: ProxyOptions())
        #expect(piece.sets.keys.sorted() == ["aff/svc/default/web/http/tcp/10.244.1.5/8080", "aff/svc/default/web/http/tcp/10.244.2.5/8080"])
        #expect(piece.sets.values.allSatisfy { $0.timeoutMilliseconds == 60_000 && $0.flags.contains(.dynamic) })
        // Two "seen before" rules, then the two random ones.
        #expect(piece.chains["svc/default/web/http/tcp"]?.rules.count == 2 + 2)
    }

    @Test func noEndpointsMeansRejectAndLocalPolicyWithoutLocalEndpointsDrops() throws {
        let ruleset = compile([
            Self.service("empty", clusterIP: "10.96.0.20"),
            Self.service("local", type: "NodePort", clusterIP: "10.96.0.30",
                         ports: [["name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080]],
                         extra: ["externalTrafficPolicy": "Local"]),
        ], [Self.slice("local", endpoints: [("10.244.2.5", "node-b", [:])])])
        #expect(ruleset.elements("no-endpoint-services").map(\.data) == [.verdict(.goto("no-endpoints"))])
        #expect(ruleset.chain("svc/default/empty/http/tcp") == nil)
        // Cluster traffic to "local" goes to node-b's endpoint; external traffic here is dropped.
        #expect(ruleset.chain("svc/default/local/http/tcp")?.rules.count == 2)
        #expect(ruleset.chain("ext/default/local/http/tcp")?.rules == [Action.drop])
        #expect(ruleset.elements("service-nodeports").first?.data == .verdict(.goto("ext/default/local/http/tcp")))
    }

    @Test func incrementalSyncTouchesOnlyWhatChanged() {
        func ports(_ services: [JSONValue], _ slices: [JSONValue]) -> [ServicePort] {
            Self.build(services: services, slices: slices, nodeName: "node-a")
        }
        let options = ProxyOptions(clusterCIDRs: [try! IPPrefix("10.244.0.0/16")])
        let two = ports([Self.service("web"), Self.service("api", clusterIP: "10.96.0.40")], [
            Self.slice("web", endpoints: [("10.244.1.5", "node-a", [:])]),
            Self.slice("api", endpoints: [("10.244.1.9", "node-a", [:])]),
        ])
        /// Plans a sync of `ports` on a copy of `table`, returning the transaction's size.
        func operations(_ table: ProxyTable, _ ports: [ServicePort]) -> Int {
            var copy = table
            var count = 0
            copy.syncAll(ports) { count = $0.count }
            return count
        }
        var table = ProxyTable(family: .ip, options: options)
        table.syncFull(two) { _ in }
        #expect(operations(table, two) == 0)
        // web gets a second endpoint: its chain is flushed and refilled (masq + 2 DNATs), and
        // the new address joins the hairpin set. api is not looked at.
        let more = ports([Self.service("web"), Self.service("api", clusterIP: "10.96.0.40")], [
            Self.slice("web", endpoints: [("10.244.1.5", "node-a", [:]), ("10.244.1.6", "node-a", [:])]),
            Self.slice("api", endpoints: [("10.244.1.9", "node-a", [:])]),
        ])
        #expect(operations(table, more) == 1 + 3 + 1)
        var grown = table
        grown.syncAll(more) { _ in }
        #expect(operations(grown, more) == 0, "the table remembers what it committed")
        // A refused commit changes nothing.
        struct Refused: Error {}
        var refused = table
        #expect(throws: Refused.self) { try refused.syncAll(more) { _ in throw Refused() } }
        #expect(operations(refused, more) == 1 + 3 + 1)
        // Dropping api removes its map element, its hairpin element and its chain (flush + delete).
        let one = ports([Self.service("web")], [Self.slice("web", endpoints: [("10.244.1.5", "node-a", [:])])])
        #expect(operations(table, one) == 2 + 2)
        // Nested as the daemon does for its two families: IPv6 has nothing to do here, and
        // the IPv4 change must still reach the commit.
        var v4 = table, v6 = ProxyTable(family: .ip6, options: options)
        v6.syncFull(two) { _ in }
        var committed = 0
        v4.syncAll(one) { t4 in v6.syncAll(one) { t6 in committed = (t4 + t6).count } }
        #expect(committed == 2 + 2)
        // An endpoint shared by two services stays in the hairpin set until both let it go.
        let shared = ports([Self.service("web"), Self.service("api", clusterIP: "10.96.0.40")], [
            Self.slice("web", endpoints: [("10.244.1.5", "node-a", [:])]),
            Self.slice("api", endpoints: [("10.244.1.5", "node-a", [:])]),
        ])
        var both = ProxyTable(family: .ip, options: options)
        both.syncFull(shared) { _ in }
        #expect(operations(both, shared.filter { $0.name == "web" }) == 1 + 2, "api's element and chain go; 10.244.1.5 stays")
    }
}
