import ArgumentParser
import Foundation
import NetAddress
import Netlink
import NFTables

/// A kube-proxy-shaped ruleset (service vmap -> per-service chain with an inline numgen vmap
/// -> per-endpoint chain with mark + DNAT) loaded in one transaction, against `nft -f` of the
/// same ruleset, each into its own fresh namespace; then one map element added and removed.
struct NFTBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nft",
        abstract: "Load N services x 5 endpoints: Netplane transaction vs nft -f; then one element.")

    @Option(help: "Number of services (5 endpoints each).") var services = 2000
    @Option(help: "Element add/remove repetitions.") var elementRepeats = 20
    @Flag(help: "Queue each chain with its rules (instead of all chains first, then sets, then rules, as nft -f does).")
    var interleaved = false
    @Flag(help: "Load the anchor (nft -f) first; by default Netplane goes first.")
    var anchorFirst = false

    static let endpointsPerService = 5
    var table: Table { Table(.ip, "np-bench") }

    func serviceIP(_ i: Int) -> IPv4Address { IPv4Address(0x0A60_0000 + UInt32(i)) }          // 10.96.0.0 + i
    func endpointIP(_ i: Int, _ j: Int) -> IPv4Address { IPv4Address(0x0A80_0000 + UInt32(i * 5 + j)) } // 10.128.0.0 + k

    var servicesMap: NamedSet {
        NamedSet(table, "services", key: [.ipv4Address, .inetProto, .inetService], data: .verdict)
    }

    /// The ruleset as chains with their rules, in nft's file order.
    func ruleset() -> [(chain: Chain, rules: [Rule])] {
        var out: [(chain: Chain, rules: [Rule])] = []
        for i in 0..<services {
            for j in 0..<Self.endpointsPerService {
                let ep = endpointIP(i, j), chain = "ep-\(i)-\(j)"
                out.append((Chain(table, chain), [Rule(table, chain, Match.ipSaddr(ep) + Action.setMarkBits(0x4000)),
                                                  Rule(table, chain, Match.l4proto(.tcp) + Action.dnat(to: .v4(ep), port: 8080))]))
            }
        }
        for i in 0..<services {
            let vmap = Match.numgenVerdictMap((0..<Self.endpointsPerService).map { .goto("ep-\(i)-\($0)") })
            out.append((Chain(table, "svc-\(i)"), [Rule(table, "svc-\(i)", vmap)]))
        }
        let pre = Chain(table, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: Priority.dstnat))
        out.append((pre, [Rule(table, "prerouting", Match.verdictMap("services", [.ipDaddr, .l4proto, .thDport]))]))
        return out
    }

    func transaction() -> Transaction {
        var tx = Transaction()
        tx.add(table)
        let chains = ruleset()
        let elements = (0..<services).map { i in
            SetElement([.ipv4(serviceIP(i)), .proto(6), .port(80)], to: .verdict(.goto("svc-\(i)")))
        }
        if interleaved {
            for (chain, rules) in chains.dropLast() { tx.add(chain); rules.forEach { tx.add($0) } }
            tx.add(servicesMap)
            tx.add(elements, to: servicesMap)
            tx.add(chains.last!.chain); chains.last!.rules.forEach { tx.add($0) }
        } else {
            // nft -f's order: every chain, then the sets, then every rule.
            for (chain, _) in chains { tx.add(chain) }
            tx.add(servicesMap)
            tx.add(elements, to: servicesMap)
            for (_, rules) in chains { rules.forEach { tx.add($0) } }
        }
        return tx
    }

    /// The same ruleset in nft's language.
    func nftScript() -> String {
        var s = "table ip np-bench {\n"
        for i in 0..<services {
            for j in 0..<Self.endpointsPerService {
                let ep = endpointIP(i, j)
                s += "chain ep-\(i)-\(j) {\nip saddr \(ep) meta mark set meta mark | 0x4000\nmeta l4proto tcp dnat to \(ep):8080\n}\n"
            }
        }
        for i in 0..<services {
            let vmap = (0..<Self.endpointsPerService).map { "\($0) : goto ep-\(i)-\($0)" }.joined(separator: ", ")
            s += "chain svc-\(i) {\nnumgen random mod \(Self.endpointsPerService) vmap { \(vmap) }\n}\n"
        }
        s += "map services {\ntype ipv4_addr . inet_proto . inet_service : verdict\nelements = { "
        s += (0..<services).map { "\(serviceIP($0)) . tcp . 80 : goto svc-\($0)" }.joined(separator: ",\n")
        s += " }\n}\n"
        s += "chain prerouting {\ntype nat hook prerouting priority dstnat; policy accept;\nip daddr . meta l4proto . th dport vmap @services\n}\n}\n"
        return s
    }

    /// What one side measured: the full load, and one element added/removed at that size.
    struct SideResult {
        var load: Cost
        var shape: String
        var elementAdd: [Double] = []
        var elementDelete: [Double] = []
        var elementAddCPU = (user: 0.0, system: 0.0)
        /// Netplane only: an element added to a data map (no verdict) in the same table.
        var dataElementAdd: [Double] = []
    }

    var element: SetElement {
        SetElement([.ipv4(serviceIP(services + 1)), .proto(6), .port(80)], to: .verdict(.goto("svc-0")))
    }

    /// Netplane's side: one transaction, then single-element transactions.
    func runNetplane(in ns: String) throws -> SideResult {
        let sock = try NFTSocket(namespacePath: "/run/netns/\(ns)")
        // Build the values, encode, send, read the verdict: all of it measured.
        var side = SideResult(load: try measureInProcess { try sock.commit(transaction()) }, shape: try shape(ns))
        for _ in 0..<elementRepeats {
            var add = Transaction(); add.add([element], to: servicesMap)
            var del = Transaction(); del.delete([element], from: servicesMap)
            let cost = try measureInProcess { try sock.commit(add) }
            side.elementAdd.append(cost.wall * 1000)
            side.elementAddCPU.user += cost.user / Double(elementRepeats)
            side.elementAddCPU.system += cost.system / Double(elementRepeats)
            side.elementDelete.append(try measureInProcess { try sock.commit(del) }.wall * 1000)
        }
        // The same single-element change on a map whose data is not a verdict (as a DNAT map
        // `ip daddr . th dport : ip daddr . th dport` would be): no jump graph to re-validate.
        let dataMap = NamedSet(table, "backends", key: [.ipv4Address, .inetProto, .inetService], data: .value([.ipv4Address, .inetService]))
        var create = Transaction(); create.add(dataMap)
        try sock.commit(create)
        let backend = SetElement([.ipv4(serviceIP(services + 1)), .proto(6), .port(80)],
                                 to: .value([.ipv4(endpointIP(0, 0)), .port(8080)]))
        for _ in 0..<elementRepeats {
            var add = Transaction(); add.add([backend], to: dataMap)
            var del = Transaction(); del.delete([backend], from: dataMap)
            side.dataElementAdd.append(try measureInProcess { try sock.commit(add) }.wall * 1000)
            try sock.commit(del)
        }
        return side
    }

    /// The anchor: `nft -f` of the same ruleset, then `nft add/delete element`.
    func runAnchor(in ns: String, script: String) throws -> SideResult {
        var side = SideResult(load: try measureCommand(["ip", "netns", "exec", ns, "nft", "-f", script]), shape: try shape(ns))
        let text = "{ \(serviceIP(services + 1)) . tcp . 80 : goto svc-0 }"
        for _ in 0..<min(elementRepeats, 5) {
            side.elementAdd.append(try measureCommand(["ip", "netns", "exec", ns, "nft", "add", "element", "ip", "np-bench", "services", text]).wall * 1000)
            side.elementDelete.append(try measureCommand(["ip", "netns", "exec", ns, "nft", "delete", "element", "ip", "np-bench", "services", text]).wall * 1000)
        }
        return side
    }

    /// What a namespace holds, to check both sides loaded the same ruleset.
    func shape(_ ns: String) throws -> String {
        let s = try NFTSocket(namespacePath: "/run/netns/\(ns)")
        return "\(try s.chains(in: table).count) chains, \(try s.rules(in: table).count) rules, "
            + "\(try s.elements(of: "services", in: table).count) service elements"
    }

    /// Runs one side in a fresh namespace, then removes it and waits for the kernel to finish
    /// tearing it down: freeing a 10k-service table runs in kernel workers for many seconds
    /// and would otherwise be billed to whichever side loads next.
    func side(_ label: String, _ body: (String) throws -> SideResult) throws -> SideResult {
        let name = "np-bench-nft-\(label)-\(getpid())"
        _ = try NetNS.create(name: name)
        let result: SideResult
        do { result = try body(name) } catch { try? NetNS.delete(name: name); throw error }
        try NetNS.delete(name: name)
        waitForIdleKernel()
        return result
    }

    func run() throws {
        let script = FileManager.default.temporaryDirectory.path + "/np-bench-\(getpid()).nft"
        try nftScript().write(toFile: script, atomically: true, encoding: .utf8)
        defer { unlink(script) }
        waitForIdleKernel()
        var anchor: SideResult?, netplane: SideResult?
        if anchorFirst { anchor = try side("nft") { try runAnchor(in: $0, script: script) } }
        netplane = try side("netplane") { try runNetplane(in: $0) }
        if anchor == nil { anchor = try side("nft") { try runAnchor(in: $0, script: script) } }
        guard let anchor, let netplane else { return }
        guard anchor.shape == netplane.shape else {
            throw ValidationError("rulesets differ: netplane \(netplane.shape), nft \(anchor.shape)")
        }
        print("nft-full: \(services) services x \(Self.endpointsPerService) endpoints (\(netplane.shape))")
        print("  netplane \(netplane.load.summary)")
        print("  nft -f   \(anchor.load.summary)")
        printResult("nft-full", netplane: netplane.load.wall, anchor: anchor.load.wall, unit: "s",
                    extra: String(format: "netplane_user=%.3f netplane_sys=%.3f anchor_user=%.3f anchor_sys=%.3f user_over_sys=%.3f",
                                  netplane.load.user, netplane.load.system, anchor.load.user, anchor.load.system,
                                  netplane.load.system > 0 ? netplane.load.user / netplane.load.system : 0))
        print(String(format: "nft-element: add median %.3f ms, delete median %.3f ms (nft CLI: add %.1f ms, delete %.1f ms)",
                     median(netplane.elementAdd), median(netplane.elementDelete), median(anchor.elementAdd), median(anchor.elementDelete)))
        // Where an add's time goes: a goto element makes the kernel re-validate the jump graph.
        print(String(format: "  add CPU per operation: user %.3f ms, system %.3f ms",
                     netplane.elementAddCPU.user * 1000, netplane.elementAddCPU.system * 1000))
        print(String(format: "  data-map element add (no verdict, same table): median %.3f ms", median(netplane.dataElementAdd)))
        printResult("nft-element", netplane: median(netplane.elementAdd), anchor: median(anchor.elementAdd), unit: "ms")
    }
}
