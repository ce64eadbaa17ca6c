import APIMachinery
import ArgumentParser
import Foundation
import NFTables
import NetAddress
import Netlink
import PolicyCore

/// The NetworkPolicy enforcer at the issue's scale: 1000 policies over 2000 pods, all on one
/// node, against kube-router's iptables + ipset enforcement of the same objects, in one run.
///
/// - `policy-full`: the compiler built from every Namespace, Pod and NetworkPolicy, its
///   `fullTransaction()` and the commit into a fresh namespace (wall), against `ipset restore`
///   + `iptables-legacy-restore` of kube-router's rendering of the same verdicts into another
///   fresh namespace (both commands, summed; rendering the text is not timed). Target: ≤ 1 s.
/// - `policy-change`: one pod's `app` label flips (it leaves one policy's selection and one
///   rule's peers, and joins another's of each), `changes` times alternating: `update(pod:)`
///   + `commit` into the kernel holding the full ruleset, against what kube-router does on
///   any change: `ipset restore` of the sets whose members changed, then
///   `iptables-legacy-restore` of its whole filter table (its chains are renamed on every
///   sync). Median in ms. Target: ≤ 10 ms. kube-router actually restores every set on a
///   sync; that variant is printed on the info line (`all sets`).
/// - `policy-datapath`: connect + close (RST) p50 from the client pod to the server pod, both
///   on a Linux bridge in a node namespace (br_netfilter passes bridged IPv4 through the
///   forward hook, as on a flannel/bridge node), with the full 1000-policy ruleset loaded
///   (the server selected by five policies, the last of which in rule order allows the
///   client; the client selected by three, one isolating its egress) against the same bed
///   without any table. Rounds alternate the two states; the median of the rounds' p50s is
///   reported. Target: with / without ≤ 1.1. The same measurement with kube-router's ruleset
///   (iptables-legacy, every new packet walking KUBE-ROUTER-FORWARD's per-pod jumps) is
///   printed for information.
///
/// Every namespace is created by this command (`np-bench-pol-*-<pid>`) and deleted when it
/// ends, also on failure; nothing touches the root namespace's network. Pods use
/// 10.244.0.0/16. `RESULT` lines use the suite's contract (ratio = anchor / netplane, bigger
/// is better for Netplane) and add `netplane_over_anchor=` (the issue's targets are written
/// that way round).
struct PolicyBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy",
        abstract: "NetworkPolicy at 1000 policies × 2000 pods: full load, one label change, connection setup; vs kube-router's iptables+ipset shape.")

    @Option(help: "Namespaces (the pods are spread evenly over them).") var namespaces = 20
    @Option(help: "Pods per namespace (even: two pods per app).") var podsPerNamespace = 100
    @Option(help: "NetworkPolicies.") var policies = 1000
    @Option(help: "Label changes timed, alternating between the two labels (the median is reported).") var changes = 20
    @Option(help: "Connections per data-path sample.") var connects = 3000
    @Option(help: "Data-path rounds, each without and then with the policies (the median of the rounds is reported).") var rounds = 3
    @Option(help: "Seed of the workload's random choices.") var seed: UInt64 = 1

    func validate() throws {
        guard (8...250).contains(namespaces) else { throw ValidationError("--namespaces: 8 to 250") }
        guard (8...250).contains(podsPerNamespace), podsPerNamespace % 2 == 0 else {
            throw ValidationError("--pods-per-namespace: even, 8 to 250")
        }
        guard policies >= 8 * namespaces else {
            throw ValidationError("--policies: at least 8 per namespace (the measured pods' own policies come first)")
        }
        guard changes > 0, connects > 0, rounds > 0 else { throw ValidationError("--changes, --connects, --rounds: at least 1") }
    }

    func run() throws {
        let workload = Workload(namespaces: namespaces, podsPerNamespace: podsPerNamespace, policies: policies, seed: seed)
        // kube-router's rendering before and after the label change (the version token renames
        // its chains, as every kube-router sync does).
        let before = KubeRouterShape(workload, pods: workload.pods, version: "a")
        let after = KubeRouterShape(workload, pods: workload.movedPods, version: "b")
        let scratch = Scratch()
        defer { scratch.removeAll() }
        let files = try AnchorFiles(before: before, after: after, scratch: scratch)

        let entries = before.sets.values.reduce(0) { $0 + $1.entries.count }
        print("policy: \(workload.pods.count) pods in \(namespaces) namespaces on one node, \(workload.policies.count) policies (seed \(seed)); "
              + "kube-router shape: \(before.ruleCount) iptables rules in \(before.chainCount) chains, \(before.sets.count) ipsets with \(entries) entries")
        print("  server \(workload.server.key) \(workload.server.ips[0]) selected by \(workload.selecting(workload.server).count) policies; "
              + "client \(workload.client.key) \(workload.client.ips[0]) by \(workload.selecting(workload.client).count); "
              + "label change on \(workload.mover.key): app \(workload.mover.labels["app"]!) <-> \(workload.moved.labels["app"]!), "
              + "selected by \(workload.selecting(workload.mover).map(\.key.name)) <-> \(workload.selecting(workload.moved).map(\.key.name)), "
              + "\(files.changedSets) kube-router sets change")

        try Self.inNamespaces(["nft", "kr"]) { names in
            var compiler = try full(workload, before: before, files: files, netplane: names[0], anchor: names[1])
            try change(workload, compiler: &compiler, files: files, netplane: names[0], anchor: names[1])
        }
        waitForIdleKernel()
        try datapath(workload, files: files)
    }

    // MARK: - Full load

    /// `policy-full`; returns the compiler, which knows what the netplane namespace holds.
    func full(_ workload: Workload, before: KubeRouterShape, files: AnchorFiles, netplane ns: String, anchor krNS: String) throws -> PolicyCompiler {
        let socket = try NFTSocket(namespacePath: "/run/netns/\(ns)")
        waitForIdleKernel()
        var built: PolicyCompiler?
        var compileSeconds = 0.0, operations = 0
        let netplane = try measureInProcess {
            let start = now()
            var compiler = workload.compiler(pods: workload.pods)
            let transaction = compiler.fullTransaction()
            compileSeconds = now() - start
            operations = transaction.count
            try socket.commit(transaction)
            built = compiler
        }
        guard let compiler = built else { throw ValidationError("the compiler was not built") }
        let table = compiler.tables[0]
        let kernelChains = try socket.chains(in: table).count, kernelRules = try socket.rules(in: table).count

        waitForIdleKernel()
        let ipset = try measureCommand(["ip", "netns", "exec", krNS, "ipset", "restore", "-exist"], stdinFile: files.allSetsBefore)
        let iptables = try measureCommand(["ip", "netns", "exec", krNS, "iptables-legacy-restore", "--wait", "-T", "filter", files.filterBefore])
        let anchor = ipset.wall + iptables.wall
        try Self.checkAnchor(in: krNS, holds: before)

        print("policy-full: netplane \(netplane.summary) (compile \(String(format: "%.3f", compileSeconds)) s, \(operations) operations; "
              + "\(compiler.isolatedPodCount) isolated pods, \(compiler.ruleCount) rules; kernel: \(kernelChains) chains, \(kernelRules) rules in ip \(table.name))")
        print("  kube-router: ipset restore \(ipset.summary) + iptables-legacy-restore \(iptables.summary)")
        printResult("policy-full", netplane: netplane.wall, anchor: anchor, unit: "s",
                    extra: String(format: "netplane_over_anchor=%.3f target_netplane_s=1 compile_s=%.3f anchor_ipset_s=%.3f anchor_iptables_s=%.3f",
                                  anchor > 0 ? netplane.wall / anchor : 0, compileSeconds, ipset.wall, iptables.wall))
        return compiler
    }

    /// The anchor's namespace holds every rule and set it was given (a restore that skipped
    /// something would make the anchor look cheaper than it is).
    static func checkAnchor(in ns: String, holds shape: KubeRouterShape) throws {
        let saved = try ProxyBench.output(["ip", "netns", "exec", ns, "iptables-legacy-save", "-t", "filter"])
        let rules = saved.split(separator: "\n").filter { $0.hasPrefix("-A ") }.count
        let sets = try ProxyBench.output(["ip", "netns", "exec", ns, "ipset", "list", "-n"]).split(separator: "\n").count
        guard rules == shape.ruleCount, sets == shape.sets.count else {
            throw ValidationError("kube-router shape: \(ns) holds \(rules) rules and \(sets) sets, not \(shape.ruleCount) and \(shape.sets.count)")
        }
    }

    // MARK: - One label change

    /// `policy-change`, on the namespaces `full` loaded.
    func change(_ workload: Workload, compiler: inout PolicyCompiler, files: AnchorFiles, netplane ns: String, anchor krNS: String) throws {
        let socket = try NFTSocket(namespacePath: "/run/netns/\(ns)")
        var netplane: [Double] = [], operations: [Double] = [], anchor: [Double] = [], anchorAllSets: [Double] = []
        waitForIdleKernel()
        for i in 0..<changes {
            let forward = i % 2 == 0
            let pod = forward ? workload.moved : workload.mover
            var count = 0
            // The daemon's informer hands over the changed pod; the compiler sends the difference.
            let cost = try measureInProcess {
                compiler.update(pod: pod)
                try compiler.commit { (transaction: Transaction) throws(NFTablesError) in
                    count = transaction.count
                    try socket.commit(transaction)
                }
            }
            guard count > 0 else { throw ValidationError("the label change of \(pod.key) produced no transaction") }
            netplane.append(cost.wall * 1000)
            operations.append(Double(count))

            // kube-router: the changed sets swapped in, then the whole filter table rewritten.
            let sets = try measureCommand(["ip", "netns", "exec", krNS, "ipset", "restore", "-exist"],
                                          stdinFile: forward ? files.changedSetsToAfter : files.changedSetsToBefore)
            let table = try measureCommand(["ip", "netns", "exec", krNS, "iptables-legacy-restore", "--wait", "-T", "filter",
                                            forward ? files.filterAfter : files.filterBefore])
            anchor.append((sets.wall + table.wall) * 1000)
            // What a kube-router sync really restores: every set.
            let all = try measureCommand(["ip", "netns", "exec", krNS, "ipset", "restore", "-exist"],
                                         stdinFile: forward ? files.allSetsAfter : files.allSetsBefore)
            anchorAllSets.append((all.wall + table.wall) * 1000)
        }
        func ms(_ xs: [Double]) -> String { xs.map { String(format: "%.2f", $0) }.joined(separator: " ") }
        print("policy-change: \(changes) label changes of \(workload.mover.key), median \(Int(median(operations))) operations per commit")
        print("  netplane ms [\(ms(netplane))]")
        print("  kube-router (changed sets + filter table) ms [\(ms(anchor))]")
        print("  kube-router (all sets + filter table, as its sync does) ms [\(ms(anchorAllSets))]")
        printResult("policy-change", netplane: median(netplane), anchor: median(anchor), unit: "ms",
                    extra: String(format: "netplane_over_anchor=%.4f target_netplane_ms=10 anchor_all_sets_ms=%.2f",
                                  median(anchor) > 0 ? median(netplane) / median(anchor) : 0, median(anchorAllSets)))
    }

    // MARK: - Data path

    /// `policy-datapath`: a node namespace with a bridge, the server and client pods on it at
    /// their workload addresses, a listener on 8080 (allowed) and 9090 (allowed by no policy)
    /// in the server.
    func datapath(_ workload: Workload, files: AnchorFiles) throws {
        let server = workload.server.ips[0].description, client = workload.client.ips[0].description
        try Self.inNamespaces(["node", "srv", "cli"]) { names in
            let (node, srv, cli) = (names[0], names[1], names[2])
            try Self.buildBed(node: node, pods: [(srv, server), (cli, client)])
            let clientNS = try NetNS.open(name: cli)
            let listener = try Listener(in: NetNS.open(name: srv), ports: [8080, 9090])
            defer { listener.stop() }

            /// p50 seconds of connect + close to the server's 8080, after a warm-up.
            func p50() throws -> Double {
                _ = try Self.connectTimes(from: clientNS, to: server, port: 8080, count: min(200, connects))
                return median(try Self.connectTimes(from: clientNS, to: server, port: 8080, count: connects))
            }
            func refused(_ state: String) throws {
                let e = try Self.probe(from: clientNS, to: server, port: 9090)
                guard e != 0 else { throw ValidationError("\(state): \(client) reached \(server):9090, which no policy allows (policies not enforced on bridged traffic?)") }
            }
            guard try Self.probe(from: clientNS, to: server, port: 9090) == 0 else {
                throw ValidationError("no policy: \(client) cannot reach \(server):9090")
            }

            let socket = try NFTSocket(namespacePath: "/run/netns/\(node)")
            var compiler = workload.compiler(pods: workload.pods)
            var idle = workload.compiler(pods: workload.pods, withPolicies: false)
            // Three states per round: no table at all (the kernel's floor: conntrack is not even
            // on in the namespace), the enforcer with no NetworkPolicy (its tables loaded and
            // empty: conntrack on, as it is on any node where the service proxy runs), and the
            // 1000 policies. The ratio the target names is the last against the second.
            //
            // This machine's timing drifts by tens of percent within seconds (a shared virtual
            // machine), so the states alternate in short slices, many times, and each state's
            // figure is the median over all its connections: drift falls on all three alike.
            var bare: [Double] = [], without: [Double] = [], withPolicies: [Double] = []
            var dropTables = Transaction()
            for table in compiler.tables { dropTables.delete(table) }
            let idleTables = idle.fullTransaction(), policyTables = compiler.fullTransaction()
            let slices = max(1, rounds) * 8, perSlice = max(50, connects / 8)
            _ = try Self.connectTimes(from: clientNS, to: server, port: 8080, count: 200)
            waitForIdleKernel()
            for slice in 0..<slices {
                bare += try Self.connectTimes(from: clientNS, to: server, port: 8080, count: perSlice)
                try socket.commit(idleTables)
                without += try Self.connectTimes(from: clientNS, to: server, port: 8080, count: perSlice)
                try socket.commit(policyTables)
                if slice == 0 { try refused("netplane") }
                withPolicies += try Self.connectTimes(from: clientNS, to: server, port: 8080, count: perSlice)
                try socket.commit(dropTables)
            }

            // kube-router's ruleset in the same bed, for information (iptables-legacy's hooks
            // stay registered once used, so it goes last).
            _ = try measureCommand(["ip", "netns", "exec", node, "ipset", "restore", "-exist"], stdinFile: files.allSetsBefore)
            _ = try measureCommand(["ip", "netns", "exec", node, "iptables-legacy-restore", "--wait", "-T", "filter", files.filterBefore])
            try refused("kube-router")
            let kubeRouter = try p50()

            let none = median(without), netplane = median(withPolicies)
            func us(_ xs: [Double]) -> String {
                String(format: "p50 %.1f (p25 %.1f, p75 %.1f)", median(xs) * 1e6, Self.quantile(xs, 0.25) * 1e6, Self.quantile(xs, 0.75) * 1e6)
            }
            print("policy-datapath: connect+close \(client) -> \(server):8080 over a bridge, \(slices) alternations of \(perSlice) connections per state")
            print("  no table at all (floor, no conntrack) µs [\(us(bare))]; netplane, no policy µs [\(us(without))]; netplane, \(workload.policies.count) policies µs [\(us(withPolicies))]")
            print(String(format: "  info: kube-router shape (iptables-legacy + ipset) p50 %.1f µs, %.2f× no policy; netplane %.2f× no policy, %.2f× no table at all",
                         kubeRouter * 1e6, none > 0 ? kubeRouter / none : 0, none > 0 ? netplane / none : 0,
                         median(bare) > 0 ? netplane / median(bare) : 0))
            printResult("policy-datapath", netplane: netplane * 1e6, anchor: none * 1e6, unit: "us",
                        extra: String(format: "netplane_over_anchor=%.3f target_netplane_over_anchor=1.1", none > 0 ? netplane / none : 0))
        }
    }

    static func quantile(_ xs: [Double], _ q: Double) -> Double {
        let sorted = xs.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    /// The node: a bridge with the pod network's gateway address (so rejections can be routed
    /// back), bridged IPv4 passed through the IP hooks; each pod a veth on it, `/16` on-link.
    static func buildBed(node: String, pods: [(ns: String, address: String)]) throws {
        try ProxyBench.sh(["ip", "-n", node, "link", "set", "lo", "up"])
        try ProxyBench.sh(["ip", "-n", node, "link", "add", "br-pods", "type", "bridge"])
        try ProxyBench.sh(["ip", "-n", node, "addr", "add", "10.244.255.254/16", "dev", "br-pods"])
        try ProxyBench.sh(["ip", "-n", node, "link", "set", "br-pods", "up"])
        let nodeNS = try NetNS.open(name: node)
        if try Sysctl.get("net/bridge/bridge-nf-call-iptables", in: nodeNS) != "1" {
            try Sysctl.set("net/bridge/bridge-nf-call-iptables", "1", in: nodeNS)
        }
        for (i, pod) in pods.enumerated() {
            let port = "veth-pod\(i)"
            try ProxyBench.sh(["ip", "-n", node, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", pod.ns])
            try ProxyBench.sh(["ip", "-n", node, "link", "set", port, "master", "br-pods", "up"])
            try ProxyBench.sh(["ip", "-n", pod.ns, "link", "set", "lo", "up"])
            try ProxyBench.sh(["ip", "-n", pod.ns, "addr", "add", "\(pod.address)/16", "dev", "eth0"])
            try ProxyBench.sh(["ip", "-n", pod.ns, "link", "set", "eth0", "up"])
        }
    }

    /// A TCP socket that resets on close (no TIME_WAIT pile-up) and gives up connecting after 2 s.
    static func clientSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("socket: errno \(errno)") }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func address(_ ip: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(ip)
        return address
    }

    static func connect(_ fd: Int32, _ address: inout sockaddr_in) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Seconds of `count` connect + close from inside `namespace` to `ip:port`.
    static func connectTimes(from namespace: NetNS, to ip: String, port: UInt16, count: Int) throws -> [Double] {
        try namespace.run {
            var target = address(ip, port)
            var times: [Double] = []
            times.reserveCapacity(count)
            for _ in 0..<count {
                let fd = try clientSocket()
                let start = now()
                let rc = connect(fd, &target)
                let failure = errno
                close(fd)
                let elapsed = now() - start
                guard rc == 0 else { throw ValidationError("connect to \(ip):\(port) failed: errno \(failure)") }
                times.append(elapsed)
            }
            return times
        }
    }

    /// 0 when a connection to `ip:port` from inside `namespace` is accepted, else the errno.
    static func probe(from namespace: NetNS, to ip: String, port: UInt16) throws -> Int32 {
        try namespace.run {
            let fd = try clientSocket()
            defer { close(fd) }
            var target = address(ip, port)
            return connect(fd, &target) == 0 ? 0 : errno
        }
    }

    /// Creates `np-bench-pol-<label>-<pid>` for each label, runs `body` with their names, and
    /// deletes them afterwards, also when `body` throws.
    static func inNamespaces<T>(_ labels: [String], _ body: ([String]) throws -> T) throws -> T {
        var made: [String] = []
        defer { for name in made.reversed() { try? NetNS.delete(name: name) } }
        for label in labels {
            let name = "np-bench-pol-\(label)-\(getpid())"
            try NetNS.create(name: name)
            made.append(name)
        }
        return try body(made)
    }
}

// MARK: - Server

extension PolicyBench {
    /// Listening sockets opened inside the server pod's namespace (they stay bound to it), served
    /// by a thread of this process that accepts and closes every connection.
    final class Listener: Sendable {
        let fds: [Int32]
        let stopping = Locked(false)
        let finished = Locked(false)

        init(in namespace: NetNS, ports: [UInt16]) throws {
            fds = try namespace.run { try ports.map(Self.listen) }
            let fds = self.fds, stopping = self.stopping, finished = self.finished
            Thread {
                Self.serve(fds, until: stopping)
                finished.withLock { $0 = true }
            }.start()
        }

        static func listen(_ port: UInt16) throws -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { throw ValidationError("socket: errno \(errno)") }
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            var address = PolicyBench.address("0.0.0.0", port)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, Glibc.listen(fd, 4096) == 0 else {
                let e = errno
                close(fd)
                throw ValidationError("listen on port \(port): errno \(e)")
            }
            return fd
        }

        static func serve(_ fds: [Int32], until stopping: Locked<Bool>) {
            var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            while !stopping.withLock({ $0 }) {
                guard poll(&polled, nfds_t(polled.count), 100) > 0 else { continue }
                for entry in polled where entry.revents & Int16(POLLIN) != 0 {
                    // Non-blocking: take every queued connection, then poll again.
                    while true {
                        let connection = accept(entry.fd, nil, nil)
                        guard connection >= 0 else { break }
                        close(connection)
                    }
                }
            }
        }

        func stop() {
            stopping.withLock { $0 = true }
            while !finished.withLock({ $0 }) { usleep(10_000) }
            fds.forEach { close($0) }
        }
    }
}

