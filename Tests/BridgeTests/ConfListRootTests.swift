import Foundation
import Testing
import CNI
import NetplaneTestSupport

/// The repository's `cni-conf` directory.
private func confDirectory() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("cni-conf").path
}

/// Runs a conflist the way a container runtime does: plugins in order for ADD, threading
/// prevResult, and in reverse order for DEL with the final ADD result as prevResult.
struct ConfListRunner {
    var list: NetConfList
    var cniPath: [String]
    var node: TestNamespace
    var pod: TestNamespace
    var id: String
    var runtimeConfig: [String: JSONValue] = [:]

    func binary(_ type: String) throws -> String {
        for dir in cniPath where FileManager.default.isExecutableFile(atPath: dir + "/" + type) {
            return dir + "/" + type
        }
        throw CNIError(code: 50, msg: "plugin \(type) not found")
    }

    func run(_ command: String, index: Int, prevResult: JSONValue?) throws -> CommandResult {
        let conf = try list.pluginConfig(at: index, prevResult: prevResult, runtimeConfig: runtimeConfig)
        return try Command.run(["ip", "netns", "exec", node.name, "env",
                                "CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(id)", "CNI_NETNS=\(pod.path)",
                                "CNI_IFNAME=eth0", "CNI_PATH=\(cniPath.joined(separator: ":"))",
                                try binary(conf.type)], stdin: conf.json.jsonString)
    }

    /// ADD through the whole list; the final result.
    func add() throws -> JSONValue {
        var prev: JSONValue? = nil
        for i in list.plugins.indices {
            let out = try run("ADD", index: i, prevResult: prev)
            try #require(out.succeeded, "ADD of plugin \(i) failed: \(out.stdout) \(out.stderr)")
            prev = try JSONValue.parse(Array(out.stdout.utf8))
        }
        return try #require(prev)
    }

    /// DEL through the list in reverse; whether every plugin succeeded.
    func del(prevResult: JSONValue?) throws -> Bool {
        var ok = true
        for i in list.plugins.indices.reversed() {
            let out = try run("DEL", index: i, prevResult: prevResult)
            if !out.succeeded {
                ok = false
                Issue.record("DEL of plugin \(i) failed: \(out.stdout) \(out.stderr)")
            }
        }
        return ok
    }
}

