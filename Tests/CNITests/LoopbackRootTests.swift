import Foundation
import Testing
import CNI
import NetplaneTestSupport

private let referenceDirectory = "/usr/lib/cni"

@Suite("CNI loopback (Root)", .serialized)
struct LoopbackRootTests {
    func env(_ command: String, _ ns: TestNamespace?, path: String) -> [String: String] {
        ["CNI_COMMAND": command, "CNI_CONTAINERID": "ctr-1", "CNI_NETNS": ns?.path ?? "/run/netns/np-cni-gone",
         "CNI_IFNAME": "lo", "CNI_PATH": path, "CNI_ARGS": "IgnoreUnknown=1"]
    }

    func config(_ version: String) -> [UInt8] {
        Array(#"{"cniVersion":"\#(version)","name":"lo-net","type":"loopback"}"#.utf8)
    }

    func loUp(_ ns: TestNamespace) throws -> Bool {
        let links = try Command.jsonObjects(["ip", "-j", "-n", ns.name, "link", "show", "lo"])
        return (links.first?["flags"] as? [String])?.contains("UP") == true
    }

    @Test("CNI Root: Netplane loopback ADD, CHECK, DEL (twice, and with the namespace gone)")
    func netplaneLoopback() throws {
        let dir = productsDirectory()
        try #require(FileManager.default.isExecutableFile(atPath: dir + "/loopback"), "no loopback in \(dir)")
        try TestNamespace.with(label: "cnilo") { (ns: TestNamespace) in
            _ = try Command.check(["ip", "-n", ns.name, "link", "set", "lo", "down"])
            #expect(try !loUp(ns))
            for version in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
                let result = try #require(try IPAMDelegate.exec(plugin: "loopback", config: config(version),
                                                                env: env("ADD", ns, path: dir)))
                #expect(result.cniVersion == version)
                #expect(result.interfaces == [.init(name: "lo", mac: "00:00:00:00:00:00", sandbox: ns.path)])
                #expect(result.ips.map(\.address).contains("127.0.0.1/8"))
                #expect(try loUp(ns))
                if version == "0.3.1" {
                    // CHECK needs 0.4.0 or later.
                    #expect(throws: CNIError(code: .incompatibleVersion, msg: "config version does not allow CHECK")) {
                        try IPAMDelegate.exec(plugin: "loopback", config: config(version), env: env("CHECK", ns, path: dir))
                    }
                } else {
                    try IPAMDelegate.exec(plugin: "loopback", config: config(version), env: env("CHECK", ns, path: dir))
                }
                try IPAMDelegate.exec(plugin: "loopback", config: config(version), env: env("DEL", ns, path: dir))
                #expect(try !loUp(ns))
                try IPAMDelegate.exec(plugin: "loopback", config: config(version), env: env("DEL", ns, path: dir))
                // CHECK on a down loopback fails with the plugin's error.
                #expect(throws: CNIError.self) {
                    try IPAMDelegate.exec(plugin: "loopback", config: config(version), env: env("CHECK", ns, path: dir))
                }
            }
            // Errors come back as CNIError with the spec code.
            do {
                try IPAMDelegate.exec(plugin: "loopback", config: config("9.9.9"), env: env("ADD", ns, path: dir))
                Issue.record("unknown version accepted")
            } catch let error as CNIError { #expect(error.code == .incompatibleVersion) }
            do {
                try IPAMDelegate.exec(plugin: "no-such-plugin", config: config("1.0.0"), env: env("ADD", ns, path: dir))
                Issue.record("missing plugin found")
            } catch let error as CNIError { #expect(error.msg.contains("failed to find plugin")) }
            #expect(try !loUp(ns))
        }
        // DEL with the namespace gone succeeds.
        try IPAMDelegate.exec(plugin: "loopback", config: config("1.0.0"), env: env("DEL", nil, path: dir))
    }

    @Test("CNI Root: reference loopback output parses and matches Netplane's")
    func interop() throws {
        try #require(FileManager.default.isExecutableFile(atPath: referenceDirectory + "/loopback"),
                     "containernetworking-plugins not installed")
        let dir = productsDirectory()
        try TestNamespace.with(2, label: "cniref") { nss in
            for ns in nss { _ = try Command.check(["ip", "-n", ns.name, "link", "set", "lo", "down"]) }
            for version in ["0.3.1", "0.4.0", "1.0.0"] {
                let ours = try #require(try IPAMDelegate.exec(plugin: "loopback", config: config(version),
                                                              env: env("ADD", nss[0], path: dir)))
                let theirs = try #require(try IPAMDelegate.exec(plugin: "loopback", config: config(version),
                                                                env: env("ADD", nss[1], path: referenceDirectory)))
                #expect(try loUp(nss[0]) && loUp(nss[1]))
                #expect(theirs.cniVersion == version)
                #expect(theirs.interfaces.map(\.name) == ["lo"])
                #expect(theirs.interfaces.first?.sandbox == nss[1].path)
                var mine = ours
                mine.interfaces[0].sandbox = nss[1].path
                #expect(mine == theirs, "version \(version)")
                // Each plugin's CHECK (0.4.0 and later) and DEL accept the other's work.
                if version != "0.3.1" {
                    try IPAMDelegate.exec(plugin: "loopback", config: config(version), env: env("CHECK", nss[1], path: dir))
                    try IPAMDelegate.exec(plugin: "loopback", config: config(version),
                                          env: env("CHECK", nss[0], path: referenceDirectory))
                }
                try IPAMDelegate.exec(plugin: "loopback", config: config(version), env: env("DEL", nss[1], path: dir))
                try IPAMDelegate.exec(plugin: "loopback", config: config(version),
                                      env: env("DEL", nss[0], path: referenceDirectory))
                #expect(try !loUp(nss[0]) && !loUp(nss[1]))
            }
        }
    }
}
