public import NFTablesModel
public import NetAddress

/// How the proxy is configured (the flags of `netplane proxy`).
public struct ProxyOptions: Sendable, Hashable {
    /// Traffic from outside these is masqueraded when it reaches a ClusterIP (kube-proxy's
    /// --cluster-cidr); empty: only `masqueradeAll` masquerades cluster traffic.
    public var clusterCIDRs: [IPPrefix]
    public var masqueradeAll: Bool
    /// The node addresses NodePorts answer on (the node's own, or --nodeport-addresses).
    public var nodePortAddresses: [IPAddress]
    public var tableName: String
    /// Service chains are spread over this many tables (see RulesetCompiler).
    public var shards: Int

    public init(clusterCIDRs: [IPPrefix] = [], masqueradeAll: Bool = false, nodePortAddresses: [IPAddress] = [],
                tableName: String = "netplane-proxy", shards: Int = 32) {
        self.clusterCIDRs = clusterCIDRs
        self.masqueradeAll = masqueradeAll
        self.nodePortAddresses = nodePortAddresses
        self.tableName = tableName
        self.shards = max(1, shards)
    }

    /// The name of shard table `index`.
    public func shardTable(_ index: Int) -> String { "\(tableName)-s\(index < 10 ? "0" : "")\(index)" }

}

/// Everything the proxy keeps in one family's table, as a value: chains with their rules,
/// sets and maps with their elements. The applier turns the difference between two of these
/// into one transaction.
public struct ProxyRuleset: Sendable, Equatable {
    public struct ChainSpec: Sendable, Equatable {
        public var base: BaseChain?
        public var rules: [[Expression]]
    }

    public struct SetSpec: Sendable, Equatable {
        public var set: NamedSet
        public var elements: [SetElement]
    }

    public var table: Table
    public var chains: [String: ChainSpec] = [:]
    public var sets: [String: SetSpec] = [:]

    public init(table: Table) { self.table = table }

    /// Adds the parts of a service's fragment that belong in this table (its chains go to
    /// its shard; elements to whichever table has a set of that name). Hairpin addresses are
    /// the caller's to count.
    mutating func merge(_ fragment: ServiceFragment) {
        if sets["service-ips"] != nil {
            for (name, spec) in fragment.chains { chains[name] = spec }
            for (name, set) in fragment.sets { sets[name] = .init(set: set, elements: []) }
        }
        for (name, elements) in fragment.elements where sets[name] != nil { sets[name]!.elements += elements }
    }

    mutating func addSet(_ name: String, key: [DataType], data: MapData? = nil, elements: [SetElement] = []) {
        sets[name] = .init(set: NamedSet(table, name, key: key, data: data), elements: elements)
    }
}

/// One service port's share of the table.
public struct ServiceFragment: Sendable, Equatable {
    public var chains: [String: ProxyRuleset.ChainSpec] = [:]
    /// Elements by set name.
    public var elements: [String: [SetElement]] = [:]
    public var hairpin: Set<IPAddress> = []
    /// Sets the service owns in its shard (ClientIP affinity: clients seen per endpoint).
    public var sets: [String: NamedSet] = [:]
    /// The shard table holding the chains and the service-ips/service-nodeports elements.
    public var shard = 0
    public init() {}
}

/// All of the proxy's tables for one family: the main table and the shards.
public struct CompiledRulesets: Sendable, Equatable {
    public var main: ProxyRuleset
    public var shards: [ProxyRuleset]

    public var all: [ProxyRuleset] { [main] + shards }

    /// A chain, in whichever table holds it.
    public func chain(_ name: String) -> ProxyRuleset.ChainSpec? { all.lazy.compactMap { $0.chains[name] }.first }

    /// The elements of every set of that name, across tables.
    public func elements(_ set: String) -> [SetElement] { all.flatMap { $0.sets[set]?.elements ?? [] } }
}