@Suite("CNI conflists (Root)", .serialized)
struct ConfListRootTests {
    /// Loads `cni-conf/<file>` with every IPAM dataDir pointed at `data`.
    func load(_ file: String, data: String) throws -> NetConfList {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: confDirectory() + "/" + file))
        guard case .object(var o) = try JSONValue.parse(Array(bytes)),
              let plugins = o["plugins"]?.arrayValue else {
            throw CNIError(code: 7, msg: "\(file): not a conflist")
        }
        o["plugins"] = .array(plugins.map { p in
            // flannel's plugin: its subnet.env and saved delegates in the test's directory too.
            if case .object(var po) = p, po["type"] == "flannel" {
                po["subnetFile"] = .string(data + "/subnet.env")
                po["dataDir"] = .string(data + "/flannel")
                po["ipam"] = ["dataDir": .string(data)]
                return .object(po)
            }
            guard case .object(var po) = p, case .object(var ipam)? = po["ipam"] else { return p }
            ipam["dataDir"] = .string(data)
            po["ipam"] = .object(ipam)
            return .object(po)
        })
        return try NetConfList(json: .object(o))
    }

    func podAddress(_ pod: TestNamespace) throws -> String? {
        let links = try Command.jsonObjects(["ip", "-j", "-4", "-n", pod.name, "addr", "show", "eth0"])
        return links.flatMap { ($0["addr_info"] as? [[String: Any]] ?? []).compactMap { $0["local"] as? String } }.first
    }

    func exercise(_ file: String, label: String, runtimeConfig: [String: JSONValue] = [:], subnetEnv: String? = nil,
                  extraChecks: (TestNamespace, TestNamespace) throws -> Void = { _, _ in }) throws {
        let dir = productsDirectory()
        try #require(FileManager.default.isExecutableFile(atPath: dir + "/bridge"), "no bridge in \(dir)")
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("np-conf-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let list = try load(file, data: data)
        if let subnetEnv {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            try subnetEnv.write(toFile: data + "/subnet.env", atomically: true, encoding: .utf8)
        }
        try TestNamespace.with(2, label: label) { nss in
            let runner = ConfListRunner(list: list, cniPath: [dir, "/usr/lib/cni"], node: nss[0], pod: nss[1],
                                        id: "ctr-\(label)", runtimeConfig: runtimeConfig)
            let result = try runner.add()
            let first = try #require(result["ips"]?.arrayValue?.first?["address"]?.stringValue)
            #expect(first.hasPrefix("10.244.9."), "\(result.jsonString)")
            let address = try #require(try podAddress(nss[1]))
            #expect(first == address + "/24")
            try nss[1].check(["ping", "-c1", "-W2", "10.244.9.1"])
            try extraChecks(nss[0], nss[1])
            #expect(try runner.del(prevResult: result))
            #expect(try runner.del(prevResult: result))
            #expect(try nodeVeths(nss[0]).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: data + "/" + list.name + "/" + address))
        }
    }

    @Test("CNI Root: cni-conf/10-netplane-bridge.conflist attaches a pod that pings the gateway")
    func bridgeConfList() throws {
        try exercise("10-netplane-bridge.conflist", label: "cnicl")
    }

    @Test("CNI Root: cni-conf/30-dual-stack.conflist gives the pod IPv4 and IPv6 with default routes through the bridge")
    func dualStack() throws {
        let mappings: JSONValue = .array([.object(["hostPort": .int(8081), "containerPort": .int(80),
                                                  "protocol": .string("tcp")])])
        try exercise("30-dual-stack.conflist", label: "cnids", runtimeConfig: ["portMappings": mappings]) { (node: TestNamespace, pod: TestNamespace) throws in
            let v6 = try interfaceAddresses(pod, family: "-6")
            #expect(v6.count == 1 && v6[0].hasPrefix("fd00:10:244:9::") && v6[0].hasSuffix("/64"), "\(v6)")
            let v4default = try pod.ipJSON(["-4", "route", "show", "default"])
            #expect(v4default.first?["gateway"] as? String == "10.244.9.1", "\(v4default)")
            let v6default = try pod.ipJSON(["-6", "route", "show", "default"])
            #expect(v6default.first?["gateway"] as? String == "fd00:10:244:9::1", "\(v6default)")
            // The bridge's own address may still be in duplicate address detection: wait up to 5 s.
            try pod.check(["ping", "-6", "-c1", "-w5", "fd00:10:244:9::1"])
            #expect(try interfaceAddresses(node, "cni0", family: "-6").contains("fd00:10:244:9::1/64"))
        }
    }

    @Test("CNI Root: cni-conf/40-flannel.conflist (flannel's own) delegates to the bridge from subnet.env, then portmap")
    func flannelConfList() throws {
        let mappings: JSONValue = .array([.object(["hostPort": .int(8082), "containerPort": .int(80),
                                                  "protocol": .string("tcp")])])
        try exercise("40-flannel.conflist", label: "cnifl", runtimeConfig: ["portMappings": mappings],
                     subnetEnv: "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n") { (node: TestNamespace, pod: TestNamespace) throws in
            #expect(try pod.ipJSON(["link", "show", "eth0"]).first?["mtu"] as? Int == 1450)
            let routes = try pod.ipJSON(["-4", "route", "show"])
            #expect(routes.contains { $0["dst"] as? String == "10.244.0.0/16" && $0["gateway"] as? String == "10.244.9.1" }, "\(routes)")
            #expect(routes.contains { $0["dst"] as? String == "default" }, "isDefaultGateway: \(routes)")
            let ports = try node.ipJSON(["link", "show", "master", "cni0"])
            #expect(!ports.isEmpty && ports.allSatisfy { ($0["linkinfo"] as? [String: Any]).flatMap { $0["info_slave_data"] as? [String: Any] }?["hairpin"] as? Bool == true },
                    "hairpinMode: \(ports)")
            let nat = try node.check(["iptables", "-t", "nat", "-S"])
            #expect(nat.contains("--dport 8082"), "portmap left no DNAT rule: \(nat)")
        }
    }

    @Test("CNI Root: cni-conf/20-portmap-chain.conflist chains reference portmap and tuning after Netplane's bridge")
    func portmapChain() throws {
        let mappings: JSONValue = .array([.object(["hostPort": .int(8080), "containerPort": .int(80),
                                                  "protocol": .string("tcp")])])
        try exercise("20-portmap-chain.conflist", label: "cnipm", runtimeConfig: ["portMappings": mappings]) { (node: TestNamespace, pod: TestNamespace) throws in
            let nat = try node.check(["iptables", "-t", "nat", "-S"])
            #expect(nat.contains("--dport 8080"), "portmap left no DNAT rule: \(nat)")
            #expect(try pod.check(["sysctl", "-n", "net.core.somaxconn"]).trimmingCharacters(in: .whitespacesAndNewlines) == "512")
        }
    }
}