// MARK: - Workload

extension PolicyBench {
    /// The issue's objects, deterministic for a seed: namespaces `ns<n>` (team `team<n % 5>`),
    /// pods `pod-<g>` with `app=app<g/2>` (two pods per app) and `tier` web/db/cache by app, at
    /// 10.244.<n>.<i+2>, all on one node; policies `np-<p>` in namespace `p % namespaces`, each
    /// selecting one app, with one ingress rule from `tier=web` pods of its namespace (60%) or a
    /// namespaceSelector + podSelector pair naming an app elsewhere, on TCP 80 + 8080, 8080, or
    /// 8080-8090 (endPort); 10% add an ipBlock peer with an except, 10% add egress rules (to
    /// `tier=db` on 5432, DNS anywhere).
    ///
    /// Twelve policies are fixed. In the middle namespace (where the measured pods sit, so they
    /// are also in the middle of kube-router's per-pod jump list) the first eight: five selecting
    /// the server (the last by name allows `tier=web`, the client, on 8080; the other four do
    /// not allow the client on 8080), three selecting the client (one isolates its egress,
    /// allowing the server's app on 8080 and DNS). Around the pod whose label changes
    /// (`mover`, first pod of namespace `namespaces/4`): the first two policies of its
    /// namespace select its app before and after the change; the first two of the next
    /// namespace have a rule whose peers are its app before and after. The random policies
    /// never select these four apps, so the counts are exact.
    struct Workload {
        static let nodeName = "np-bench-node"
        static let tiers = ["web", "db", "cache"]

