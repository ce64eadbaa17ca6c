import APITypes
import JSON
import NFTablesModel
import NetAddress
import PolicyCore
import Testing

/// A NetworkPolicy from its spec as kubectl would send it.
func policy(_ namespace: String, _ name: String, _ spec: String) throws -> ParsedPolicy {
    let json = try JSONValue.parse(#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"\#(name)","namespace":"\#(namespace)"},"spec":\#(spec)}"#)
    return try ParsedPolicy(NetworkPolicy(json: json))
}

func pod(_ namespace: String, _ name: String, _ ip: String, node: String = "n1", labels: [String: String] = [:],
         ports: [String: [ContainerPort]] = [:]) -> PolicyPod {
    PolicyPod(key: ObjectKey(namespace, name), labels: labels, ips: [IPAddress(ip)!], nodeName: node, namedPorts: ports)
}

/// Runs a packet through the compiled tables the way the kernel would, for our rule shapes:
/// the egress map for the source, the ingress map for the destination (a jump to the pod's
/// chain), each chain's lines in order (every lookup of a line must find its key: peer .
/// rule id, rule id . protocol . port, or peer . rule id . protocol . port), reject at the end.
func kernelAllows(_ fake: FakeNFTables, from src: IPAddress, to dst: IPAddress, proto: UInt8, port: UInt16,
                  table name: String = "netplane-policy") -> Bool {
    let table = Table(src.isIPv4 ? .ip : .ip6, name)
    func contains(_ set: String, _ key: [Value]) -> Bool {
        (fake.elements(of: set, in: table) ?? []).contains { element in
            let end = element.keyEnd ?? element.key
            return element.key.count == key.count && element.key.indices.allSatisfy { i in
                !key[i].bytes.lexicographicallyPrecedes(element.key[i].bytes) && !end[i].bytes.lexicographicallyPrecedes(key[i].bytes)
            }
        }
    }
    for (direction, selected, peer) in [("egress", src, dst), ("ingress", dst, src)] {
        guard let entry = fake.elements(of: direction, in: table)?.first(where: { $0.key == [Value(selected)] }) else { continue }
        guard case .verdict(.jump(let chain))? = entry.data, let rules = fake.rules(of: chain, in: table) else { return false }
        var allowed = false
        for rule in rules {
            if rule.expressions.contains(where: { if case .reject = $0 { true } else { false } }) { break }
            var id: [UInt8] = []
            var matches = true
            for e in rule.expressions {
                if case .immediate(let bytes, _) = e { id = bytes }
                guard case .lookup(let set, _, _, _) = e else { continue }
                let key: [Value]
                switch set {
                case "pod-peers", "block-peers": key = [Value(peer), .raw(id)]
                case "pod-ports": key = [Value(peer), .raw(id), .proto(proto), .port(port)]
                default: key = [.raw(id), .proto(proto), .port(port)]
                }
                if !contains(set, key) { matches = false }
            }
            if matches { allowed = true; break }
        }
        if !allowed { return false }
    }
    return true
}

/// SplitMix64: a seeded generator, so a failing case can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct PolicyParsingTests {
    @Test func policyTypesDefaultAsTheAPISays() throws {
        let ingressOnly = try policy("x", "p", #"{"podSelector":{}}"#)
        #expect(ingressOnly.rules.keys.sorted() == [.ingress])
        #expect(ingressOnly.rules[.ingress] == [])
        let withEgress = try policy("x", "p", #"{"podSelector":{},"egress":[{}]}"#)
        #expect(withEgress.rules.keys.sorted() == [.ingress, .egress])
        let egressOnly = try policy("x", "p", #"{"podSelector":{},"policyTypes":["Egress"]}"#)
        #expect(egressOnly.rules.keys.sorted() == [.egress])
        #expect(egressOnly.rules[.egress] == [])
    }

    @Test func peersPortsAndTheirErrors() throws {
        let p = try policy("x", "p", #"""
            {"podSelector":{"matchLabels":{"app":"a"}},"ingress":[{"from":[
              {"namespaceSelector":{"matchLabels":{"ns":"y"}},"podSelector":{"matchExpressions":[{"key":"pod","operator":"In","values":["b"]}]}},
              {"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],
             "ports":[{"port":80,"endPort":90},{"protocol":"UDP","port":"dns"},{"protocol":"SCTP"}]}]}
            """#)
        let rule = try #require(p.rules[.ingress]?.first)
        #expect(rule.peers.count == 2)
        #expect(rule.ports == [PolicyPort(.tcp, .range(80, 90)), PolicyPort(.udp, .named("dns")), PolicyPort(.sctp, .any)])
        #expect(rule.peers[1].contains(IPAddress("10.2.3.4")!))
        #expect(!rule.peers[1].contains(IPAddress("10.1.3.4")!))

        func problem(_ spec: String) -> String? {
            do { _ = try policy("x", "p", spec); return nil } catch { return "\(error)" }
        }
        #expect(problem(#"{"podSelector":{},"ingress":[{"ports":[{"protocol":"ICMP"}]}]}"#)
                == #"spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP""#)
        #expect(problem(#"{"podSelector":{},"ingress":[{"ports":[{"port":"http","endPort":90}]}]}"#)
                == "spec.ingress[0].ports[0].endPort: Forbidden: may not be specified when `port` is non-numeric")
        #expect(problem(#"{"podSelector":{},"egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["11.0.0.0/16"]}}]}]}"#)
                == #"spec.egress[0].to[0].ipBlock.except[0]: Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`"#)
        #expect(problem(#"{"podSelector":{},"policyTypes":["Sideways"]}"#)?.hasPrefix("spec.policyTypes[0]: Unsupported value") == true)
        #expect(problem(#"{"podSelector":{"matchExpressions":[{"key":"a","operator":"Like"}]}}"#)?.hasPrefix("spec.podSelector") == true)
    }

    @Test func anUnreadablePolicyFailsClosed() throws {
        let json = try JSONValue.parse(#"{"metadata":{"name":"p","namespace":"x"},"spec":{"podSelector":{"matchLabels":{"app":"a"}},"policyTypes":["Ingress","Egress"],"egress":[{"ports":[{"protocol":"ICMP"}]}]}}"#)
        let fallback = try #require(ParsedPolicy.denyAll(NetworkPolicy(json: json)))
        #expect(fallback.rules == [.ingress: [], .egress: []])
    }
}

@Suite struct PolicySemanticsTests {
    let x = pod("x", "a", "10.0.1.1", labels: ["pod": "a"], ports: ["http": [ContainerPort(.tcp, 8080)]])
    let yb = pod("y", "b", "10.0.2.2", labels: ["pod": "b"])
    let xb = pod("x", "b", "10.0.1.2", labels: ["pod": "b"])
    let yc = pod("y", "c", "10.0.2.3", labels: ["pod": "c"])
    let namespaces = ["x": ["ns": "x"], "y": ["ns": "y"]]

    func allowed(_ policies: [ParsedPolicy], from: PolicyPod, to: PolicyPod, _ proto: IPProtocol = .tcp, _ port: UInt16 = 80) -> Bool {
        let v = PolicyEvaluator(policies: policies, namespaceLabels: namespaces).verdict(from: Endpoint(pod: from), to: Endpoint(pod: to), proto: proto, port: port)
        return v.egress.allows && v.ingress.allows
    }

    @Test func andVersusOr() throws {
        let and = try policy("x", "p", #"{"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}},"podSelector":{"matchLabels":{"pod":"b"}}}]}]}"#)
        #expect(allowed([and], from: yb, to: x))
        #expect(!allowed([and], from: yc, to: x))
        #expect(!allowed([and], from: xb, to: x))
        let or = try policy("x", "p", #"{"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}},{"podSelector":{"matchLabels":{"pod":"b"}}}]}]}"#)
        #expect(allowed([or], from: yb, to: x))
        #expect(allowed([or], from: yc, to: x))
        #expect(allowed([or], from: xb, to: x))
    }

    @Test func exceptNarrowsOnlyItsOwnPeer() throws {
        let one = try policy("x", "p", #"{"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/16","except":["10.0.2.2/32"]}}]}]}"#)
        #expect(!allowed([one], from: yb, to: x))
        #expect(allowed([one], from: yc, to: x))
        let two = try policy("x", "p", #"{"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/16","except":["10.0.2.2/32"]}},{"namespaceSelector":{"matchLabels":{"ns":"y"}}}]}]}"#)
        #expect(allowed([two], from: yb, to: x))
    }

    @Test func namedPortsResolveOnTheDestinationAndEndPortIsInclusive() throws {
        let named = try policy("x", "p", #"{"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"ports":[{"port":"http"}]}]}"#)
        #expect(allowed([named], from: yb, to: x, .tcp, 8080))
        #expect(!allowed([named], from: yb, to: x, .tcp, 80))
        #expect(!allowed([named], from: yb, to: x, .udp, 8080))
        let range = try policy("x", "p", #"{"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"ports":[{"port":80,"endPort":81}]}]}"#)
        #expect(allowed([range], from: yb, to: x, .tcp, 81))
        #expect(!allowed([range], from: yb, to: x, .tcp, 82))
        // An egress named port resolves on the destination pod.
        let egress = try policy("y", "e", #"{"podSelector":{},"policyTypes":["Egress"],"egress":[{"ports":[{"port":"http"}]}]}"#)
        #expect(allowed([egress], from: yb, to: x, .tcp, 8080))
        #expect(!allowed([egress], from: yb, to: xb, .tcp, 8080))
    }

    @Test func traceSaysWhy() throws {
        let p = try policy("x", "only-y", #"{"podSelector":{"matchLabels":{"pod":"a"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"ns":"y"}}}],"ports":[{"port":81}]}]}"#)
        let v = PolicyEvaluator(policies: [p], namespaceLabels: namespaces).verdict(from: Endpoint(pod: xb), to: Endpoint(pod: x), proto: .tcp, port: 80)
        #expect(v.egress.outcome == .notIsolated)
        #expect(v.ingress.outcome == .denied)
        #expect(v.ingress.reasons == ["x/only-y ingress[0]: no peer matches x/b (10.0.1.2)"])
        let w = PolicyEvaluator(policies: [p], namespaceLabels: namespaces).verdict(from: Endpoint(pod: yb), to: Endpoint(pod: x), proto: .tcp, port: 80)
        #expect(w.ingress.reasons == ["x/only-y ingress[0]: port 80/TCP is not in 81/TCP"])
    }
}

@Suite struct PolicyCompilerTests {
    /// A random cluster and random changes to it: after every change, the tables the
    /// incremental compiler built (in the fake, which refuses what the kernel refuses,
    /// overlapping interval elements included) decide every pod pair and port exactly as the
    /// API's semantics do; and a compiler built from scratch agrees.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func incrementalTablesAgreeWithTheSemantics(seed: UInt64) throws {
        var rng = SeededGenerator(state: seed)
        let namespaceNames = ["a", "b", "c"]
        var namespaces: [String: [String: String]] = [:]
        var pods: [ObjectKey: PolicyPod] = [:]
        var policies: [ObjectKey: ParsedPolicy] = [:]
        var compiler = PolicyCompiler(options: .init(nodeName: "n1"))
        var fake = FakeNFTables()
        try fake.commit(compiler.fullTransaction())

        func randomLabels() -> [String: String] {
            var labels: [String: String] = [:]
            if Bool.random(using: &rng) { labels["app"] = ["x", "y", "z"].randomElement(using: &rng)! }
            if Bool.random(using: &rng) { labels["tier"] = ["web", "db"].randomElement(using: &rng)! }
            return labels
        }
        func randomSelector() -> String {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return "{}"
            case 1: return #"{"matchLabels":{"app":"\#(["x", "y", "z"].randomElement(using: &rng)!)"}}"#
            case 2: return #"{"matchExpressions":[{"key":"tier","operator":"\#(["Exists", "DoesNotExist"].randomElement(using: &rng)!)"}]}"#
            default: return #"{"matchExpressions":[{"key":"app","operator":"NotIn","values":["x"]}]}"#
            }
        }
        func randomPeer() -> String {
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: return #"{"podSelector":\#(randomSelector())}"#
            case 1: return #"{"namespaceSelector":{"matchLabels":{"env":"\#(["prod", "dev"].randomElement(using: &rng)!)"}}}"#
            case 2: return #"{"namespaceSelector":\#(randomSelector()),"podSelector":\#(randomSelector())}"#
            case 3: return #"{"ipBlock":{"cidr":"10.0.0.0/28","except":["10.0.0.\#([0, 4, 8].randomElement(using: &rng)!)/30"]}}"#
            default: return #"{"ipBlock":{"cidr":"fd00::/124","except":["fd00::\#([0, 4, 8].randomElement(using: &rng)!)/126"]}}"#
            }
        }
        func randomPort() -> String {
            [#"{"port":80}"#, #"{"port":80,"endPort":81}"#, #"{"protocol":"UDP","port":80}"#, #"{"port":"http"}"#,
             #"{"protocol":"UDP"}"#, #"{"port":8080}"#].randomElement(using: &rng)!
        }
        func randomRules() -> String {
            "[" + (0..<Int.random(in: 0...2, using: &rng)).map { _ in
                let peers = (0..<Int.random(in: 0...2, using: &rng)).map { _ in randomPeer() }.joined(separator: ",")
                let ports = (0..<Int.random(in: 0...2, using: &rng)).map { _ in randomPort() }.joined(separator: ",")
                return #"{"PEERS":[\#(peers)],"ports":[\#(ports)]}"#
            }.joined(separator: ",") + "]"
        }
        func randomPolicy(_ key: ObjectKey) throws -> ParsedPolicy {
            var spec = #"{"podSelector":\#(randomSelector())"#
            let types = [["Ingress"], ["Egress"], ["Ingress", "Egress"], []].randomElement(using: &rng)!
            if !types.isEmpty { spec += #","policyTypes":[\#(types.map { "\"\($0)\"" }.joined(separator: ","))]"# }
            spec += #","ingress":\#(randomRules().replacing("PEERS", with: "from"))"#
            if types.contains("Egress") || Bool.random(using: &rng) {
                spec += #","egress":\#(randomRules().replacing("PEERS", with: "to"))"#
            }
            return try policy(key.namespace, key.name, spec + "}")
        }
        func randomPod(_ i: Int) -> PolicyPod {
            let http: [ContainerPort] = Bool.random(using: &rng) ? [ContainerPort(.tcp, [80, 8080].randomElement(using: &rng)!)] : []
            var p = pod(namespaceNames.randomElement(using: &rng)!, "p\(i)", "10.0.0.\(i + 1)", node: Bool.random(using: &rng) ? "n1" : "n2",
                        labels: randomLabels(), ports: http.isEmpty ? [:] : ["http": http])
            // Dual-stack pods: the ip6 table must decide IPv6 as the ip table decides IPv4.
            p.ips.append(IPAddress("fd00::\(String(i + 1, radix: 16))")!)
            return p
        }

        for name in namespaceNames {
            namespaces[name] = ["env": ["prod", "dev"].randomElement(using: &rng)!, "kubernetes.io/metadata.name": name]
            compiler.update(namespace: name, labels: namespaces[name]!)
        }
        for i in 0..<12 {
            let p = randomPod(i)
            pods[p.key] = p
            compiler.update(pod: p)
        }
        let probes: [(IPProtocol, UInt16)] = [(.tcp, 80), (.tcp, 81), (.udp, 80), (.tcp, 8080), (.udp, 53)]

        func check(_ fake: FakeNFTables, _ step: String) {
            let evaluator = PolicyEvaluator(policies: Array(policies.values), namespaceLabels: namespaces)
            for src in pods.values {
                for dst in pods.values {
                    for (proto, port) in probes {
                        for family in 0..<2 {
                            let from = Endpoint(address: src.ips[family], pod: src), to = Endpoint(address: dst.ips[family], pod: dst)
                            let v = evaluator.verdict(from: from, to: to, proto: proto, port: port)
                            // This node decides the egress of its pods and the ingress to them.
                            let expected = (src.nodeName != "n1" || v.egress.allows) && (dst.nodeName != "n1" || v.ingress.allows)
                            let actual = kernelAllows(fake, from: from.address, to: to.address, proto: proto.rawValue, port: port)
                            if expected != actual {
                                Issue.record("seed \(seed) \(step): \(from)->\(to) \(port)/\(proto): expected \(expected), tables say \(actual)\n\(v.egress.explanation + v.ingress.explanation)")
                                return
                            }
                        }
                    }
                }
            }
        }

        for step in 0..<60 {
            var what = ""
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<3:
                let key = ObjectKey(namespaceNames.randomElement(using: &rng)!, "np\(Int.random(in: 0..<6, using: &rng))")
                let p = try randomPolicy(key)
                policies[key] = p
                compiler.update(policy: p)
                what = "policy \(key) set"
            case 3:
                guard let key = policies.keys.randomElement(using: &rng) else { continue }
                policies[key] = nil
                compiler.removePolicy(key)
                what = "policy \(key) removed"
            case 4..<7:
                guard var p = pods.values.randomElement(using: &rng) else { continue }
                p.labels = randomLabels()
                pods[p.key] = p
                compiler.update(pod: p)
                what = "pod \(p.key) relabelled"
            case 7:
                let i = Int.random(in: 0..<12, using: &rng)
                if let existing = pods.values.first(where: { $0.key.name == "p\(i)" }) {
                    pods[existing.key] = nil
                    compiler.removePod(existing.key)
                    what = "pod \(existing.key) removed"
                } else {
                    let p = randomPod(i)
                    pods[p.key] = p
                    compiler.update(pod: p)
                    what = "pod \(p.key) added"
                }
            default:
                let name = namespaceNames.randomElement(using: &rng)!
                namespaces[name]!["env"] = ["prod", "dev"].randomElement(using: &rng)!
                compiler.update(namespace: name, labels: namespaces[name]!)
                what = "namespace \(name) relabelled"
            }
            do {
                try compiler.commit { (t: Transaction) throws(FakeNFTables.Refusal) in try fake.commit(t) }
            } catch {
                Issue.record("seed \(seed) step \(step) (\(what)): the kernel would refuse: \(error)")
                return
            }
            check(fake, "step \(step) (\(what))")
            if step % 15 == 14 {
                var scratch = PolicyCompiler(options: .init(nodeName: "n1"))
                for (name, labels) in namespaces { scratch.update(namespace: name, labels: labels) }
                for p in pods.values { scratch.update(pod: p) }
                for p in policies.values { scratch.update(policy: p) }
                var fresh = FakeNFTables()
                try fresh.commit(scratch.fullTransaction())
                check(fresh, "full rebuild at step \(step)")
            }
        }
    }

    /// One pod's label change at many policies sends a handful of element changes, not the
    /// tables.
    @Test func aLabelChangeSendsOnlyItsDifference() throws {
        var compiler = PolicyCompiler(options: .init(nodeName: "n1"))
        for i in 0..<80 {
            compiler.update(pod: pod("x", "p\(i)", "10.0.\(i / 250).\(i % 250 + 1)", labels: ["app": "a\(i / 2)", "role": i % 3 == 0 ? "client" : "server"]))
        }
        for i in 0..<40 {
            compiler.update(policy: try policy("x", "np\(i)", #"{"podSelector":{"matchLabels":{"app":"a\#(i)"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"role":"client"}}}],"ports":[{"port":80}]}]}"#))
        }
        var fake = FakeNFTables()
        try fake.commit(compiler.fullTransaction())
        compiler.update(pod: pod("x", "p1", "10.0.0.2", labels: ["app": "a0", "role": "client"]))
        var sent: Transaction?
        try compiler.commit { (t: Transaction) throws(FakeNFTables.Refusal) in
            try fake.commit(t)
            sent = t
        }
        let t = try #require(sent)
        // p1 joins every policy's client peers (40 elements), its own chain stays, the
        // generation moves on: data elements only, no rule and no jump (no table validation).
        #expect(t.count < 40, "\(t.count) operations")
        let labels = t.operations.map(\.label)
        #expect(!labels.contains { $0.contains("rule") || $0.contains("chain") }, "\(labels)")
        #expect(kernelAllows(fake, from: IPAddress("10.0.0.2")!, to: IPAddress("10.0.0.11")!, proto: 6, port: 80))
        #expect(!kernelAllows(fake, from: IPAddress("10.0.0.3")!, to: IPAddress("10.0.0.11")!, proto: 6, port: 80))
    }
}
