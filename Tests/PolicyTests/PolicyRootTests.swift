import Foundation
import NetplaneTestSupport
import Testing

/// `netplane policy` enforcing NetworkPolicy (networking.k8s.io/v1) on a real two-node flannel
/// cluster (NodeCluster: kubelets, runc, flanneld), checked the way Kubernetes' own e2e suite
/// checks a network plugin (test/e2e/network/netpol): namespaces x, y, z labelled `ns=<name>`,
/// pods a, b, c in each (a and b on node1, c on node2, so pairs are both bridged on one node and
/// routed over VXLAN between nodes), every pod serving 80 and 81 over TCP and UDP. After each
/// policy every pod probes every pod on every port, and the observed truth table must become the
/// expected one within a few seconds (the daemon is asynchronous). Needs root.
///
/// A pod's network namespace is `cni-<uid>`: the servers and probers are python3 processes run
/// there with `ip netns exec` (busybox has no UDP server). Expected tables encode the API's
/// semantics, pod-to-itself included; see `PolicyBed.ignoreLoopback` for why the diagonal is
/// printed but not judged.
@Suite(.serialized) struct PolicyRootTests {
    /// The upstream truth-table cases on one cluster: each policy is applied, its table
    /// required on 80/TCP, 81/TCP, 80/UDP and 81/UDP, then every policy is deleted and full
    /// reachability required again before the next case. Cases marked "replacing" change the
    /// previous case's policy in place (`kubectl replace`), so each expected table differs from
    /// the state before it and a daemon that ignores updates cannot pass by doing nothing.
    @Test func upstreamReachabilityTruthTables() throws {
        try PolicyBed.with(PolicyBed.upstreamLayout) { bed in
            try bed.requireFullReachability("before any policy", within: 60)

            // 1. Default deny ingress ("should support a 'default-deny-ingress' policy"):
            // nothing reaches x/*, not even x/* themselves.
            try bed.check("deny all ingress in x", networkPolicy("deny-ingress", """
                podSelector: {}
                policyTypes: [Ingress]
                """), .same(bed.table(true) { $0.expectPeer(from: .everyone, to: Peer(namespace: "x"), false) }))
            try bed.deleteAllPolicies()

            // 2. Default deny egress: x/* reach nothing (each other included); everyone else
            // still reaches x/*, whose answers are replies of allowed connections, not egress.
            try bed.check("deny all egress in x", networkPolicy("deny-egress", """
                podSelector: {}
                policyTypes: [Egress]
                """), .same(bed.table(true) { $0.expectPeer(from: Peer(namespace: "x"), to: .everyone, false) }))
            try bed.deleteAllPolicies()

            // 3. Allow ingress from the same namespace; policyTypes left to the API's default
            // ([Ingress]). x/* are reachable only from x/*.
            try bed.check("allow same-namespace ingress in x", networkPolicy("allow-same-namespace", """
                podSelector: {}
                ingress:
                - from: [{podSelector: {}}]
                """), .same(bed.table(true) { t in
                    t.expectPeer(from: .everyone, to: Peer(namespace: "x"), false)
                    t.expectPeer(from: Peer(namespace: "x"), to: Peer(namespace: "x"), true)
                }))
            try bed.deleteAllPolicies()

            // 4. A namespaceSelector alone: x/a only from y/*; x/b and x/c stay open to all.
            try bed.check("allow ingress to x/a from namespace ns=y", networkPolicy("allow-from-y", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - from: [{namespaceSelector: {matchLabels: {ns: "y"}}}]
                """), .same(bed.table(true) { t in
                    t.expectAllIngress(to: "x/a", false)
                    t.expectPeer(from: Peer(namespace: "y"), to: Peer(namespace: "x", pod: "a"), true)
                }))
            try bed.deleteAllPolicies()

            // 5. AND versus OR. (i) One peer with both selectors: only y/b. (ii) The same two
            // selectors as two peers: all of y, or pod=b in the policy's own namespace (x/b).
            try bed.check("AND: one peer {namespaceSelector ns=y, podSelector pod=b}", networkPolicy("and-or", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {ns: "y"}}
                    podSelector: {matchLabels: {pod: b}}
                """), .same(bed.table(true) { t in
                    t.expectAllIngress(to: "x/a", false)
                    t.expect(from: "y/b", to: "x/a", true)
                }))
            try bed.check("OR: two peers {namespaceSelector ns=y}, {podSelector pod=b} (replacing)", networkPolicy("and-or", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {ns: "y"}}
                  - podSelector: {matchLabels: {pod: b}}
                """), replacing: true, .same(bed.table(true) { t in
                    t.expectAllIngress(to: "x/a", false)
                    t.expectPeer(from: Peer(namespace: "y"), to: Peer(namespace: "x", pod: "a"), true)
                    t.expect(from: "x/b", to: "x/a", true)
                }))
            try bed.deleteAllPolicies()

            // 6. ipBlock with except: the whole pod network but y/b's address. Then a second
            // peer selecting y/b: an except narrows only its own peer, so y/b is back.
            let ybAddress = try bed.pod("y/b").ip
            let exceptYB = """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - from:
                  - ipBlock: {cidr: 10.244.0.0/16, except: [\(ybAddress)/32]}
                """
            try bed.check("ipBlock 10.244.0.0/16 except y/b's /32", networkPolicy("ip-block", exceptYB),
                          .same(bed.table(true) { $0.expect(from: "y/b", to: "x/a", false) }))
            try bed.check("ipBlock except y/b, or a peer selecting y/b (replacing)", networkPolicy("ip-block", exceptYB + "\n" + """
                  - namespaceSelector: {matchLabels: {ns: "y"}}
                    podSelector: {matchLabels: {pod: b}}
                """), replacing: true, .same(bed.table(true)))
            try bed.deleteAllPolicies()

            // 7. A named port, resolved against the selected pod's container ports (protocol
            // defaults to TCP): only 80/TCP reaches x/a. Then a named UDP port: only 81/UDP.
            try bed.check("ingress to x/a on named port serve-80-tcp", networkPolicy("named-port", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - ports: [{port: serve-80-tcp}]
                """), .byTarget { target in bed.table(true) { if target != .tcp80 { $0.expectAllIngress(to: "x/a", false) } } })
            try bed.check("ingress to x/a on named port serve-81-udp (replacing)", networkPolicy("named-port", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - ports: [{protocol: UDP, port: serve-81-udp}]
                """), replacing: true, .byTarget { target in bed.table(true) { if target != .udp81 { $0.expectAllIngress(to: "x/a", false) } } })
            try bed.deleteAllPolicies()

            // 8. endPort: TCP 80-81 reach x/a, UDP does not. Then port 81 alone: only 81/TCP.
            try bed.check("ingress to x/a on TCP 80 endPort 81", networkPolicy("port-range", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - ports: [{protocol: TCP, port: 80, endPort: 81}]
                """), .byTarget { target in bed.table(true) { if target.proto != .tcp { $0.expectAllIngress(to: "x/a", false) } } })
            try bed.check("ingress to x/a on TCP 81 (replacing)", networkPolicy("port-range", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                ingress:
                - ports: [{protocol: TCP, port: 81}]
                """), replacing: true, .byTarget { target in bed.table(true) { if target != .tcp81 { $0.expectAllIngress(to: "x/a", false) } } })
            try bed.deleteAllPolicies()

            // 9. Egress of x/a to namespace y on every port, and to any address on 53: x/a
            // reaches only y/*. Its ingress is not restricted, so everyone still reaches x/a:
            // its answers are replies (conntrack), not egress.
            let egressConverged = try bed.check("egress from x/a to ns=y, and DNS anywhere", networkPolicy("egress-y-and-dns", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to: [{namespaceSelector: {matchLabels: {ns: "y"}}}]
                - ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
                """), .same(bed.table(true) { t in
                    t.expectAllEgress(from: "x/a", false)
                    t.expectPeer(from: Peer(namespace: "x", pod: "a"), to: Peer(namespace: "y"), true)
                }))
            if egressConverged {
                // The rule without `to` allows port 53 to every destination: same node and the other.
                let dns = try bed.unexpected([("x/a", "z/c", .udp53, true), ("x/a", "z/c", .tcp53, true),
                                              ("x/a", "x/b", .udp53, true), ("x/a", "x/b", .tcp53, true)])
                #expect(dns.isEmpty, "x/a's egress on port 53:\n\(dns.joined(separator: "\n"))\(bed.diagnostics())")
            }
            try bed.deleteAllPolicies()
        }
    }

    /// A policy change while a connection is open: a connection the new policy still allows
    /// keeps working; once a replacement no longer allows it, it stops within `cutOff` seconds
    /// (no more echoes, or an error) and stays stopped, and new connections follow the new
    /// policy. The client, in y/b, writes a line every 100 ms to x/a's echo server on 8080 and
    /// waits at most 0.5 s for each echo.
    @Test func anOpenConnectionIsCutWhenThePolicyStopsAllowingIt() throws {
        let layout = [Placement("x", "a", node: 1), Placement("x", "b", node: 1), Placement("y", "b", node: 1), Placement("z", "c", node: 2)]
        try PolicyBed.with(layout) { bed in
            try bed.requireFullReachability("before any policy", within: 60)
            let connection = try bed.openConnection(from: "y/b", to: "x/a", port: Target.echo.port)
            try bed.waitFor("five echoes on the connection from y/b to x/a:8080", seconds: 10) { connection.echoes >= 5 }
            #expect(connection.failures.isEmpty, "before any policy: \(connection.failures)")

            // x/a takes TCP 8080 from y/b only: the open connection is still allowed.
            func onlyFrom(_ namespace: String, _ pod: String) -> String {
                networkPolicy("echo-from-one-pod", """
                    podSelector: {matchLabels: {pod: a}}
                    policyTypes: [Ingress]
                    ingress:
                    - from: [{namespaceSelector: {matchLabels: {ns: "\(namespace)"}}, podSelector: {matchLabels: {pod: "\(pod)"}}}]
                      ports: [{protocol: TCP, port: 8080}]
                    """)
            }
            try bed.apply(onlyFrom("y", "b"))
            var wrong: [String] = []
            let firstInForce = try eventually(seconds: PolicyBed.convergence) {
                wrong = try bed.unexpected([("y/b", "x/a", .echo, true), ("z/c", "x/a", .echo, false),
                                            ("x/b", "x/a", .echo, false), ("y/b", "x/a", .tcp80, false)])
                return wrong.isEmpty
            }
            #expect(firstInForce, "new connections under the policy allowing only y/b:\n\(wrong.joined(separator: "\n"))\(bed.diagnostics())")
            let echoesBefore = connection.echoes
            Thread.sleep(forTimeInterval: 2)
            #expect(connection.failures.isEmpty,
                    "the open connection from y/b, still allowed, was disturbed:\n\(connection.lines.suffix(20).joined(separator: "\n"))\(bed.diagnostics())")
            #expect(connection.echoes - echoesBefore >= 10, "the open connection stalled: \(connection.echoes - echoesBefore) echoes in 2 s")

            // Replaced by one allowing z/c only: the open connection must stop.
            try bed.apply(onlyFrom("z", "c"), replacing: true)
            let replaced = Date()
            let cut = eventually(seconds: PolicyBed.cutOff) { !connection.failures.isEmpty }
            #expect(cut, """
                the open connection from y/b to x/a:8080 still got every echo \(String(format: "%.1f", Date().timeIntervalSince(replaced))) s \
                after the policy stopped allowing it:
                \(connection.lines.suffix(10).joined(separator: "\n"))\(bed.diagnostics())
                """)
            let secondInForce = try eventually(seconds: PolicyBed.convergence) {
                wrong = try bed.unexpected([("y/b", "x/a", .echo, false), ("z/c", "x/a", .echo, true), ("x/b", "x/a", .echo, false)])
                return wrong.isEmpty
            }
            #expect(secondInForce, "new connections under the policy allowing only z/c:\n\(wrong.joined(separator: "\n"))\(bed.diagnostics())")
            // Once cut, it stays cut: no echo after its first failure.
            Thread.sleep(forTimeInterval: 1)
            let lines = connection.lines
            if let first = lines.firstIndex(where: OpenConnection.isFailure) {
                let late = lines[first...].filter { $0.hasPrefix("ok ") }
                #expect(late.isEmpty, "echoes after the connection was cut: \(late)\n\(lines.suffix(20).joined(separator: "\n"))")
            }
            connection.stop()
        }
    }
}

// MARK: - Truth tables (upstream's TruthTable and Reachability)

/// Which pods a `Reachability` rule applies to: nil matches any namespace or any pod name
/// (upstream's Peer).
fileprivate struct Peer: Sendable {
    var namespace: String? = nil
    var pod: String? = nil

    static let everyone = Peer()

    func matches(_ key: String) -> Bool {
        let parts = key.split(separator: "/").map(String.init)
        guard parts.count == 2 else { return false }
        return (namespace == nil || namespace == parts[0]) && (pod == nil || pod == parts[1])
    }
}

/// An n×n truth table over pods ("x/a" …): whether `from` connects to `to` on one port and
/// protocol. Built like upstream's: start all true or all false, then rules.
fileprivate struct Reachability: Equatable {
    let pods: [String]
    private var values: [Bool]

    init(pods: [String], _ value: Bool) {
        self.pods = pods
        values = Array(repeating: value, count: pods.count * pods.count)
    }

    private func index(_ from: String, _ to: String) -> Int? {
        guard let i = pods.firstIndex(of: from), let j = pods.firstIndex(of: to) else {
            Issue.record("no pod \(from) or \(to) in the table \(pods)")
            return nil
        }
        return i * pods.count + j
    }

    subscript(_ from: String, _ to: String) -> Bool {
        get { index(from, to).map { values[$0] } ?? false }
        set { if let i = index(from, to) { values[i] = newValue } }
    }

    mutating func expect(from: String, to: String, _ connected: Bool) { self[from, to] = connected }

    /// Everything going into `pod` (upstream's ExpectAllIngress).
    mutating func expectAllIngress(to pod: String, _ connected: Bool) {
        for from in pods { self[from, pod] = connected }
    }

    /// Everything leaving `pod` (upstream's ExpectAllEgress).
    mutating func expectAllEgress(from pod: String, _ connected: Bool) {
        for to in pods { self[pod, to] = connected }
    }

    /// Every pair whose source matches `from` and destination matches `to`.
    mutating func expectPeer(from: Peer, to: Peer, _ connected: Bool) {
        for source in pods where from.matches(source) {
            for destination in pods where to.matches(destination) { self[source, destination] = connected }
        }
    }

    /// The cells where `observed` differs, loopback cells left out when ignored.
    func wrongCells(_ observed: Reachability, ignoreLoopback: Bool) -> Int {
        var wrong = 0
        for from in pods {
            for to in pods where !(ignoreLoopback && from == to) && self[from, to] != observed[from, to] { wrong += 1 }
        }
        return wrong
    }

    /// Upstream's picture: a row per source, a column per destination, one mark per cell.
    func rows(_ mark: (String, String) -> String) -> [String] {
        let width = (pods.map(\.count).max() ?? 3) + 1
        var lines = [pad("-", width) + pods.map { pad($0, width) }.joined()]
        for from in pods { lines.append(pad(from, width) + pods.map { pad(mark(from, $0), width) }.joined()) }
        return lines
    }

    /// Expected and observed side by side, "." allowed and "X" blocked as upstream prints
    /// them, and a third table of the differences ("!" wrong, "~" loopback, not judged).
    static func sideBySide(expected: Reachability, observed: Reachability, ignoreLoopback: Bool) -> String {
        let left = expected.rows { expected[$0, $1] ? "." : "X" }
        let middle = observed.rows { observed[$0, $1] ? "." : "X" }
        let right = expected.rows { from, to in
            expected[from, to] == observed[from, to] ? "-" : (ignoreLoopback && from == to ? "~" : "!")
        }
        let width = left.map(\.count).max() ?? 0
        var lines = [pad("expected", width) + " | " + pad("observed", width) + " | differences (! wrong, ~ loopback: not judged)"]
        for i in left.indices { lines.append(pad(left[i], width) + " | " + pad(middle[i], width) + " | " + right[i]) }
        return lines.joined(separator: "\n")
    }
}

fileprivate func pad(_ text: String, _ width: Int) -> String {
    text + String(repeating: " ", count: max(0, width - text.count))
}

fileprivate enum Proto: String, Sendable { case tcp, udp }

/// A destination port and protocol.
fileprivate struct Target: Hashable, Sendable, CustomStringConvertible {
    var port: Int
    var proto: Proto

    var description: String { "\(port)/\(proto.rawValue.uppercased())" }

    static let tcp80 = Target(port: 80, proto: .tcp)
    static let tcp81 = Target(port: 81, proto: .tcp)
    static let udp80 = Target(port: 80, proto: .udp)
    static let udp81 = Target(port: 81, proto: .udp)
    static let tcp53 = Target(port: 53, proto: .tcp)
    static let udp53 = Target(port: 53, proto: .udp)
    /// The echo server of the open-connection test.
    static let echo = Target(port: 8080, proto: .tcp)
    /// What every case's truth tables cover (the upstream suite's ports and protocols).
    static let matrix: [Target] = [.tcp80, .tcp81, .udp80, .udp81]
}

/// A case's expected tables, one per target, in `Target.matrix` order.
fileprivate struct TruthTables {
    var tables: [(target: Target, table: Reachability)]

    /// The same table on every port and protocol.
    static func same(_ table: Reachability) -> TruthTables {
        TruthTables(tables: Target.matrix.map { (target: $0, table: table) })
    }

    /// A table per port and protocol.
    static func byTarget(_ build: (Target) -> Reachability) -> TruthTables {
        TruthTables(tables: Target.matrix.map { (target: $0, table: build($0)) })
    }

    var targets: [Target] { tables.map { $0.target } }

    func wrongCells(_ observed: ObservedTables, ignoreLoopback: Bool) -> Int {
        tables.reduce(0) { sum, entry in
            guard let seen = observed.tables[entry.target] else { return sum + entry.table.pods.count * entry.table.pods.count }
            return sum + entry.table.wrongCells(seen, ignoreLoopback: ignoreLoopback)
        }
    }
}

/// One probe round: the observed tables, and whatever the probers said that was not a result.
fileprivate struct ObservedTables {
    var tables: [Target: Reachability] = [:]
    var problems: [String] = []
}

/// One probe: a destination address, port and protocol.
fileprivate struct ProbeKey: Hashable {
    var ip: String
    var target: Target
}

/// Where a pod goes: namespace, name (also its `pod` label) and node.
fileprivate struct Placement: Sendable {
    var namespace: String
    var name: String
    var node: Int

    init(_ namespace: String, _ name: String, node: Int) {
        self.namespace = namespace
        self.name = name
        self.node = node
    }

    var key: String { "\(namespace)/\(name)" }
}

fileprivate struct BedFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A NetworkPolicy named `name` in `namespace` with `spec` (YAML, indented under `spec:`).
fileprivate func networkPolicy(_ name: String, in namespace: String = "x", _ spec: String) -> String {
    let indented = spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  \($0)" }.joined(separator: "\n")
    return """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: \(name), namespace: "\(namespace)"}
        spec:
        \(indented)
        """
}

// MARK: - The bed

/// The cluster of one test: two flannel nodes, `netplane policy` on each, namespaces x, y, z
/// labelled `ns=<name>`, the pods of a layout with their servers, and the probing.
fileprivate final class PolicyBed {
    struct Pod {
        var namespace: String
        var name: String
        var node: Int
        var uid: String
        var ip: String
        var key: String { "\(namespace)/\(name)" }
        /// The pod's network namespace, made by its node's kubelet.
        var netns: String { "cni-\(uid)" }
    }

    /// The upstream layout: a, b, c in each of x, y, z; a and b on node1, c on node2.
    static let upstreamLayout: [Placement] = ["x", "y", "z"].flatMap { ns in
        [Placement(ns, "a", node: 1), Placement(ns, "b", node: 1), Placement(ns, "c", node: 2)]
    }
    /// How long the daemons get to make a policy change true (they are asynchronous).
    static let convergence = 10.0
    /// One probe's budget: a TCP connect and its "ok", or a UDP answer.
    static let probeTimeout = 1.0
    /// How soon an open connection the policy no longer allows must stop: the daemon's
    /// reaction plus the client's 0.5 s wait for an echo.
    static let cutOff = 3.0
    /// A pod connecting to its own address never leaves its network namespace (the kernel
    /// delivers it over the pod's loopback), so an enforcer in the node's namespace cannot see
    /// it; upstream's suite ignores these cells for the same reason (`ignoreLoopback`,
    /// kubernetes#95879). The expected tables still say what the API means; the cells are
    /// printed, marked "~" when they differ, and not judged. Set to false for an enforcer that
    /// works inside pod namespaces.
    static let ignoreLoopback = true
    /// Debian's python3 directly: pyenv's shim costs ~150 ms a start, and a round starts nine.
    static let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
    /// What every pod's server listens on (ss's "netid/port").
    static let served: Set<String> = ["tcp/80", "tcp/81", "tcp/53", "tcp/8080", "udp/80", "udp/81", "udp/53"]

    let cluster: NodeCluster
    private(set) var pods: [Pod] = []
    /// Servers and clients in pod namespaces: all killed when the bed goes, even on failure.
    private var processes: [Process] = []

    private init(cluster: NodeCluster) { self.cluster = cluster }

    /// A two-node flannel cluster with `netplane policy` on both nodes and `layout`'s pods
    /// serving; runs `body`, then kills every process it started and removes the cluster.
    static func with(_ layout: [Placement], _ body: (PolicyBed) throws -> Void) throws {
        try NodeCluster.with(nodes: 2, network: .flannel) { cluster in
            let bed = PolicyBed(cluster: cluster)
            defer { bed.stopProcesses() }
            try bed.setUp(layout)
            try body(bed)
        }
    }

    func stopProcesses() {
        // SIGKILL: Foundation's children may start with SIGTERM blocked.
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
        processes.removeAll()
    }

    private func setUp(_ layout: [Placement]) throws {
        try cluster.startPolicy(1)
        try cluster.startPolicy(2)
        try cluster.kubectlOK(["apply", "-f", "-"], stdin: ["x", "y", "z"].map { ns in
            """
            apiVersion: v1
            kind: Namespace
            metadata: {name: "\(ns)", labels: {ns: "\(ns)"}}
            """
        }.joined(separator: "\n---\n"))
        try cluster.kubectlOK(["apply", "-f", "-"], stdin: layout.map(Self.podManifest).joined(separator: "\n---\n"))

        var listed: [String: (uid: String, node: String, ip: String)] = [:]
        try waitFor("the pods Running with an address and a network namespace", seconds: 90) {
            listed = try runningPods()
            return layout.allSatisfy { placement in
                guard let pod = listed[placement.key] else { return false }
                return FileManager.default.fileExists(atPath: "/run/netns/cni-\(pod.uid)")
            }
        }
        pods = layout.map { placement in
            let seen = listed[placement.key]!
            return Pod(namespace: placement.namespace, name: placement.name, node: placement.node, uid: seen.uid, ip: seen.ip)
        }
        // Pinned where asked, and node2's pods in another subnet: c pairs cross the VXLAN.
        for pod in pods {
            #expect(listed[pod.key]?.node == "node\(pod.node)", "\(pod.key) runs on \(listed[pod.key]?.node ?? "?")")
        }
        func subnet(_ ip: String) -> String { ip.split(separator: ".").prefix(3).joined(separator: ".") }
        let node1 = Set(pods.filter { $0.node == 1 }.map { subnet($0.ip) }), node2 = Set(pods.filter { $0.node == 2 }.map { subnet($0.ip) })
        #expect(node1.isDisjoint(with: node2), "node1's pods in \(node1), node2's in \(node2)")

        for pod in pods {
            processes.append(try startLogged("/usr/sbin/ip", ["netns", "exec", pod.netns, Self.python, "-u", "-c", PolicyScripts.server,
                                                              "80,81,53", "80,81,53", "8080"],
                                              log: "\(cluster.dir)/server-\(pod.namespace)-\(pod.name).log"))
        }
        for pod in pods {
            try waitFor("\(pod.key)'s server listening", seconds: 15) { Self.served.isSubset(of: listening(pod)) }
        }
    }

    static func podManifest(_ placement: Placement) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: \(placement.name), namespace: "\(placement.namespace)", labels: {pod: "\(placement.name)"}}
        spec:
          nodeName: node\(placement.node)
          terminationGracePeriodSeconds: 1
          containers:
          - name: cont
            image: busybox
            command: [sleep, "3600"]
            ports:
            - {name: serve-80-tcp, containerPort: 80, protocol: TCP}
            - {name: serve-81-tcp, containerPort: 81}
            - {name: serve-80-udp, containerPort: 80, protocol: UDP}
            - {name: serve-81-udp, containerPort: 81, protocol: UDP}
        """
    }

    /// Running pods with an address, by "namespace/name".
    private func runningPods() throws -> [String: (uid: String, node: String, ip: String)] {
        let jsonpath = #"jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {.metadata.uid} {.spec.nodeName} {.status.phase} {.status.podIP}{"\n"}{end}"#
        var found: [String: (uid: String, node: String, ip: String)] = [:]
        for line in try cluster.kubectl(["get", "pods", "-A", "-o", jsonpath]).stdout.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            if fields.count == 5, fields[3] == "Running" { found[fields[0]] = (uid: fields[1], node: fields[2], ip: fields[4]) }
        }
        return found
    }

    /// What listens in a pod's namespace, as "tcp/80", "udp/53" (ss, an independent witness).
    private func listening(_ pod: Pod) -> Set<String> {
        guard let out = try? Command.run(["ip", "netns", "exec", pod.netns, "ss", "-Hltun"]).stdout else { return [] }
        var found = Set<String>()
        for line in out.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.count >= 5, let port = fields[4].split(separator: ":").last { found.insert("\(fields[0])/\(port)") }
        }
        return found
    }

    func pod(_ key: String) throws -> Pod {
        guard let pod = pods.first(where: { $0.key == key }) else { throw BedFailure("no pod \(key) in this bed") }
        return pod
    }

    /// A table over this bed's pods, all `initial`, then `edit`.
    func table(_ initial: Bool, _ edit: (inout Reachability) -> Void = { _ in }) -> Reachability {
        var table = Reachability(pods: pods.map(\.key), initial)
        edit(&table)
        return table
    }

    func waitFor(_ what: String, seconds: Double = 30, _ condition: () throws -> Bool) throws {
        guard try eventually(seconds: seconds, condition) else {
            let listing = (try? cluster.kubectl(["get", "pods", "-A", "-o", "wide"]).stdout) ?? ""
            Issue.record("""
                timed out waiting for \(what)
                \(listing)
                --- kubelet1:
                \(cluster.log("kubelet1").suffix(2000))
                --- kubelet2:
                \(cluster.log("kubelet2").suffix(2000))
                """)
            throw BedFailure("timed out waiting for \(what)")
        }
    }

    // MARK: Policies

    /// `kubectl apply` of a new policy, or `kubectl replace` of an existing one: a whole new
    /// spec, without depending on apply's merge of lists.
    func apply(_ manifest: String, replacing: Bool = false) throws {
        try cluster.kubectlOK([replacing ? "replace" : "apply", "-f", "-"], stdin: manifest)
    }

    /// Applies `manifest`, then requires `expected` within `convergence`. Returns whether it
    /// converged (a mismatch is recorded, and the next case still runs).
    @discardableResult
    func check(_ title: String, _ manifest: String, replacing: Bool = false, _ expected: TruthTables,
               sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        try apply(manifest, replacing: replacing)
        return try expectReachability(title, expected, context: manifest, sourceLocation: sourceLocation)
    }

    /// Deletes every NetworkPolicy in x, y and z and requires full reachability again; throws
    /// if it does not come back (the cases after it would mean nothing).
    func deleteAllPolicies(sourceLocation: SourceLocation = #_sourceLocation) throws {
        for namespace in ["x", "y", "z"] { try cluster.kubectlOK(["delete", "networkpolicy", "--all", "-n", namespace]) }
        try requireFullReachability("after deleting every NetworkPolicy", within: Self.convergence, sourceLocation: sourceLocation)
    }

    func requireFullReachability(_ title: String, within seconds: Double, sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard try expectReachability(title, .same(table(true)), within: seconds, sourceLocation: sourceLocation) else {
            throw BedFailure("\(title): not every pod reaches every pod")
        }
    }

    /// Probes rounds until the observed tables equal `expected` (and no prober had a problem)
    /// or `seconds` have passed; then records the tables side by side and the daemons' logs.
    @discardableResult
    func expectReachability(_ title: String, _ expected: TruthTables, within seconds: Double = PolicyBed.convergence,
                            context: String = "", sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
        let started = Date()
        var rounds = 0
        var observed = ObservedTables()
        repeat {
            observed = try observe(expected.targets)
            rounds += 1
            if observed.problems.isEmpty && expected.wrongCells(observed, ignoreLoopback: Self.ignoreLoopback) == 0 { return true }
        } while Date().timeIntervalSince(started) < seconds
        var text = "\(title): the observed reachability is still not the expected one after \(rounds) rounds "
            + "(\(String(format: "%.1f", Date().timeIntervalSince(started))) s)"
        if !context.isEmpty { text += "\n\(context)" }
        text += "\npods: " + pods.map { "\($0.key) node\($0.node) \($0.ip)" }.joined(separator: ", ")
        for (target, table) in expected.tables {
            guard let seen = observed.tables[target] else { continue }
            let wrong = table.wrongCells(seen, ignoreLoopback: Self.ignoreLoopback)
            guard wrong > 0 else { continue }
            text += "\n\n\(target): \(wrong) wrong\n" + Reachability.sideBySide(expected: table, observed: seen, ignoreLoopback: Self.ignoreLoopback)
        }
        if !observed.problems.isEmpty { text += "\n\nprober problems:\n" + observed.problems.prefix(20).joined(separator: "\n") }
        Issue.record(Comment(rawValue: text + diagnostics()), sourceLocation: sourceLocation)
        return false
    }

    /// The daemons' logs and the nodes' rulesets, for a failure's message.
    func diagnostics() -> String {
        var text = ""
        for i in 1...2 { text += "\n--- policy\(i) log (tail):\n\(cluster.log("policy\(i)").suffix(3000))" }
        for i in 1...2 {
            let rules = (try? cluster.node(i).run(["nft", "list", "ruleset"]).stdout) ?? ""
            text += "\n--- node\(i): nft list ruleset (head):\n\(rules.prefix(4000))"
        }
        return text
    }

    // MARK: Probing

    /// One round: every pod probes every pod on every target.
    func observe(_ targets: [Target]) throws -> ObservedTables {
        let probes = pods.flatMap { to in targets.map { ProbeKey(ip: to.ip, target: $0) } }
        let (answers, problems) = try runProbers(pods.map { (source: $0, probes: probes) })
        var observation = ObservedTables(problems: problems)
        for target in targets { observation.tables[target] = table(false) }
        for (source, answer) in zip(pods, answers) {
            for to in pods {
                for target in targets { observation.tables[target]?[source.key, to.key] = answer[ProbeKey(ip: to.ip, target: target)] ?? false }
            }
        }
        return observation
    }

    /// Probes each pair once (one prober per source, all at once) and describes every outcome
    /// that is not the expected one, and any prober problem. Empty: all as expected.
    func unexpected(_ checks: [(from: String, to: String, target: Target, connected: Bool)]) throws -> [String] {
        let sources = Array(Set(checks.map { $0.from })).sorted()
        var jobs: [(source: Pod, probes: [ProbeKey])] = []
        for source in sources {
            var probes: [ProbeKey] = []
            for check in checks where check.from == source { probes.append(ProbeKey(ip: try pod(check.to).ip, target: check.target)) }
            jobs.append((source: try pod(source), probes: probes))
        }
        let (answers, problems) = try runProbers(jobs)
        var wrong = problems
        for (job, answer) in zip(jobs, answers) {
            for check in checks where check.from == job.source.key {
                let destination = try pod(check.to)
                let got = answer[ProbeKey(ip: destination.ip, target: check.target)] ?? false
                if got != check.connected {
                    wrong.append("\(check.from) -> \(check.to) \(check.target): expected \(check.connected ? "allowed" : "blocked"), "
                                 + "observed \(got ? "allowed" : "blocked")")
                }
            }
        }
        return wrong
    }

    /// Starts one prober per job in its source pod's namespace, all before waiting for any, so
    /// a round takes about one probe timeout. Answers by job; problems: lines that are not
    /// results, failed probers, missing answers (each counted as blocked).
    private func runProbers(_ jobs: [(source: Pod, probes: [ProbeKey])]) throws -> (answers: [[ProbeKey: Bool]], problems: [String]) {
        var started: [(process: Process, output: Pipe)] = []
        defer {
            for s in started where s.process.isRunning { kill(s.process.processIdentifier, SIGKILL) }
            for s in started { s.process.waitUntilExit() }
        }
        for job in jobs {
            let list = job.probes.map { "[\"\($0.ip)\", \($0.target.port), \"\($0.target.proto.rawValue)\"]" }.joined(separator: ", ")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", job.source.netns, Self.python, "-c", PolicyScripts.prober, String(Self.probeTimeout), "[\(list)]"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            process.standardInput = FileHandle.nullDevice
            try process.run()
            started.append((process: process, output: output))
        }
        var answers: [[ProbeKey: Bool]] = []
        var problems: [String] = []
        // A prober prints under 2 KB (a pipe holds 64 KB): reading them one after the other
        // never holds the others back.
        for (job, s) in zip(jobs, started) {
            let text = String(decoding: s.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            s.process.waitUntilExit()
            var answer: [ProbeKey: Bool] = [:]
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 4, let port = Int(fields[1]), let proto = Proto(rawValue: String(fields[2])), ["ok", "fail"].contains(fields[3]) {
                    answer[ProbeKey(ip: String(fields[0]), target: Target(port: port, proto: proto))] = fields[3] == "ok"
                } else {
                    problems.append("prober in \(job.source.key): \(line)")
                }
            }
            if s.process.terminationStatus != 0 { problems.append("prober in \(job.source.key) exited \(s.process.terminationStatus)") }
            let missing = Set(job.probes).subtracting(answer.keys)
            if !missing.isEmpty { problems.append("prober in \(job.source.key) did not answer \(missing.count) of \(job.probes.count) probes") }
            answers.append(answer)
        }
        return (answers, problems)
    }

    /// A long-lived TCP connection from `from` to `to`:`port` (the echo server), writing a line
    /// every 100 ms and logging each echo, timeout or error.
    func openConnection(from: String, to: String, port: Int) throws -> OpenConnection {
        let source = try pod(from), destination = try pod(to)
        let log = "\(cluster.dir)/client-\(source.namespace)-\(source.name)-to-\(destination.namespace)-\(destination.name).log"
        let process = try startLogged("/usr/sbin/ip", ["netns", "exec", source.netns, Self.python, "-u", "-c", PolicyScripts.client,
                                                       destination.ip, String(port), "0.1", "0.5"], log: log)
        processes.append(process)
        return OpenConnection(process: process, log: log)
    }
}