        let namespaceLabels: [(name: String, labels: [String: String])]
        let pods: [PolicyPod]
        /// Sorted by key (the compiler's and kube-router's chains list them in this order).
        let policies: [ParsedPolicy]
        let server: PolicyPod, client: PolicyPod
        /// The pod whose label changes, before and after.
        let mover: PolicyPod, moved: PolicyPod

        var movedPods: [PolicyPod] { pods.map { $0.key == mover.key ? moved : $0 } }

        static func namespace(_ n: Int) -> String { "ns\(n)" }
        static func team(_ n: Int) -> String { "team\(n % 5)" }
        static func tier(_ g: Int) -> String { tiers[(g / 2) % 3] }

        static func selector(_ labels: [String: String]) -> LabelSelector {
            LabelSelector(requirements: labels.sorted { $0.key < $1.key }.map {
                LabelSelector.Requirement(key: $0.key, op: .equals, values: [$0.value])
            })
        }

        init(namespaces: Int, podsPerNamespace perNamespace: Int, policies count: Int, seed: UInt64) {
            let appsPerNamespace = perNamespace / 2
            func pod(_ g: Int, app: Int? = nil) -> PolicyPod {
                let n = g / perNamespace, i = g % perNamespace
                return PolicyPod(key: ObjectKey(Self.namespace(n), "pod-\(g)"),
                                 labels: ["app": "app\(app ?? g / 2)", "tier": Self.tier(g)],
                                 ips: [.v4(IPv4Address(10, 244, UInt8(n), UInt8(i + 2)))], nodeName: Self.nodeName)
            }
            let allPods = (0..<namespaces * perNamespace).map { pod($0) }
            pods = allPods
            namespaceLabels = (0..<namespaces).map {
                (name: Self.namespace($0), labels: ["kubernetes.io/metadata.name": Self.namespace($0), "team": Self.team($0)])
            }

            // The measured pods sit in the middle namespace (the middle of kube-router's
            // per-pod jump list); the mover in another.
            let mid = namespaces / 2, moverNamespace = namespaces / 4, peerNamespace = moverNamespace + 1
            let serverIndex = mid * perNamespace
            let clientIndex = stride(from: serverIndex + 2, to: serverIndex + perNamespace, by: 2).first { Self.tier($0) == "web" }!
            let moverIndex = moverNamespace * perNamespace
            server = allPods[serverIndex]
            client = allPods[clientIndex]
            mover = allPods[moverIndex]
            moved = pod(moverIndex, app: moverIndex / 2 + 1)
            let serverApp = serverIndex / 2, clientApp = clientIndex / 2, appBefore = moverIndex / 2, appAfter = moverIndex / 2 + 1

            let width = String(count - 1).count
            func key(_ p: Int) -> ObjectKey {
                let digits = String(p)
                return ObjectKey(Self.namespace(p % namespaces), "np-" + String(repeating: "0", count: width - digits.count) + digits)
            }
            func tcp(_ first: UInt16, _ last: UInt16? = nil) -> PolicyPort { PolicyPort(.tcp, .range(first, last ?? first)) }
            func tierPeer(_ tier: String) -> Peer { .pods(pods: Self.selector(["tier": tier]), namespaces: nil) }
            func appPeer(_ app: Int, team: Int? = nil) -> Peer {
                .pods(pods: Self.selector(["app": "app\(app)"]), namespaces: team.map { Self.selector(["team": Self.team($0)]) })
            }
            func policy(_ p: Int, app: Int, ingress: [PolicyRule], egress: [PolicyRule]? = nil) -> ParsedPolicy {
                var rules: [Direction: [PolicyRule]] = [.ingress: ingress]
                if let egress { rules[.egress] = egress }
                return ParsedPolicy(key: key(p), podSelector: Self.selector(["app": "app\(app)"]), rules: rules)
            }
            let dns = PolicyRule(peers: [], ports: [PolicyPort(.udp, .range(53, 53))])
            let nth = { (n: Int, k: Int) in n + k * namespaces }

            var fixed: [Int: ParsedPolicy] = [:]
            // The server's five; only the last allows the client (tier=web) on 8080.
            fixed[nth(mid, 0)] = policy(nth(mid, 0), app: serverApp, ingress: [PolicyRule(peers: [tierPeer("db")], ports: [tcp(8080)])])
            fixed[nth(mid, 1)] = policy(nth(mid, 1), app: serverApp, ingress: [PolicyRule(peers: [tierPeer("web")], ports: [tcp(80)])])
            fixed[nth(mid, 2)] = policy(nth(mid, 2), app: serverApp, ingress: [PolicyRule(
                peers: [.ipBlock(cidr: try! IPPrefix("192.168.0.0/16"), except: [try! IPPrefix("192.168.1.0/24")])], ports: [tcp(8080)])])
            fixed[nth(mid, 3)] = policy(nth(mid, 3), app: serverApp, ingress: [PolicyRule(
                peers: [.pods(pods: Self.selector(["tier": "web"]), namespaces: Self.selector(["team": Self.team(mid + 1)]))], ports: [tcp(8080, 8090)])])
            fixed[nth(mid, 4)] = policy(nth(mid, 4), app: serverApp, ingress: [PolicyRule(peers: [tierPeer("web")], ports: [tcp(8080)])])
            // The client's three; the last isolates its egress too.
            fixed[nth(mid, 5)] = policy(nth(mid, 5), app: clientApp, ingress: [PolicyRule(peers: [tierPeer("web")], ports: [tcp(80), tcp(8080)])])
            fixed[nth(mid, 6)] = policy(nth(mid, 6), app: clientApp, ingress: [PolicyRule(
                peers: [.pods(pods: Self.selector(["tier": "cache"]), namespaces: Self.selector(["team": Self.team(mid)]))], ports: [tcp(8080)])])
            fixed[nth(mid, 7)] = policy(nth(mid, 7), app: clientApp, ingress: [PolicyRule(peers: [tierPeer("db")], ports: [tcp(80)])],
                                        egress: [PolicyRule(peers: [appPeer(serverApp)], ports: [tcp(8080)]), dns])
            // The mover's: its selection before and after, and peers naming it before and after.
            fixed[nth(moverNamespace, 0)] = policy(nth(moverNamespace, 0), app: appBefore,
                                                   ingress: [PolicyRule(peers: [tierPeer("web")], ports: [tcp(8080)])])
            fixed[nth(moverNamespace, 1)] = policy(nth(moverNamespace, 1), app: appAfter,
                                                   ingress: [PolicyRule(peers: [tierPeer("web")], ports: [tcp(80)])],
                                                   egress: [PolicyRule(peers: [tierPeer("db")], ports: [tcp(5432)])])
            let peerApp = peerNamespace * appsPerNamespace
            fixed[nth(peerNamespace, 0)] = policy(nth(peerNamespace, 0), app: peerApp,
                                                  ingress: [PolicyRule(peers: [appPeer(appBefore, team: moverNamespace)], ports: [tcp(8080)])])
            fixed[nth(peerNamespace, 1)] = policy(nth(peerNamespace, 1), app: peerApp + 1,
                                                  ingress: [PolicyRule(peers: [appPeer(appAfter, team: moverNamespace)], ports: [tcp(8080)])])

            // The rest at random; they leave the measured pods' and the mover's apps alone, so
            // the counts above are exact.
            var rng = SplitMix64(state: seed)
            let reserved: Set<Int> = [serverApp, clientApp, appBefore, appAfter]
            var all: [ParsedPolicy] = []
            for p in 0..<count {
                if let policy = fixed[p] {
                    all.append(policy)
                    continue
                }
                let n = p % namespaces
                let apps = (n * appsPerNamespace)..<((n + 1) * appsPerNamespace)
                var app = Int.random(in: apps, using: &rng)
                while reserved.contains(app) { app = Int.random(in: apps, using: &rng) }
                var peers: [Peer]
                if Double.random(in: 0..<1, using: &rng) < 0.6 {
                    peers = [tierPeer("web")]
                } else {
                    let m = Int.random(in: 0..<namespaces, using: &rng)
                    peers = [appPeer(Int.random(in: (m * appsPerNamespace)..<((m + 1) * appsPerNamespace), using: &rng), team: m)]
                }
                if Double.random(in: 0..<1, using: &rng) < 0.1 {
                    let a = Int.random(in: 0..<256, using: &rng), b = Int.random(in: 0..<16, using: &rng)
                    peers.append(.ipBlock(cidr: try! IPPrefix("192.168.\(a).0/24"), except: [try! IPPrefix("192.168.\(a).\(b * 16)/28")]))
                }
                let r = Double.random(in: 0..<1, using: &rng)
                let ports = r < 0.2 ? [tcp(8080, 8090)] : r < 0.6 ? [tcp(80), tcp(8080)] : [tcp(8080)]
                let egress: [PolicyRule]? = Double.random(in: 0..<1, using: &rng) < 0.1
                    ? [PolicyRule(peers: [tierPeer("db")], ports: [tcp(5432)]), dns] : nil
                all.append(policy(p, app: app, ingress: [PolicyRule(peers: peers, ports: ports)], egress: egress))
            }
            policies = all.sorted { $0.key < $1.key }
        }

