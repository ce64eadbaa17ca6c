import Foundation
import Testing
import NetAddress
import NFTables
import NetplaneTestSupport

/// Root tests: every test programs nftables inside a namespace it creates and removes, and
/// checks the result with `nft -j` (an independent witness) or with real traffic.
@Suite(.serialized) struct NFTablesRootTests {
    let table = Table(.ip, "netplane")

    /// `nft -j list ruleset` inside `ns`, as the array under "nftables".
    func ruleset(_ ns: TestNamespace) throws -> [[String: Any]] {
        let out = try ns.check(["nft", "-j", "list", "ruleset"])
        let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        return obj?["nftables"] as? [[String: Any]] ?? []
    }

    func objects(_ kind: String, _ ns: TestNamespace) throws -> [[String: Any]] {
        try ruleset(ns).compactMap { $0[kind] as? [String: Any] }
    }

    @Test func createsTablesChainsSetsAndRules() throws {
        try TestNamespace.with(label: "nft") { ns in
            let sock = try NFTSocket(namespacePath: ns.path)
            var tx = Transaction()
            tx.add(table)
            tx.add(Chain(table, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: Priority.dstnat)))
            tx.add(Chain(table, "filter-in", base: BaseChain(type: .filter, hook: .input, priority: 0, policy: .accept)))
            tx.add(Chain(table, "svc-a"))
            let allowed = NamedSet(table, "allowed", key: [.ipv4Address], flags: .interval)
            tx.add(allowed)
            tx.add([SetElement([.ipv4(IPv4Address(10, 0, 0, 0))], keyEnd: [.ipv4(IPv4Address(10, 255, 255, 255))]),
                    SetElement(.ipv4(IPv4Address(198, 18, 0, 7)))], to: allowed)
            tx.add(Rule(table, "filter-in", Match.ctState([.established, .related]) + Action.accept, comment: "established"))
            tx.add(Rule(table, "filter-in", Match.inSet("allowed", [.ipSaddr]) + [.counter] + Action.accept, comment: "allowed"))
            tx.add(Rule(table, "svc-a", Match.l4proto(.tcp) + Match.thDport(80) + Action.dnat(to: .v4(IPv4Address(10, 244, 0, 2)), port: 8080)))
            try sock.commit(tx)

            // Independent witness: nft's own view.
            let chains = try objects("chain", ns)
            let pre = try #require(chains.first { $0["name"] as? String == "prerouting" })
            #expect(pre["hook"] as? String == "prerouting")
            #expect(pre["prio"] as? Int == -100)
            #expect(pre["type"] as? String == "nat")
            #expect(chains.contains { $0["name"] as? String == "svc-a" && $0["hook"] == nil })
            let set = try #require(try objects("set", ns).first { $0["name"] as? String == "allowed" })
            let elems = set["elem"] as? [Any] ?? []
            let text = "\(elems)"
            #expect(text.contains("10.0.0.0") && text.contains("198.18.0.7"), "\(elems)")
            let rules = try objects("rule", ns)
            #expect(rules.contains { $0["comment"] as? String == "allowed" })
            let listing = try ns.check(["nft", "list", "chain", "ip", "netplane", "svc-a"])
            #expect(listing.contains("dnat to 10.244.0.2:8080"), "\(listing)")
            let filterListing = try ns.check(["nft", "list", "chain", "ip", "netplane", "filter-in"])
            #expect(filterListing.contains("ct state established,related accept"), "\(filterListing)")
            #expect(filterListing.contains("ip saddr @allowed counter"), "\(filterListing)")

            // Netplane's own reader agrees.
            #expect(try sock.tables(family: .ip).contains(table))
            let info = try sock.chains(in: table)
            #expect(info.first { $0.name == "filter-in" }?.base?.hook == .input)
            #expect(try sock.sets(in: table).map(\.name) == ["allowed"])
            let ruleInfo = try sock.rules(in: table, chain: "filter-in")
            #expect(ruleInfo.map(\.comment) == ["established", "allowed"])
            #expect(ruleInfo[1].expressionKinds == ["payload", "lookup", "counter", "immediate"])
        }
    }

    /// A kube-proxy-shaped path with real traffic: service vmap -> service chain with a numgen
    /// vmap -> endpoint chain with DNAT, reached by curl from the client namespace.
    @Test func serviceDNATCarriesRealTraffic() throws {
        try TestNamespace.with(2, label: "nftsvc") { nss in
            let (client, server) = (nss[0], nss[1])
            try Command.check(["ip", "link", "add", "c0", "netns", client.name, "type", "veth", "peer", "name", "s0", "netns", server.name])
            try client.check(["ip", "addr", "add", "10.244.0.1/24", "dev", "c0"])
            try server.check(["ip", "addr", "add", "10.244.0.2/24", "dev", "s0"])
            try client.check(["ip", "link", "set", "c0", "up"])
            try server.check(["ip", "link", "set", "s0", "up"])
            try client.check(["ip", "route", "add", "10.96.0.0/16", "dev", "c0"])
            let web = try ServerProcess.start(in: server, port: 8080)
            defer { web.stop() }

            let sock = try NFTSocket(namespacePath: client.path)
            var tx = Transaction()
            tx.add(table)
            tx.add(Chain(table, "output", base: BaseChain(type: .nat, hook: .output, priority: Priority.dstnat)))
            tx.add(Chain(table, "svc-web"))
            tx.add(Chain(table, "ep-web-0"))
            let services = NamedSet(table, "services", key: [.ipv4Address, .inetProto, .inetService], data: .verdict)
            let endpoints = NamedSet(table, "svc-web-eps", key: [.mark], data: .verdict)
            tx.add(services)
            tx.add(endpoints)
            tx.add([SetElement([.ipv4(IPv4Address(10, 96, 0, 10)), .proto(6), .port(80)], to: .verdict(.goto("svc-web")))], to: services)
            tx.add([SetElement([.mark(0)], to: .verdict(.goto("ep-web-0")))], to: endpoints)
            tx.add(Rule(table, "output", Match.verdictMap("services", [.ipDaddr, .l4proto, .thDport])))
            tx.add(Rule(table, "svc-web", Match.numgenVerdictMap("svc-web-eps", modulus: 1)))
            tx.add(Rule(table, "ep-web-0", Action.dnat(to: .v4(IPv4Address(10, 244, 0, 2)), port: 8080)))
            try sock.commit(tx)

            let body = try client.check(["curl", "-sS", "--max-time", "5", "http://10.96.0.10/"])
            #expect(body.contains("netplane-test-server"), "\(body)")
            // Without the service element the connection has nowhere to go.
            var remove = Transaction()
            remove.delete([SetElement([.ipv4(IPv4Address(10, 96, 0, 10)), .proto(6), .port(80)])], from: services)
            try sock.commit(remove)
            let after = try client.run(["curl", "-sS", "--max-time", "2", "http://10.96.0.10/"])
            #expect(!after.succeeded)
        }
    }

    /// One bad operation in a batch: the kernel refuses the batch, the error names the
    /// operation, and the kernel holds exactly what it held before.
    @Test func failedTransactionLeavesKernelUnchanged() throws {
        try TestNamespace.with(label: "nftatm") { ns in
            let sock = try NFTSocket(namespacePath: ns.path)
            var setup = Transaction()
            setup.add(table)
            setup.add(Chain(table, "keep"))
            setup.add(Rule(table, "keep", Action.accept, comment: "original"))
            try sock.commit(setup)
            let before = try ns.check(["nft", "list", "ruleset"])

            var bad = Transaction()
            bad.add(Chain(table, "new-chain"))
            bad.flush(Chain(table, "keep"))
            bad.add(Table(.ip, "other"))
            bad.add(Rule(table, "new-chain", Action.jump("missing-chain"), comment: "bad-jump"))
            let error = try #require(throws: NFTablesError.self) { try sock.commit(bad) }
            #expect(error.code == .kernel(errno: ENOENT))
            #expect(error.object.contains("add rule ip netplane new-chain"), "\(error)")
            #expect(error.object.contains("bad-jump"), "\(error)")
            #expect(try ns.check(["nft", "list", "ruleset"]) == before)
        }
    }

    @Test func kernelAndArgumentErrorsAreTyped() throws {
        try TestNamespace.with(label: "nfterr") { ns in
            let sock = try NFTSocket(namespacePath: ns.path)
            var missing = Transaction()
            missing.delete(Table(.ip, "nope"))
            let e1 = try #require(throws: NFTablesError.self) { try sock.commit(missing) }
            #expect(e1.code == .kernel(errno: ENOENT))
            #expect(e1.object == "delete table ip nope")

            var dup = Transaction()
            dup.create(table)
            try sock.commit(dup)
            let e2 = try #require(throws: NFTablesError.self) { try sock.commit(dup) }
            #expect(e2.code == .kernel(errno: EEXIST))

            // A key of the wrong shape is refused before anything reaches the kernel.
            let set = NamedSet(table, "ports", key: [.inetService])
            var wrong = Transaction()
            wrong.add(set)
            wrong.add([SetElement(.ipv4(IPv4Address(1, 2, 3, 4)))], to: set)
            let e3 = try #require(throws: NFTablesError.self) { try sock.commit(wrong) }
            guard case .invalidArgument = e3.code else { Issue.record("expected invalidArgument, got \(e3)"); return }
            #expect(try sock.sets(in: table).isEmpty)
            #expect(throws: NFTablesError.self) { try NFTSocket(namespacePath: "/run/netns/does-not-exist") }
        }
    }

    @Test func socketsOpenThroughNetNSAndNamespaceErrorsAreTyped() throws {
        try TestNamespace.with(label: "nftns") { ns in
            let sock = try NFTSocket(namespace: try ns.netns())
            var tx = Transaction()
            tx.add(table)
            try sock.commit(tx)
            #expect(try objects("table", ns).contains { $0["name"] as? String == "netplane" })
            #expect(try sock.tables(family: .ip).contains(table))
        }
        let missing = try #require(throws: NFTablesError.self) {
            try NFTSocket(namespacePath: "/run/netns/np-does-not-exist")
        }
        #expect(missing.code == .system(call: "open", errno: ENOENT))
        #expect(missing.object == "network namespace /run/netns/np-does-not-exist")
        let bogus = try NetNS.open(path: "/dev/null")  // opens fine, but setns refuses it
        let refused = try #require(throws: NFTablesError.self) { try NFTSocket(namespace: bogus) }
        #expect(refused.code == .system(call: "setns", errno: EINVAL))
        #expect(refused.object == "network namespace /dev/null")
    }

    /// Element lists larger than one netlink message are split automatically.
    @Test func largeElementListsAreSplitAcrossMessages() throws {
        try TestNamespace.with(label: "nftbig") { ns in
            let sock = try NFTSocket(namespacePath: ns.path)
            let map = NamedSet(table, "svc", key: [.ipv4Address, .inetProto, .inetService], data: .value([.ipv4Address, .inetService]))
            var tx = Transaction()
            tx.add(table)
            tx.add(map)
            let elements = (0..<20_000).map { (i: Int) -> SetElement in
                let hi = UInt8(i / 256), lo = UInt8(i % 256)
                let key: [Value] = [.ipv4(IPv4Address(10, 96, hi, lo)), .proto(6), .port(80)]
                let data: [Value] = [.ipv4(IPv4Address(10, 244, hi, lo)), .port(8080)]
                return SetElement(key, to: .value(data))
            }
            tx.add(elements, to: map)
            try sock.commit(tx)
            #expect(try sock.elements(of: "svc", in: table).count == 20_000)
            let listed = try ns.check(["nft", "-j", "list", "map", "ip", "netplane", "svc"])
            #expect(listed.contains("10.96.78.31") && listed.contains("10.244.78.31"))

            var one = Transaction()
            one.delete([elements[1234]], from: map)
            try sock.commit(one)
            #expect(try sock.elements(of: "svc", in: table).count == 19_999)
        }
    }

    @Test func concatenatedIntervalsTimeoutsAndDynamicSets() throws {
        try TestNamespace.with(label: "nftset") { ns in
            let sock = try NFTSocket(namespacePath: ns.path)
            let ranges = NamedSet(table, "ranges", key: [.ipv4Address, .inetService], flags: .interval)
            let affinity = NamedSet(table, "affinity", key: [.ipv4Address], flags: [.timeout, .dynamic], timeoutMilliseconds: 10_800_000)
            var tx = Transaction()
            tx.add(table)
            tx.add(Chain(table, "in", base: BaseChain(type: .filter, hook: .input, priority: 0)))
            tx.add(ranges)
            tx.add(affinity)
            tx.add([SetElement([.ipv4(IPv4Address(10, 0, 0, 0)), .port(1000)],
                               keyEnd: [.ipv4(IPv4Address(10, 0, 0, 255)), .port(2000)])], to: ranges)
            tx.add([SetElement([.ipv4(IPv4Address(10, 1, 1, 1))], timeoutMilliseconds: 60_000)], to: affinity)
            tx.add(Rule(table, "in", Match.load([.ipSaddr]) + [.dynset(.update, set: "affinity", key: .r(0), timeoutMilliseconds: 30_000)]))
            try sock.commit(tx)
            let out = try ns.check(["nft", "list", "table", "ip", "netplane"])
            #expect(out.contains("10.0.0.0/24 . 1000-2000"), "\(out)")
            #expect(out.contains("timeout 3h"), "\(out)")
            #expect(out.contains("10.1.1.1 timeout 1m"), "\(out)")
            #expect(out.contains("update @affinity { ip saddr timeout 30s }"), "\(out)")
        }
    }
}

