import Foundation
import Testing
import CNI
import NetplaneTestSupport

@Suite("CNI bridge (Root)", .serialized)
struct BridgeRootTests {
    func plugin(_ command: String, node: TestNamespace, pod: TestNamespace, id: String,
                config: String) throws -> CommandResult {
        try runPlugin(productsDirectory() + "/bridge", command, node: node, pod: pod, id: id, config: config)
    }

    @Test("CNI Root: bridge ADD connects two pods and the gateway; DEL twice cleans up")
    func twoPods() throws {
        let dir = productsDirectory()
        try #require(FileManager.default.isExecutableFile(atPath: dir + "/bridge"), "no bridge in \(dir)")
        try #require(FileManager.default.isExecutableFile(atPath: dir + "/host-local"), "no host-local in \(dir)")
        let data = scratchPath("bridge")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let config = #"{"cniVersion":"1.0.0","name":"t","type":"bridge","bridge":"cni0","isGateway":true,"#
            + #""ipam":{"type":"host-local","subnet":"10.244.7.0/24","dataDir":"\#(data)"}}"#
        try TestNamespace.with(3, label: "cnibr") { nss in
            let (node, pods) = (nss[0], [nss[1], nss[2]])
            var ips: [String] = []
            for (i, pod) in pods.enumerated() {
                let out = try plugin("ADD", node: node, pod: pod, id: "ctr-\(i)", config: config)
                try #require(out.succeeded, "ADD failed: \(out.stdout) \(out.stderr)")
                let result = try CNIResult(bytes: Array(out.stdout.utf8))
                #expect(result.interfaces.map(\.name).first == "cni0")
                #expect(result.interfaces.count == 3 && result.interfaces[2].name == "eth0"
                        && result.interfaces[2].sandbox == pod.path)
                let ip = try #require(result.ips.first)
                #expect(ip.interface == 2 && ip.address.hasPrefix("10.244.7."))
                #expect(try interfaceAddresses(pod) == [ip.address])
                ips.append(String(ip.address.split(separator: "/")[0]))
                // CHECK with the ADD result as prevResult.
                let withPrev = String(config.dropLast()) + #","prevResult":"# + out.stdout + "}"
                let checked = try plugin("CHECK", node: node, pod: pod, id: "ctr-\(i)", config: withPrev)
                #expect(checked.succeeded, "CHECK failed: \(checked.stdout) \(checked.stderr)")
                #expect(FileManager.default.fileExists(atPath: data + "/t/" + ips[i]), "no reservation for \(ips[i])")
            }
            let bridge = try #require(try Command.jsonObjects(["ip", "-j", "-n", node.name, "link", "show", "cni0"]).first)
            #expect((bridge["flags"] as? [String])?.contains("UP") == true)
            #expect(try nodeVeths(node).count == 2)
            // CHECK notices a container interface gone down.
            _ = try Command.check(["ip", "-n", pods[0].name, "link", "set", "eth0", "down"])
            let prev0 = String(config.dropLast()) + #","prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"x"}],"ips":[{"address":"\#(ips[0])/24","interface":0}]}}"#
            #expect(try !plugin("CHECK", node: node, pod: pods[0], id: "ctr-0", config: prev0).succeeded)
            _ = try Command.check(["ip", "-n", pods[0].name, "link", "set", "eth0", "up"])
            #expect(try plugin("CHECK", node: node, pod: pods[0], id: "ctr-0", config: prev0).succeeded)
            try pods[0].check(["ping", "-c1", "-W2", ips[1]])
            try pods[1].check(["ping", "-c1", "-W2", ips[0]])
            try pods[0].check(["ping", "-c1", "-W2", "10.244.7.1"])
            try pods[1].check(["ping", "-c1", "-W2", "10.244.7.1"])

            for (i, pod) in pods.enumerated() {
                for _ in 0..<2 {
                    let out = try plugin("DEL", node: node, pod: pod, id: "ctr-\(i)", config: config)
                    #expect(out.succeeded, "DEL failed: \(out.stdout) \(out.stderr)")
                }
                let podLinks = try Command.jsonObjects(["ip", "-j", "-n", pod.name, "link", "show"])
                #expect(!podLinks.contains { $0["ifname"] as? String == "eth0" })
            }
            #expect(try nodeVeths(node).isEmpty)
            for ip in ips {
                #expect(!FileManager.default.fileExists(atPath: data + "/t/" + ip))
            }
        }
    }

    @Test("CNI Root: bridge ipMasq adds a masquerade rule per pod, DEL removes it")
    func ipMasq() throws {
        let dir = productsDirectory()
        try #require(FileManager.default.isExecutableFile(atPath: dir + "/bridge"), "no bridge in \(dir)")
        let data = scratchPath("bridge")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let config = #"{"cniVersion":"1.0.0","name":"t","type":"bridge","bridge":"cni0","isGateway":true,"ipMasq":true,"#
            + #""ipam":{"type":"host-local","subnet":"10.244.7.0/24","dataDir":"\#(data)"}}"#
        try TestNamespace.with(3, label: "cnimq") { nss in
            let (node, pod, other) = (nss[0], nss[1], nss[2])
            // A second pod first: the table and chain already exist when ctr-m is added.
            let first = try plugin("ADD", node: node, pod: other, id: "ctr-n", config: config)
            try #require(first.succeeded, "ADD failed: \(first.stdout) \(first.stderr)")
            let out = try plugin("ADD", node: node, pod: pod, id: "ctr-m", config: config)
            try #require(out.succeeded, "ADD failed: \(out.stdout) \(out.stderr)")
            let ip = try #require(try CNIResult(bytes: Array(out.stdout.utf8)).ips.first)
            let podIP = String(ip.address.split(separator: "/")[0])
            let listing = try node.check(["nft", "list", "table", "ip", "netplane-cni-masq"])
            #expect(listing.contains("ip saddr \(podIP) ip daddr != 10.244.7.0/24 masquerade"), "\(listing)")
            #expect(listing.contains("id: ctr-m"), "\(listing)")
            for _ in 0..<2 {
                let del = try plugin("DEL", node: node, pod: pod, id: "ctr-m", config: config)
                #expect(del.succeeded, "DEL failed: \(del.stdout) \(del.stderr)")
            }
            let after = try node.check(["nft", "list", "table", "ip", "netplane-cni-masq"])
            #expect(!after.contains("id: ctr-m") && after.contains("id: ctr-n"), "\(after)")
            #expect(try plugin("DEL", node: node, pod: other, id: "ctr-n", config: config).succeeded)
            let end = try node.check(["nft", "list", "table", "ip", "netplane-cni-masq"])
            #expect(!end.contains("masquerade"), "\(end)")
            #expect(try nodeVeths(node).isEmpty)
        }
    }
}