        /// A compiler fed every object, as the daemon's full pass does.
        func compiler(pods: [PolicyPod], withPolicies: Bool = true) -> PolicyCompiler {
            var compiler = PolicyCompiler(options: .init(nodeName: Self.nodeName))
            for (name, labels) in namespaceLabels { compiler.update(namespace: name, labels: labels) }
            for pod in pods { compiler.update(pod: pod) }
            for policy in policies where withPolicies { compiler.update(policy: policy) }
            return compiler
        }

        func selecting(_ pod: PolicyPod) -> [ParsedPolicy] { policies.filter { $0.selects(pod) } }
    }

    /// SplitMix64: a small seeded generator, so the workload is the same in every run.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

// MARK: - The anchor: kube-router's iptables + ipset shape

extension PolicyBench {
    /// kube-router's NetworkPolicy enforcement in iptables mode (pkg/controllers/netpol), IPv4,
    /// for the same objects, as the text its full sync hands to `ipset restore -exist` and
    /// `iptables-restore -T filter`:
    ///
    /// - INPUT/FORWARD/OUTPUT jump to KUBE-ROUTER-INPUT/FORWARD/OUTPUT, which hold, per local
    ///   pod, `-d IP` and `-s IP` jumps to its KUBE-POD-FW-<hash> chain (FORWARD twice more
    ///   with `-m physdev --physdev-is-bridged`), and end accepting packets marked 0x20000.
    /// - KUBE-POD-FW-<hash>: KUBE-NWPLCY-COMMON (conntrack INVALID drop, RELATED,ESTABLISHED
    ///   accept, ICMP), local-node accept, KUBE-NWPLCY-DEFAULT for a direction no policy
    ///   isolates, a jump per policy selecting the pod (`-d IP` ingress, `-s IP` egress, none
    ///   for both), then NFLOG and REJECT of packets no policy marked 0x10000, clear 0x10000,
    ///   mark 0x20000.
    /// - KUBE-NWPLCY-<hash> per policy: per rule and port `-m set --match-set <peers> src -m set
    ///   --match-set <selected> dst -p tcp --dport N -j MARK --set-xmark 0x10000/0x10000` and
    ///   the same match `-m mark --mark 0x10000/0x10000 -j RETURN` (egress: selected src, peers dst).
    /// - hash:ip sets KUBE-DST-/KUBE-SRC-<hash> per policy (its pods) and per rule (its peer
    ///   pods), hash:net sets per rule's ipBlocks (excepts as `nomatch`), all `timeout 0`,
    ///   loaded through a TMP set and `swap` as kube-router's BuildIPSetRestore writes them.
    ///
    /// kube-router lists the policy jumps of a pod chain in its informer's order; here they go
    /// in name order, as Netplane's chain lines do, so the rule that allows the measured client
    /// is the last on both sides. Hashes are FNV-1a (16 hex digits) where kube-router uses
    /// SHA-256 in base32: names of the same length.
    struct KubeRouterShape {
        struct SetSpec: Equatable {
            var name: String
            var type: String
            var entries: [String]
            var options: String { "\(type) family inet hashsize 1024 maxelem 65536 timeout 0" }
        }