/// The ruleset shape, chosen from what the kernel charges (docs/ARCHITECTURE.md, "Service
/// proxy"): the number of chains, sets and jump targets is what makes nftables load slowly,
/// large maps are cheap, and every commit that adds a rule or element with a verdict, a NAT
/// or a reject makes the kernel re-validate the whole table it touches (all chains reachable
/// from its base chains). So:
///
/// - services are spread by a stable hash of namespace/name over `shards` tables (32), each
///   with its own `service-ips` verdict map (`daddr . l4proto . dport : goto <chain>`, for
///   ClusterIPs, externalIPs and load-balancer IPs), `service-nodeports` (`l4proto . dport`,
///   for packets to `nodeport-ips`) and NAT base chains: a new connection costs one hash
///   lookup per shard whatever the number of services, and a change re-validates one shard
///   (~1/32 of the rules), not everything;
/// - one chain per service port and path (`svc/…` for cluster traffic, `ext/…` for external
///   traffic), holding one rule per endpoint: rule i DNATs with probability 1/(N−i), so every
///   endpoint gets exactly 1/N of new connections, and no per-endpoint chains or per-service
///   sets exist;
/// - the main table holds what is shared: services without endpoints (`no-endpoint-services`,
///   `no-endpoint-nodeports`), rejected by a filter chain before DNAT (TCP reset, ICMP port
///   unreachable), and masquerading in postrouting: a mark bit set by the service chains
///   (traffic from outside the cluster CIDR, external traffic under policy Cluster) and
///   hairpin (a pod reaching itself through its service) through a `hairpin` set of
///   `endpoint . endpoint`.
public enum RulesetCompiler {
    /// Every table, with every service's fragment merged in.
    public static func compile(_ ports: [ServicePort], family: Family, options: ProxyOptions) -> CompiledRulesets {
        assemble(ports.map { fragment($0, family: family, options: options) }, family: family, options: options)
    }

    /// The tables holding these fragments: each in the main table and its shard, the union
    /// of their hairpin addresses in the main table's hairpin set.
    static func assemble(_ fragments: [ServiceFragment], family: Family, options: ProxyOptions) -> CompiledRulesets {
        var out = CompiledRulesets(main: mainBase(family: family, options: options),
                                   shards: (0..<options.shards).map { shardBase($0, family: family, options: options) })
        var hairpins = Set<IPAddress>()
        for piece in fragments {
            out.main.merge(piece)
            out.shards[piece.shard].merge(piece)
            hairpins.formUnion(piece.hairpin)
        }
        out.main.sets["hairpin"]!.elements = hairpins.sorted().map(hairpinElement)
        return out
    }

    /// The hairpin set's element for an endpoint: `endpoint . endpoint` (saddr . daddr after DNAT).
    static func hairpinElement(_ address: IPAddress) -> SetElement { SetElement([Value(address), Value(address)]) }

