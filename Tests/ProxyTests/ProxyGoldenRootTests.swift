import Foundation
import NFTables
import NetplaneTestSupport
import ProxyTestCases
import Testing

/// The golden files are real nft: each loads with `nft -f` in a fresh namespace, and the
/// kernel then holds exactly what the proxy's own commit of the same Services makes in
/// another (`nft list ruleset` of both, compared whole).
@Suite struct ProxyGoldenRootTests {
    @Test(arguments: GoldenCases.all.map(\.name))
    func goldenFileLoadsWithNftAndEqualsWhatTheProxyCommits(_ name: String) throws {
        let golden = try #require(GoldenCases.all.first { $0.name == name })
        try TestNamespace.with(2, label: "gold") { namespaces in
            let (loaded, committed) = (namespaces[0], namespaces[1])
            let load = try loaded.run(["nft", "-f", GoldenCases.path(golden)])
            #expect(load.succeeded, "nft -f \(GoldenCases.path(golden)): \(load.stderr)")
            try NFTSocket(namespacePath: committed.path).commit(GoldenCases.transaction(golden))
            let fromFile = try loaded.check(["nft", "list", "ruleset"])
            let fromProxy = try committed.check(["nft", "list", "ruleset"])
            #expect(!fromFile.isEmpty && fromFile == fromProxy, "from the file:\n\(fromFile)\nfrom the proxy:\n\(fromProxy)")
        }
    }
}