        private(set) var sets: [String: SetSpec] = [:]
        private var chains: [String] = [":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        private var rules: [String] = []
        private var input: [String] = [], forward: [String] = [], output: [String] = []

        /// `-A` lines.
        var ruleCount: Int { rules.count + input.count + forward.count + output.count }
        /// Chains besides the built-in ones.
        var chainCount: Int { chains.count - 3 }

        /// The filter table as `iptables-restore -T filter` reads it.
        var filter: String {
            (["*filter"] + chains + rules + input + forward + output + ["COMMIT"]).joined(separator: "\n") + "\n"
        }

        static func hash(_ text: String) -> String {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0100_0000_01B3 }
            let hex = String(h, radix: 16, uppercase: true)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }

        static func ipv4(_ pod: PolicyPod) -> String? { pod.ips.first { $0.isIPv4 }?.description }

        init(_ workload: Workload, pods: [PolicyPod], version: String) {
            let labels = Dictionary(uniqueKeysWithValues: workload.namespaceLabels.map { ($0.name, $0.labels) })
            let namespaceLabels = { (name: String) in labels[name] ?? ["kubernetes.io/metadata.name": name] }
            let podsByNamespace = Dictionary(grouping: pods, by: \.key.namespace)
            let local = pods.filter { $0.nodeName == Workload.nodeName }

            for (builtin, chain) in [("INPUT", "KUBE-ROUTER-INPUT"), ("FORWARD", "KUBE-ROUTER-FORWARD"), ("OUTPUT", "KUBE-ROUTER-OUTPUT")] {
                chains.append(":\(chain) - [0:0]")
                rules.append("-A \(builtin) -m comment --comment \"kube-router netpol - \(Self.hash(builtin + chain))\" -j \(chain)")
            }
            input = [
                "-A KUBE-ROUTER-INPUT -d 10.96.0.0/12 -m comment --comment \"allow traffic to primary/secondary cluster IP range - \(Self.hash("vip"))\" -j RETURN",
                "-A KUBE-ROUTER-INPUT -p tcp -m comment --comment \"allow LOCAL TCP traffic to node ports - \(Self.hash("tcp"))\" -m addrtype --dst-type LOCAL -m multiport --dports 30000:32767 -j RETURN",
                "-A KUBE-ROUTER-INPUT -p udp -m comment --comment \"allow LOCAL UDP traffic to node ports - \(Self.hash("udp"))\" -m addrtype --dst-type LOCAL -m multiport --dports 30000:32767 -j RETURN",
            ]
            chains += [":KUBE-NWPLCY-COMMON - [0:0]", ":KUBE-NWPLCY-DEFAULT - [0:0]"]
            rules += [
                "-A KUBE-NWPLCY-COMMON -m comment --comment \"rule to drop invalid state for pod\" -m conntrack --ctstate INVALID -j DROP",
                "-A KUBE-NWPLCY-COMMON -m comment --comment \"rule for stateful firewall for pod\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                "-A KUBE-NWPLCY-COMMON -m comment --comment \"allow icmp echo requests\" -p icmp --icmp-type echo-request -j ACCEPT",
                "-A KUBE-NWPLCY-COMMON -m comment --comment \"allow icmp destination unreachable messages\" -p icmp --icmp-type destination-unreachable -j ACCEPT",
                "-A KUBE-NWPLCY-COMMON -m comment --comment \"allow icmp time exceeded messages\" -p icmp --icmp-type time-exceeded -j ACCEPT",
                "-A KUBE-NWPLCY-DEFAULT -m comment --comment \"rule to mark traffic matching a network policy\" -j MARK --set-xmark 0x10000/0x10000",
            ]

            /// Addresses of the pods a rule's selector peers select (kube-router's evalPodPeer).
            func peerAddresses(_ peers: [Peer], policyNamespace: String) -> [String] {
                var seen: Set<String> = [], out: [String] = []
                for peer in peers {
                    guard case .pods(_, let namespaces) = peer else { continue }
                    let candidates = namespaces.map { selector in
                        workload.namespaceLabels.filter { selector.matches($0.labels) }.flatMap { podsByNamespace[$0.name] ?? [] }
                    } ?? podsByNamespace[policyNamespace] ?? []
                    for pod in candidates where peer.matches(pod, policyNamespace: policyNamespace, namespaceLabels: namespaceLabels) {
                        if let ip = Self.ipv4(pod), seen.insert(ip).inserted { out.append(ip) }
                    }
                }
                return out
            }

            var policyChains: [String: [(policy: ParsedPolicy, chain: String)]] = [:]
            for policy in workload.policies {
                let (ns, name) = (policy.key.namespace, policy.key.name)
                let chain = "KUBE-NWPLCY-" + Self.hash(ns + name + version + "IPv4")
                chains.append(":\(chain) - [0:0]")
                policyChains[ns, default: []].append((policy, chain))
                let selected = (podsByNamespace[ns] ?? []).filter { policy.selects($0) }.compactMap(Self.ipv4)
                for direction in Direction.allCases {
                    guard let directionRules = policy.rules[direction] else { continue }
                    let ingress = direction == .ingress
                    // The policy's own pods: destinations of its ingress rules, sources of its egress.
                    let own = (ingress ? "KUBE-DST-" : "KUBE-SRC-") + Self.hash(ns + name + "IPv4")
                    addSet(own, "hash:ip", selected.map { "\($0) timeout 0" })
                    let kind = ingress ? "ingress" : "egress"
                    let peerPrefix = ingress ? "KUBE-SRC-" : "KUBE-DST-"
                    for (index, rule) in directionRules.enumerated() {
                        // (peer set or nil for "everyone", comment) per line group, in kube-router's order:
                        // selected pods, everyone, ipBlocks.
                        var groups: [(peers: String?, comment: String)] = []
                        let addresses = peerAddresses(rule.peers, policyNamespace: ns)
                        if !addresses.isEmpty {
                            let set = peerPrefix + Self.hash(ns + name + "\(kind)rule\(index)IPv4pod")
                            addSet(set, "hash:ip", addresses.map { "\($0) timeout 0" })
                            groups.append((set, "\(kind) pods"))
                        }
                        if rule.peers.isEmpty { groups.append((nil, "\(kind) any")) }
                        var blocks: [String] = []
                        for case .ipBlock(let cidr, let except) in rule.peers where cidr.address.isIPv4 {
                            blocks.append("\(cidr) timeout 0")
                            blocks += except.map { "\($0) timeout 0 nomatch" }
                        }
                        if !blocks.isEmpty {
                            let set = peerPrefix + Self.hash(ns + name + "\(kind)rule\(index)IPv4ipblock")
                            addSet(set, "hash:net", blocks)
                            groups.append((set, "\(kind) cidr"))
                        }
                        for group in groups {
                            appendPolicyRules(chain, comment: "\(ns)/\(name) \(group.comment)",
                                              src: ingress ? group.peers : own, dst: ingress ? own : group.peers, rule.ports)
                        }
                    }
                }
            }

            for pod in local {
                guard let ip = Self.ipv4(pod) else { continue }
                let (ns, name) = (pod.key.namespace, pod.key.name)
                let chain = "KUBE-POD-FW-" + Self.hash(ns + name + version)
                chains.append(":\(chain) - [0:0]")
                let applicable = (policyChains[ns] ?? []).filter { $0.policy.selects(pod) }
                let ingress = applicable.contains { $0.policy.rules[.ingress] != nil }
                let egress = applicable.contains { $0.policy.rules[.egress] != nil }
                rules.append("-A \(chain) -m comment --comment \"common netpol rules\" -j KUBE-NWPLCY-COMMON")
                rules.append("-A \(chain) -m comment --comment \"from local node\" -m addrtype --src-type LOCAL -d \(ip) -j ACCEPT")
                if !egress { rules.append("-A \(chain) -s \(ip) -m comment --comment \"default egress\" -j KUBE-NWPLCY-DEFAULT") }
                if !ingress { rules.append("-A \(chain) -d \(ip) -m comment --comment \"default ingress\" -j KUBE-NWPLCY-DEFAULT") }
                for (policy, policyChain) in applicable {
                    let comment = "-m comment --comment \"\(policy.key.namespace)/\(policy.key.name) policy\""
                    switch (policy.rules[.ingress] != nil, policy.rules[.egress] != nil) {
                    case (true, true): rules.append("-A \(chain) \(comment) -j \(policyChain)")
                    case (true, false): rules.append("-A \(chain) -d \(ip) \(comment) -j \(policyChain)")
                    case (false, true): rules.append("-A \(chain) -s \(ip) \(comment) -j \(policyChain)")
                    case (false, false): break
                    }
                }
                rules.append("-A \(chain) -m comment --comment \"\(ns)/\(name) log-drop\" -m mark ! --mark 0x10000/0x10000 -j NFLOG --nflog-group 100 -m limit --limit 10/minute --limit-burst 10")
                rules.append("-A \(chain) -m comment --comment \"\(ns)/\(name) reject\" -m mark ! --mark 0x10000/0x10000 -j REJECT")
                rules.append("-A \(chain) -j MARK --set-mark 0/0x10000")
                rules.append("-A \(chain) -m comment --comment \"set netpol-ok mark\" -j MARK --set-mark 0x20000/0x20000")

                let into = "-m comment --comment \"\(ns)/\(name) in\"", from = "-m comment --comment \"\(ns)/\(name) out\""
                forward.append("-A KUBE-ROUTER-FORWARD \(into) -d \(ip) -j \(chain)")
                output.append("-A KUBE-ROUTER-OUTPUT \(into) -d \(ip) -j \(chain)")
                forward.append("-A KUBE-ROUTER-FORWARD -m physdev --physdev-is-bridged \(into) -d \(ip) -j \(chain)")
                input.append("-A KUBE-ROUTER-INPUT \(from) -s \(ip) -j \(chain)")
                forward.append("-A KUBE-ROUTER-FORWARD \(from) -s \(ip) -j \(chain)")
                output.append("-A KUBE-ROUTER-OUTPUT \(from) -s \(ip) -j \(chain)")
                forward.append("-A KUBE-ROUTER-FORWARD -m physdev --physdev-is-bridged \(from) -s \(ip) -j \(chain)")
            }
            let accept = "-m comment --comment \"rule to explicitly ACCEPT traffic that comply to network policies\" -m mark --mark 0x20000/0x20000 -j ACCEPT"
            input.append("-A KUBE-ROUTER-INPUT \(accept)")
            forward.append("-A KUBE-ROUTER-FORWARD \(accept)")
            output.append("-A KUBE-ROUTER-OUTPUT \(accept)")
        }