    /// The shard a service's chains live in: FNV-1a of "namespace/name", stable across runs
    /// (Swift's Hasher is seeded per process).
    public static func shard(of port: ServicePort, shards: Int) -> Int {
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in "\(port.namespace)/\(port.name)".utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100000001b3
        }
        return Int(hash % UInt64(shards))
    }

    static func fields(_ family: Family) -> (addr: DataType, daddr: Field, saddr: Field) {
        family == .ip ? (.ipv4Address, .ipDaddr, .ipSaddr) : (.ipv6Address, .ip6Daddr, .ip6Saddr)
    }

    /// The main table: rejection of services without endpoints, masquerading, hairpin.
    public static func mainBase(family: Family, options: ProxyOptions) -> ProxyRuleset {
        let (addr, daddr, saddr) = fields(family)
        var out = ProxyRuleset(table: Table(family, options.tableName))
        out.addSet("no-endpoint-services", key: [addr, .inetProto, .inetService], data: .verdict)
        out.addSet("no-endpoint-nodeports", key: [.inetProto, .inetService], data: .verdict)
        out.addSet("nodeport-ips", key: [addr], elements: nodePortElements(family, options))
        out.addSet("hairpin", key: [addr, addr])
        out.chains["nat-postrouting"] = .init(base: BaseChain(type: .nat, hook: .postrouting, priority: Priority.srcnat), rules: [
            Match.mark(PacketMark.masquerade, mask: PacketMark.masquerade) + Action.masquerade(),
            Match.inSet("hairpin", [saddr, daddr]) + Action.masquerade(),
        ])
        let rejectDispatch: [[Expression]] = [
            Match.verdictMap("no-endpoint-services", [daddr, .l4proto, .thDport]),
            Match.inSet("nodeport-ips", [daddr]) + Match.verdictMap("no-endpoint-nodeports", [.l4proto, .thDport]),
        ]
        // Before DNAT, so a service without endpoints is refused at once (not left to time out).
        out.chains["filter-prerouting"] = .init(base: BaseChain(type: .filter, hook: .prerouting, priority: Priority.dstnat - 10),
                                                rules: rejectDispatch)
        out.chains["filter-output"] = .init(base: BaseChain(type: .filter, hook: .output, priority: Priority.dstnat - 10),
                                            rules: rejectDispatch)
        // TCP gets a reset; anything else an ICMP port unreachable (3 in ICMP, 4 in ICMPv6:
        // the family-neutral "icmpx" exists only in inet tables, and an ip table silently
        // drops with it).
        out.chains["no-endpoints"] = .init(base: nil, rules: [
            Match.l4proto(.tcp) + [.reject(.tcpReset, code: 0)],
            [.reject(.icmp, code: family == .ip ? 3 : 4)],
        ])
        return out
    }

    /// One shard table: its service maps and the NAT hooks that consult them.
    public static func shardBase(_ index: Int, family: Family, options: ProxyOptions) -> ProxyRuleset {
        let (addr, daddr, _) = fields(family)
        var out = ProxyRuleset(table: Table(family, options.shardTable(index)))
        out.addSet("service-ips", key: [addr, .inetProto, .inetService], data: .verdict)
        out.addSet("service-nodeports", key: [.inetProto, .inetService], data: .verdict)
        out.addSet("nodeport-ips", key: [addr], elements: nodePortElements(family, options))
        out.chains["services"] = .init(base: nil, rules: [
            Match.verdictMap("service-ips", [daddr, .l4proto, .thDport]),
            Match.inSet("nodeport-ips", [daddr]) + Match.verdictMap("service-nodeports", [.l4proto, .thDport]),
        ])
        out.chains["nat-prerouting"] = .init(base: BaseChain(type: .nat, hook: .prerouting, priority: Priority.dstnat),
                                             rules: [Action.jump("services")])
        out.chains["nat-output"] = .init(base: BaseChain(type: .nat, hook: .output, priority: Priority.dstnat),
                                         rules: [Action.jump("services")])
        return out
    }

    static func nodePortElements(_ family: Family, _ options: ProxyOptions) -> [SetElement] {
        options.nodePortAddresses.filter { $0.isIPv4 == (family == .ip) }.map { SetElement(Value($0)) }
    }

    /// What one service port adds: its chains and map elements (in its shard), its
    /// no-endpoint elements (in the main table), and the endpoint addresses that need hairpin
    /// masquerade. Empty for another family's service.
    public static func fragment(_ port: ServicePort, family: Family, options: ProxyOptions) -> ServiceFragment {
        let v4 = family == .ip
        func inFamily(_ a: IPAddress) -> Bool { a.isIPv4 == v4 }
        let saddr = fields(family).saddr
        var out = ServiceFragment()
        out.shard = shard(of: port, shards: options.shards)
        let shardTable = Table(family, options.shardTable(out.shard))
        let ips = port.clusterIPs.filter(inFamily)
        guard !ips.isEmpty else { return out }
        let key = { (ip: IPAddress) in [Value(ip), .proto(port.proto.number), .port(port.port)] }
        let cluster = port.clusterEndpoints.filter { inFamily($0.address) }
        let allEndpoints = port.endpoints.filter { inFamily($0.address) }
        out.hairpin = Set(allEndpoints.map(\.address))
        // The mark is set inline: a jump to a shared chain would make every change
        // re-validate that chain's callers.
        let mark = Action.setMarkBits(PacketMark.masquerade)

        // Cluster traffic.
        let svc = "svc/\(port.nftName)"
        if cluster.isEmpty {
            out.elements["no-endpoint-services", default: []] += ips.map { SetElement(key($0), to: .verdict(.goto("no-endpoints"))) }
        } else {
            var rules: [[Expression]] = []
            if options.masqueradeAll {
                rules.append(mark)
            } else if let clusterCIDR = options.clusterCIDRs.first(where: { $0.network.address.isIPv4 == v4 }) {
                rules.append(Match.notInPrefix(saddr, clusterCIDR) + mark)
            }
            out.chains[svc] = .init(base: nil, rules: rules + endpointRules(cluster, port, chain: svc, family: family, table: shardTable, into: &out))
            out.elements["service-ips", default: []] += ips.map { SetElement(key($0), to: .verdict(.goto(svc))) }
        }

        // External traffic: node port, external IPs, load-balancer IPs.
        guard port.hasExternalFrontends else { return out }
        let frontends = (port.externalIPs + port.loadBalancerIPs).filter(inFamily)
        let external = port.externalEndpoints.filter { inFamily($0.address) }
        let nodePortKey = port.nodePort.map { [Value.proto(port.proto.number), .port($0)] }
        if allEndpoints.isEmpty || (external.isEmpty && !port.externalTrafficLocal) {
            out.elements["no-endpoint-services", default: []] += frontends.map { SetElement(key($0), to: .verdict(.goto("no-endpoints"))) }
            if let nodePortKey {
                out.elements["no-endpoint-nodeports", default: []].append(SetElement(nodePortKey, to: .verdict(.goto("no-endpoints"))))
            }
            return out
        }
        let ext = "ext/\(port.nftName)"
        if port.externalTrafficLocal {
            // The client's address is kept (no masquerade); a node without a local endpoint
            // drops, as kube-proxy does, so the load balancer's health check moves traffic away.
            out.chains[ext] = .init(base: nil, rules: external.isEmpty ? [Action.drop]
                                        : endpointRules(external, port, chain: ext, family: family, table: shardTable, into: &out))
        } else {
            out.chains[ext] = .init(base: nil, rules: [mark] + endpointRules(external, port, chain: ext, family: family, table: shardTable, into: &out))
        }
        out.elements["service-ips", default: []] += frontends.map { SetElement(key($0), to: .verdict(.goto(ext))) }
        if let nodePortKey {
            out.elements["service-nodeports", default: []].append(SetElement(nodePortKey, to: .verdict(.goto(ext))))
        }
        return out
    }

    /// The endpoint-choosing rules of a service chain. With ClientIP affinity, a client seen
    /// by an endpoint within the timeout goes back to it: each endpoint has a dynamic set of
    /// client addresses (named after the chain and the endpoint, so it survives other
    /// endpoints coming and going; an IPv6 address's colons become underscores there), checked first and refreshed on every new connection.
    static func endpointRules(_ endpoints: [ProxyEndpoint], _ port: ServicePort, chain: String, family: Family,
                              table: Table, into fragment: inout ServiceFragment) -> [[Expression]] {
        guard let seconds = port.affinitySeconds else { return dnatRules(endpoints, proto: port.proto) }
        let (addr, _, saddr) = fields(family)
        var sticky: [[Expression]] = []
        var chosen: [[Expression]] = []
        for (rule, endpoint) in zip(dnatRules(endpoints, proto: port.proto), endpoints) {
            let name = "aff/\(chain)/\(String(endpoint.address.description.map { $0 == ":" ? "_" : $0 }))/\(endpoint.port)"
            fragment.sets[name] = NamedSet(table, name, key: [addr], flags: [.timeout, .dynamic],
                                           timeoutMilliseconds: UInt64(seconds) * 1000)
            let remember = Match.load([saddr]) + [.dynset(.update, set: name, key: .r(0), timeoutMilliseconds: UInt64(seconds) * 1000)]
            sticky.append(Match.inSet(name, [saddr]) + remember + Match.l4proto(port.proto.nftProtocol)
                          + Action.dnat(to: endpoint.address, port: endpoint.port))
            // The random rule: pick (its numgen test), remember, translate.
            let pick = rule.prefix { if case .numgen = $0 { true } else if case .cmp(.r(1), _, _) = $0 { true } else { false } }
            chosen.append(Array(pick) + remember + rule.dropFirst(pick.count))
        }
        return sticky + chosen
    }

    /// One rule per endpoint: rule i takes the connection with probability 1/(N−i), the last
    /// takes the rest, so each of the N endpoints gets exactly 1/N.
    static func dnatRules(_ endpoints: [ProxyEndpoint], proto: ServiceProtocol) -> [[Expression]] {
        endpoints.enumerated().map { index, endpoint in
            let remaining = UInt32(endpoints.count - index)
            let pick: [Expression] = remaining > 1
                ? [.numgen(modulus: remaining, into: .r(1)), .cmp(.r(1), .eq, Value.mark(0).bytes)] : []
            return pick + Match.l4proto(proto.nftProtocol) + Action.dnat(to: endpoint.address, port: endpoint.port)
        }
    }

}

extension ServiceProtocol {
    var nftProtocol: IPProtocol {
        switch self { case .tcp: .tcp; case .udp: .udp; case .sctp: .sctp }
    }
}