extension NFTablesRootTests {
    /// Inline (anonymous) vmaps, as kube-proxy writes `numgen random mod N vmap { ... }`,
    /// spread traffic over every endpoint.
    @Test func inlineNumgenVerdictMap() throws {
        try TestNamespace.with(label: "nftanon") { ns in
            let sock = try NFTSocket(namespacePath: ns.path)
            var tx = Transaction()
            tx.add(table)
            for c in ["svc", "ep0", "ep1", "ep2"] { tx.add(Chain(table, c)) }
            tx.add(Rule(table, "svc", Match.numgenVerdictMap([.goto("ep0"), .goto("ep1"), .goto("ep2")]), comment: "pick"))
            try sock.commit(tx)
            let out = try ns.check(["nft", "list", "chain", "ip", "netplane", "svc"])
            #expect(out.contains("numgen random mod 3 vmap { 0x00000000 : goto ep0, 0x00000001 : goto ep1, 0x00000002 : goto ep2 }")
                    || out.contains("numgen random mod 3 vmap { 0 : goto ep0, 1 : goto ep1, 2 : goto ep2 }"), "\(out)")
            // Deleting the rule by handle removes its anonymous set too.
            let rule = try #require(try sock.rules(in: table, chain: "svc").first)
            var del = Transaction()
            del.delete(Rule(table, "svc", []).withHandle(rule.handle))
            try sock.commit(del)
            #expect(try sock.rules(in: table, chain: "svc").isEmpty)
            #expect(try sock.sets(in: table).isEmpty)
        }
    }

    /// Another process committing while we list flags the dump as interrupted (EINTR in the
    /// kernel's words); listings retry instead of failing, and never see a half dump.
    @Test func listingRetriesDumpsInterruptedByConcurrentCommits() throws {
        try TestNamespace.with(label: "nftdi") { ns in
            let sock = try NFTSocket(namespacePath: ns.path)
            var tx = Transaction()
            tx.add(table)
            tx.add(Chain(table, "c"))
            tx.add(Chain(table, "d"))
            for i in 0..<300 { tx.add(Rule(table, "c", Match.mark(UInt32(i)) + [.counter], comment: "r\(i)")) }
            try sock.commit(tx)
            // `nft` in a loop adds and flushes a rule in another chain: each commit changes the
            // ruleset's generation, which is what marks a dump in progress as interrupted.
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/usr/bin/ip")
            writer.arguments = ["netns", "exec", ns.name, "sh", "-c",
                                "while :; do nft add rule ip netplane d counter; nft flush chain ip netplane d; done"]
            try writer.run()
            defer { writer.terminate(); writer.waitUntilExit() }
            var listed = 0
            for _ in 0..<200 {
                let rules = try sock.rules(in: table, chain: "c")
                #expect(rules.count == 300, "a partial dump of \(rules.count) rules")
                listed += 1
            }
            #expect(listed == 200)
        }
    }
}