        private mutating func addSet(_ name: String, _ type: String, _ entries: [String]) {
            sets[name] = SetSpec(name: name, type: type, entries: entries)
        }

        /// kube-router's appendRuleToPolicyChain: per port, a MARK line and a RETURN line.
        private mutating func appendPolicyRules(_ chain: String, comment: String, src: String?, dst: String?, _ ports: [PolicyPort]) {
            var match = "-A \(chain) -m comment --comment \"\(comment)\""
            if let src { match += " -m set --match-set \(src) src" }
            if let dst { match += " -m set --match-set \(dst) dst" }
            let portMatches: [String] = ports.isEmpty ? [""] : ports.compactMap { port in
                let proto = port.protocolName.lowercased()
                switch port.port {
                case .any: return " -p \(proto)"
                case .range(let first, let last): return " -p \(proto) --dport \(first)" + (first == last ? "" : ":\(last)")
                case .named: return nil   // not in this workload (kube-router resolves them into per-port sets)
                }
            }
            for ports in portMatches {
                rules.append(match + ports + " -j MARK --set-xmark 0x10000/0x10000")
                rules.append(match + ports + " -m mark --mark 0x10000/0x10000 -j RETURN")
            }
        }

        /// `ipset restore -exist` input for `sets`, as kube-router's BuildIPSetRestore writes it:
        /// per set, its entries into a TMP set of the same options, then create (a no-op when it
        /// exists) and swap; the TMP sets destroyed at the end.
        static func ipsetRestore(_ sets: [SetSpec]) -> String {
            var temporary: [String: String] = [:]
            var lines: [String] = []
            for set in sets.sorted(by: { $0.name < $1.name }) {
                let options = set.options
                let tmp: String
                if let existing = temporary[options] {
                    tmp = existing
                } else {
                    tmp = "TMP-" + hash("tmp:" + options)
                    temporary[options] = tmp
                    lines += ["create \(tmp) \(options)", "flush \(tmp)"]
                }
                lines += set.entries.map { "add \(tmp) \($0)" }
                lines += ["create \(set.name) \(options)", "swap \(tmp) \(set.name)", "flush \(tmp)"]
            }
            lines += temporary.values.sorted().map { "destroy \($0)" }
            return lines.joined(separator: "\n") + "\n"
        }

