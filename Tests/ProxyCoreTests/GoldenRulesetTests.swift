import Foundation
import NFTablesModel
import NetAddress
import ProxyCore
import ProxyTestCases
import Testing

/// Golden tests of the proxy's ruleset: the full sync of each representative Service, applied
/// to the fake nftables and printed in nft's syntax, is its file under Golden/ (which
/// ProxyGoldenRootTests loads with a real `nft -f`). After a deliberate change of the ruleset,
/// `NETPLANE_UPDATE_GOLDEN=1 swift test --filter GoldenRulesetTests` rewrites the files; the
/// diff is then the change to review.
@Suite struct GoldenRulesetTests {
    static let update = ProcessInfo.processInfo.environment["NETPLANE_UPDATE_GOLDEN"] == "1"

    @Test(arguments: GoldenCases.all.map(\.name))
    func fullSyncMatchesTheGoldenFile(_ name: String) throws {
        let golden = try #require(GoldenCases.all.first { $0.name == name })
        var fake = FakeNFTables()
        try fake.commit(GoldenCases.transaction(golden))
        let path = GoldenCases.path(golden)
        if Self.update { try fake.text.write(toFile: path, atomically: true, encoding: .utf8) }
        let expected = try String(contentsOfFile: path, encoding: .utf8)
        #expect(fake.text == expected, "compiled ruleset differs from \(path):\n\(fake.text)")
        #expect(fake.committed.count == 1)
    }

    /// Incremental syncs must end where a full sync of the same Services does: each case is
    /// reached from an empty table, and from another case, through syncChanges alone.
    @Test func incrementalSyncsEndWhereAFullSyncDoes() throws {
        for target in GoldenCases.all {
            for start in GoldenCases.all where start.name != target.name {
                var fake = FakeNFTables()
                var table = ProxyTable(family: .ip, options: GoldenCases.options)
                try table.syncFull([]) { (t: Transaction) throws(FakeNFTables.Refusal) in try fake.commit(t) }
                try table.syncChanges(upserted: start.ports, removed: []) { (t: Transaction) throws(FakeNFTables.Refusal) in try fake.commit(t) }
                let removed = start.ports.map(\.id).filter { id in !target.ports.contains { $0.id == id } }
                try table.syncChanges(upserted: target.ports, removed: removed) { (t: Transaction) throws(FakeNFTables.Refusal) in try fake.commit(t) }
                let expected = try String(contentsOfFile: GoldenCases.path(target), encoding: .utf8)
                #expect(fake.text == expected, "\(start.name) -> \(target.name):\n\(fake.text)")
            }
        }
    }

    /// The fake refuses what the kernel refuses, and a refused transaction changes nothing.
    @Test func fakeRefusesWhatTheKernelRefusesAndKeepsTheOldState() throws {
        let table = Table(.ip, "t")
        var fake = FakeNFTables()
        var setup = Transaction()
        setup.add(table)
        setup.add(Chain(table, "a"))
        try fake.commit(setup)
        let before = fake.text

        var missingChain = Transaction()
        missingChain.add(Chain(table, "b"))
        missingChain.add(Rule(table, "a", [.verdict(.jump("nowhere"))]))
        #expect(throws: FakeNFTables.Refusal.self) { try fake.commit(missingChain) }
        var missingSet = Transaction()
        missingSet.add(Rule(table, "a", Match.inSet("absent", [.ipSaddr])))
        #expect(throws: FakeNFTables.Refusal.self) { try fake.commit(missingSet) }
        var duplicate = Transaction()
        duplicate.create(Chain(table, "a"))
        #expect(throws: FakeNFTables.Refusal.self) { try fake.commit(duplicate) }
        #expect(fake.text == before && fake.committed.count == 4)
    }

    /// The renderer writes the statements nft writes for the expressions the builders make.
    @Test func rulesReadBackAsNftStatements() throws {
        func rule(_ expressions: [NFTablesModel.Expression]) -> String {
            RulesetText.rule(Rule(Table(.ip, "t"), "c", expressions), family: .ip)
        }
        let prefix = try IPPrefix("10.0.0.0/8")
        let match: [NFTablesModel.Expression] = Match.ipSaddr(prefix) + Match.l4proto(.tcp) + Match.thDport(443)
        #expect(rule(match + Action.accept) == "ip saddr 10.0.0.0/8 meta l4proto tcp th dport 443 accept")
        #expect(rule(Match.ctState([.established, .related]) + Action.accept) == "ct state established,related accept")
        let outside: [NFTablesModel.Expression] = Match.notInPrefix(.ipSaddr, try IPPrefix("10.244.0.0/16"))
        #expect(rule(outside + Action.setMarkBits(0x4000)) == "ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x00004000")
        #expect(rule(Match.numgenVerdictMap([.goto("a"), .goto("b")])) == "numgen random mod 2 vmap { 0 : goto a, 1 : goto b }")
        let dnat: [NFTablesModel.Expression] = Match.iifname("eth0") + Action.dnat(to: IPAddress("10.0.0.1")!, port: 80)
        #expect(rule(dnat) == "iifname \"eth0\" dnat to 10.0.0.1:80")
    }
}