/// The client of `PolicyBed.openConnection`, read through its log: "connected", then per line
/// "ok N", "timeout N", "bad N …" (a wrong echo) or "error N …" (and it exits).
fileprivate final class OpenConnection {
    let process: Process
    let log: String

    init(process: Process, log: String) {
        self.process = process
        self.log = log
    }

    /// The complete lines so far (not one still being written).
    var lines: [String] {
        var lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()
        return lines
    }

    var echoes: Int { lines.filter { $0.hasPrefix("ok ") }.count }
    var failures: [String] { lines.filter(Self.isFailure) }

    static func isFailure(_ line: String) -> Bool { line != "connected" && !line.hasPrefix("ok ") }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

// MARK: - The python3 programs run in pod namespaces

fileprivate enum PolicyScripts {
    /// argv: TCP ports, UDP ports, TCP echo ports (comma-separated). TCP: "ok\n" to each
    /// connection, then close (echo ports: then echo everything). UDP: "ok" to each datagram.
    /// Everything is bound before any thread starts, so ss shows all of it at once.
    static let server = #"""
        import socket, sys, threading

        def greet(conn, echo):
            with conn:
                try:
                    conn.sendall(b"ok\n")
                    while echo:
                        data = conn.recv(4096)
                        if not data:
                            break
                        conn.sendall(data)
                except OSError:
                    pass

        def serve_tcp(listener, echo):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=greet, args=(conn, echo), daemon=True).start()

        def serve_udp(sock):
            while True:
                try:
                    _, peer = sock.recvfrom(2048)
                    sock.sendto(b"ok", peer)
                except OSError:
                    pass

        tcp_ports = [int(p) for p in sys.argv[1].split(",")]
        udp_ports = [int(p) for p in sys.argv[2].split(",")]
        echo_ports = [int(p) for p in sys.argv[3].split(",")]
        workers = []
        for port in tcp_ports + echo_ports:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
            s.listen(128)
            workers.append(threading.Thread(target=serve_tcp, args=(s, port in echo_ports), daemon=True))
        for port in udp_ports:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", port))
            workers.append(threading.Thread(target=serve_udp, args=(s,), daemon=True))
        for w in workers:
            w.start()
        threading.Event().wait()
        """#

    /// argv: timeout (s), JSON list of [ip, port, "tcp"|"udp"]. All probes at once, one thread
    /// each; prints "ip port proto ok|fail" per probe. TCP: connect and read "ok" within the
    /// timeout. UDP: a connected socket, a datagram (again every third of the timeout), "ok"
    /// back within the timeout. A refusal (the enforcer's ICMP admin-prohibited, a reset) or a
    /// timeout is a "fail".
    static let prober = #"""
        import json, socket, sys, threading, time

        TIMEOUT = float(sys.argv[1])
        targets = json.loads(sys.argv[2])

        def tcp(ip, port):
            deadline = time.monotonic() + TIMEOUT
            s = socket.socket()
            try:
                s.settimeout(TIMEOUT)
                s.connect((ip, port))
                data = b""
                while b"\n" not in data:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    s.settimeout(left)
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    data += chunk
                return data.startswith(b"ok")
            except OSError:
                return False
            finally:
                s.close()

        def udp(ip, port):
            deadline = time.monotonic() + TIMEOUT
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.connect((ip, port))
                resend = 0.0
                while True:
                    now = time.monotonic()
                    if now >= deadline:
                        return False
                    if now >= resend:
                        s.send(b"probe")
                        resend = now + TIMEOUT / 3
                    s.settimeout(max(0.001, min(resend, deadline) - now))
                    try:
                        if s.recv(64).startswith(b"ok"):
                            return True
                    except socket.timeout:
                        pass
            except OSError:
                return False
            finally:
                s.close()

        results = [False] * len(targets)

        def run(i, ip, port, proto):
            results[i] = (tcp if proto == "tcp" else udp)(ip, port)

        threads = [threading.Thread(target=run, args=(i, *t), daemon=True) for i, t in enumerate(targets)]
        for t in threads:
            t.start()
        end = time.monotonic() + TIMEOUT + 2
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))
        for (ip, port, proto), ok in zip(targets, results):
            print(ip, port, proto, "ok" if ok else "fail")
        """#

    /// argv: ip, port, interval (s), echo timeout (s). Connects, reads the greeting, then
    /// writes "ping N" every interval and waits for its echo: prints "ok N", "timeout N",
    /// "bad N …" for a wrong echo, or "error N …" and exits.
    static let client = #"""
        import socket, sys, time

        ip, port, interval, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
        buffered = b""

        def line(conn):
            global buffered
            while b"\n" not in buffered:
                chunk = conn.recv(4096)
                if not chunk:
                    raise ConnectionError("closed by the server")
                buffered += chunk
            first, buffered = buffered.split(b"\n", 1)
            return first

        conn = socket.create_connection((ip, port), timeout=3)
        greeting = line(conn)
        print("connected" if greeting == b"ok" else "bad greeting %r" % greeting, flush=True)
        conn.settimeout(timeout)
        n = 0
        while True:
            n += 1
            started = time.monotonic()
            try:
                conn.sendall(b"ping %d\n" % n)
                echoed = line(conn)
                print("ok %d" % n if echoed == b"ping %d" % n else "bad %d %r" % (n, echoed), flush=True)
            except socket.timeout:
                print("timeout %d" % n, flush=True)
            except OSError as error:
                print("error %d %s" % (n, error), flush=True)
                break
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        """#
}