        /// The sets of `next` whose members differ from `self`'s (or that are new). No set
        /// disappears in this workload's change, so none is destroyed.
        func changedSets(to next: KubeRouterShape) -> [SetSpec] {
            next.sets.values.filter { set in sets[set.name].map { Set($0.entries) != Set(set.entries) } ?? true }
        }
    }

    /// The anchor's restore inputs, written once before anything is timed.
    struct AnchorFiles {
        let allSetsBefore: String, allSetsAfter: String
        let filterBefore: String, filterAfter: String
        let changedSetsToAfter: String, changedSetsToBefore: String
        let changedSets: Int

        init(before: KubeRouterShape, after: KubeRouterShape, scratch: Scratch) throws {
            allSetsBefore = try scratch.write("ipset-before", KubeRouterShape.ipsetRestore(Array(before.sets.values)))
            allSetsAfter = try scratch.write("ipset-after", KubeRouterShape.ipsetRestore(Array(after.sets.values)))
            filterBefore = try scratch.write("filter-before", before.filter)
            filterAfter = try scratch.write("filter-after", after.filter)
            let toAfter = before.changedSets(to: after), toBefore = after.changedSets(to: before)
            changedSetsToAfter = try scratch.write("ipset-to-after", KubeRouterShape.ipsetRestore(toAfter))
            changedSetsToBefore = try scratch.write("ipset-to-before", KubeRouterShape.ipsetRestore(toBefore))
            changedSets = toAfter.count
        }
    }

    /// Temporary files of this run, removed at the end.
    final class Scratch {
        private var paths: [String] = []

        func write(_ name: String, _ text: String) throws -> String {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-pol-\(getpid())-\(name)").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
            return path
        }

        func removeAll() {
            for path in paths { unlink(path) }
            paths = []
        }
    }
}
