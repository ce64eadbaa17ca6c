import Foundation
import Testing
import CNI
import NetplaneTestSupport

/// Netplane's plugins mixed with the reference ones (Debian's containernetworking-plugins in
/// /usr/lib/cni), each side delegating IPAM to the other.
@Suite("CNI interop (Root)", .serialized)
struct InteropRootTests {
    /// A CNI_PATH directory holding `bridge` and `host-local` as symlinks to the given binaries.
    func pluginDirectory(bridge: String, hostLocal: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-interop-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/bridge", withDestinationPath: bridge)
        try FileManager.default.createSymbolicLink(atPath: dir + "/host-local", withDestinationPath: hostLocal)
        return dir
    }

    func plugin(_ command: String, dir: String, node: TestNamespace, pod: TestNamespace, id: String,
                config: String) throws -> CommandResult {
        try runPlugin(dir + "/bridge", command, node: node, pod: pod, id: id, cniPath: dir, config: config)
    }

    func twoPods(bridge: String, hostLocal: String, label: String) throws {
        try #require(FileManager.default.isExecutableFile(atPath: bridge), "no \(bridge)")
        try #require(FileManager.default.isExecutableFile(atPath: hostLocal), "no \(hostLocal)")
        let dir = try pluginDirectory(bridge: bridge, hostLocal: hostLocal)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("np-interop-data-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let config = #"{"cniVersion":"1.0.0","name":"interop","type":"bridge","bridge":"cni0","isGateway":true,"#
            + #""ipam":{"type":"host-local","subnet":"10.244.8.0/24","dataDir":"\#(data)"}}"#
        try TestNamespace.with(3, label: label) { nss in
            let (node, pods) = (nss[0], [nss[1], nss[2]])
            var ips: [String] = []
            for (i, pod) in pods.enumerated() {
                let out = try plugin("ADD", dir: dir, node: node, pod: pod, id: "ctr-\(i)", config: config)
                try #require(out.succeeded, "ADD failed: \(out.stdout) \(out.stderr)")
                let result = try CNIResult(bytes: Array(out.stdout.utf8))
                let ip = try #require(result.ips.first)
                #expect(ip.address.hasPrefix("10.244.8."), "\(out.stdout)")
                ips.append(String(ip.address.split(separator: "/")[0]))
                #expect(FileManager.default.fileExists(atPath: data + "/interop/" + ips[i]), "no reservation for \(ips[i])")
            }
            #expect(Set(ips).count == 2)
            try pods[0].check(["ping", "-c1", "-W2", ips[1]])
            try pods[1].check(["ping", "-c1", "-W2", ips[0]])
            try pods[0].check(["ping", "-c1", "-W2", "10.244.8.1"])
            for (i, pod) in pods.enumerated() {
                for _ in 0..<2 {
                    let out = try plugin("DEL", dir: dir, node: node, pod: pod, id: "ctr-\(i)", config: config)
                    #expect(out.succeeded, "DEL failed: \(out.stdout) \(out.stderr)")
                }
                let podLinks = try Command.jsonObjects(["ip", "-j", "-n", pod.name, "link", "show"])
                #expect(!podLinks.contains { $0["ifname"] as? String == "eth0" })
            }
            #expect(try nodeVeths(node).isEmpty)
            for ip in ips {
                #expect(!FileManager.default.fileExists(atPath: data + "/interop/" + ip))
            }
        }
    }

    @Test("CNI Root: Netplane bridge delegating to the reference host-local")
    func netplaneBridgeReferenceIPAM() throws {
        try twoPods(bridge: productsDirectory() + "/bridge", hostLocal: "/usr/lib/cni/host-local", label: "cniinb")
    }

    @Test("CNI Root: reference bridge delegating to Netplane's host-local")
    func referenceBridgeNetplaneIPAM() throws {
        try twoPods(bridge: "/usr/lib/cni/bridge", hostLocal: productsDirectory() + "/host-local", label: "cniinr")
    }
}