/// A runtime attaching pods one after another to one bridge, and checking the earlier ones:
/// the gateway's MAC must not move as ports come and go.
@Suite("CNI bridge MAC (Root)", .serialized)
struct BridgeMACRootTests {
    func plugin(_ command: String, node: TestNamespace, pod: TestNamespace, id: String,
                config: String) throws -> CommandResult {
        try runPlugin(productsDirectory() + "/bridge", command, node: node, pod: pod, id: id, config: config)
    }

    func bridgeMAC(_ node: TestNamespace) throws -> String? {
        try Command.jsonObjects(["ip", "-j", "-n", node.name, "link", "show", "cnimac0"]).first?["address"] as? String
    }

    @Test(arguments: ["10.244.8.0/24", "fd00:244:8::/64"])
    func checkOfAnEarlierPodPassesAfterOthersJoinAndLeave(subnet: String) throws {
        let data = scratchPath("bridgemac")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let config = #"{"cniVersion":"1.0.0","name":"mac","type":"bridge","bridge":"cnimac0","isGateway":true,"#
            + #""ipam":{"type":"host-local","subnet":"\#(subnet)","dataDir":"\#(data)"}}"#
        try TestNamespace.with(4, label: "cnimac") { nss in
            let node = nss[0]
            var results: [String] = []
            for (i, pod) in nss.dropFirst().enumerated() {
                let out = try plugin("ADD", node: node, pod: pod, id: "ctr-\(i)", config: config)
                try #require(out.succeeded, "ADD failed: \(out.stdout) \(out.stderr)")
                results.append(out.stdout)
            }
            func check(_ i: Int) throws -> CommandResult {
                let withPrev = String(config.dropLast()) + #","prevResult":"# + results[i] + "}"
                return try plugin("CHECK", node: node, pod: nss[i + 1], id: "ctr-\(i)", config: withPrev)
            }
            // Every pod checks out after the later ones joined.
            for i in 0..<3 {
                let checked = try check(i)
                #expect(checked.succeeded, "CHECK of pod \(i) failed: \(checked.stdout) \(checked.stderr)")
            }
            let first = try CNIResult(bytes: Array(results[0].utf8))
            let pinned = try #require(first.interfaces.first?.mac)
            // A port with a MAC lower than any other: a bridge whose MAC was never set would
            // take it at once.
            let second = try CNIResult(bytes: Array(results[1].utf8))
            let secondVeth = try #require(second.interfaces.dropFirst().first?.name)
            try Command.check(["ip", "-n", node.name, "link", "set", secondVeth, "address", "02:00:00:00:00:01"])
            #expect(try bridgeMAC(node) == pinned)
            // The third pod leaves.
            let left = try plugin("DEL", node: node, pod: nss[3], id: "ctr-2", config: config)
            #expect(left.succeeded, "DEL failed: \(left.stdout) \(left.stderr)")
            #expect(try bridgeMAC(node) == pinned)
            let checked = try check(0)
            #expect(checked.succeeded, "CHECK of pod 0 failed: \(checked.stdout) \(checked.stderr)")
            // CHECK notices a container interface that is not the host veth's peer.
            try Command.check(["ip", "-n", nss[1].name, "link", "set", "eth0", "name", "eth9"])
            try Command.check(["ip", "-n", nss[1].name, "link", "add", "eth0", "type", "veth", "peer", "name", "decoy"])
            try Command.check(["ip", "-n", nss[1].name, "link", "set", "eth0", "address", try #require(first.interfaces[2].mac), "up"])
            let mispaired = try check(0)
            #expect(!mispaired.succeeded && mispaired.stdout.contains("not the two ends of one veth"), "\(mispaired.stdout)")
            for (i, pod) in nss.dropFirst().prefix(2).enumerated() {
                _ = try plugin("DEL", node: node, pod: pod, id: "ctr-\(i)", config: config)
            }
        }
    }
}
