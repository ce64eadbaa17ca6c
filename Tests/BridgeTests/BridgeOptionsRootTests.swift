import Foundation
import Testing
import CNI
import NetplaneTestSupport

/// The bridge plugin's options, failure rollback, bad configs, GC/STATUS and concurrency,
/// each checked with `ip`, `nft`, `sysctl` and `ping` in namespaces the test makes.
@Suite("CNI bridge options (Root)", .serialized)
struct BridgeOptionsRootTests {
    let bridge = productsDirectory() + "/bridge"

    /// A bridge + host-local config. `extra` is spliced into the bridge's fields, `ipamExtra`
    /// into the ipam section (both as `"key":value,` JSON text).
    func config(_ extra: String = "", ipam ipamExtra: String = "", version: String = "1.0.0",
                subnet: String = "10.244.7.0/24", data: String) -> String {
        #"{"cniVersion":"\#(version)","name":"t","type":"bridge","bridge":"cni0",\#(extra)"#
            + #""ipam":{\#(ipamExtra)"type":"host-local","subnet":"\#(subnet)","dataDir":"\#(data)"}}"#
    }

    func add(_ node: TestNamespace, _ pod: TestNamespace, id: String, _ config: String,
             args: String? = nil) throws -> CNIResult {
        let out = try runPlugin(bridge, "ADD", node: node, pod: pod, id: id, args: args, config: config)
        try #require(out.succeeded, "ADD failed: \(out.stdout) \(out.stderr)")
        return try CNIResult(bytes: Array(out.stdout.utf8))
    }

    /// The spec error a failed invocation printed.
    func failure(_ out: CommandResult) throws -> CNIError {
        #expect(!out.succeeded)
        return try #require(CNIError(json: try JSONValue.parse(Array(out.stdout.utf8))), "no error JSON: \(out.stdout)")
    }

    func withPrev(_ config: String, _ result: String) -> String {
        String(config.dropLast()) + #","prevResult":"# + result + "}"
    }

    func link(_ ns: TestNamespace, _ name: String) throws -> [String: Any] {
        try #require(try ns.ipJSON(["link", "show", name]).first)
    }

    func nftRules(_ node: TestNamespace) throws -> String {
        try node.check(["nft", "list", "ruleset"])
    }

    func reservations(_ data: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: data + "/t")) ?? [])
            .filter { $0.first?.isNumber == true }
    }

    @Test("CNI Root: mtu, mac, hairpinMode, portIsolation, DAD sysctls and promiscMode reach the kernel")
    func linkOptions() throws {
        let data = scratchPath("bropt")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let conf = config(#""isGateway":true,"mtu":1400,"hairpinMode":true,"portIsolation":true,"runtimeConfig":{"mac":"02:42:ac:11:00:99"},"#,
                          data: data)
        try TestNamespace.with(3, label: "cniop") { nss in
            let (node, pod, other) = (nss[0], nss[1], nss[2])
            let out = try runPlugin(bridge, "ADD", node: node, pod: pod, id: "ctr-o", config: conf)
            try #require(out.succeeded, "ADD failed: \(out.stdout) \(out.stderr)")
            let result = try CNIResult(bytes: Array(out.stdout.utf8))
            #expect(result.interfaces.count == 3 && result.interfaces[2].mac == "02:42:ac:11:00:99")
            let eth0 = try link(pod, "eth0")
            #expect(eth0["address"] as? String == "02:42:ac:11:00:99")
            #expect(eth0["mtu"] as? Int == 1400)
            let vethName = result.interfaces[1].name
            let veth = try link(node, vethName)
            #expect(veth["mtu"] as? Int == 1400)
            let port = (veth["linkinfo"] as? [String: Any])?["info_slave_data"] as? [String: Any]
            #expect(port?["hairpin"] as? Bool == true, "\(String(describing: port))")
            #expect(port?["isolated"] as? Bool == true, "\(String(describing: port))")
            #expect(try link(node, "cni0")["mtu"] as? Int == 1400)
            #expect(try pod.check(["sysctl", "-n", "net.ipv6.conf.eth0.accept_dad"]).hasPrefix("0"))
            #expect(try pod.check(["sysctl", "-n", "net.ipv4.conf.eth0.arp_notify"]).hasPrefix("1"))
            #expect(try node.check(["sysctl", "-n", "net.ipv4.ip_forward"]).hasPrefix("1"))
            #expect(try runPlugin(bridge, "CHECK", node: node, pod: pod, id: "ctr-o", config: withPrev(conf, out.stdout)).succeeded)
            // CHECK compares the bridge's promiscuous mode with the config.
            let promiscConf = config(#""isGateway":true,"promiscMode":true,"#, data: data)
            let mismatch = try runPlugin(bridge, "CHECK", node: node, pod: pod, id: "ctr-o", config: withPrev(promiscConf, out.stdout))
            #expect(try failure(mismatch).msg.contains("promiscuous"))
            #expect(!((try link(node, "cni0")["flags"] as? [String]) ?? []).contains("PROMISC"))
            _ = try add(node, other, id: "ctr-p", promiscConf)
            #expect(((try link(node, "cni0")["flags"] as? [String]) ?? []).contains("PROMISC"))
            for (pod, id) in [(pod, "ctr-o"), (other, "ctr-p")] {
                #expect(try runPlugin(bridge, "DEL", node: node, pod: pod, id: id, config: conf).succeeded)
            }
            #expect(try nodeVeths(node).isEmpty)
        }
    }

    @Test("CNI Root: macspoofchk drops frames from a pod that changed its MAC; DEL removes the rule")
    func macSpoofCheck() throws {
        let data = scratchPath("brspoof")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let conf = config(#""isGateway":true,"macspoofchk":true,"#, data: data)
        try TestNamespace.with(3, label: "cnisp") { nss in
            let (node, a, b) = (nss[0], nss[1], nss[2])
            let ra = try add(node, a, id: "ctr-a", conf)
            let rb = try add(node, b, id: "ctr-b", conf)
            let ipB = String(try #require(rb.ips.first).address.split(separator: "/")[0])
            let macA = try #require(ra.interfaces[2].mac)
            let rules = try node.check(["nft", "list", "table", "bridge", "netplane-cni-macspoof"])
            #expect(rules.contains(#"iifname "\#(ra.interfaces[1].name)" ether saddr != \#(macA) drop"#), "\(rules)")
            try a.check(["ping", "-c1", "-W2", ipB])
            // A forged source MAC never reaches the other pod.
            try a.check(["ip", "link", "set", "eth0", "address", "02:00:00:00:00:01"])
            _ = try b.run(["ip", "neigh", "flush", "all"])
            #expect(try !a.run(["ping", "-c2", "-W1", ipB]).succeeded)
            // Without the check (pod b), the same forgery passes.
            let plain = config(#""isGateway":true,"#, data: data)
            #expect(try runPlugin(bridge, "DEL", node: node, pod: b, id: "ctr-b", config: plain).succeeded)
            _ = try add(node, b, id: "ctr-b", plain)
            try b.check(["ip", "link", "set", "eth0", "address", "02:00:00:00:00:02"])
            _ = try node.run(["ip", "neigh", "flush", "all"])
            try b.check(["ping", "-c1", "-W2", "10.244.7.1"])
            for (pod, id) in [(a, "ctr-a"), (b, "ctr-b")] {
                #expect(try runPlugin(bridge, "DEL", node: node, pod: pod, id: id, config: conf).succeeded)
            }
            let after = try node.check(["nft", "list", "table", "bridge", "netplane-cni-macspoof"])
            #expect(!after.contains("drop"), "\(after)")
        }
    }

    @Test("CNI Root: without ipam the pod gets a layer-2 port; disableContainerInterface leaves it down")
    func layer2() throws {
        let l2 = #"{"cniVersion":"1.0.0","name":"l2","type":"bridge","bridge":"br-l2"}"#
        let down = #"{"cniVersion":"1.0.0","name":"l2","type":"bridge","bridge":"br-l2","disableContainerInterface":true}"#
        try TestNamespace.with(3, label: "cnil2") { nss in
            let (node, a, b) = (nss[0], nss[1], nss[2])
            let ra = try add(node, a, id: "ctr-a", l2)
            #expect(ra.ips.isEmpty && ra.interfaces.count == 3)
            #expect(((try link(a, "eth0")["flags"] as? [String]) ?? []).contains("UP"))
            #expect(try interfaceAddresses(a).isEmpty)
            _ = try add(node, b, id: "ctr-b", down)
            #expect(!((try link(b, "eth0")["flags"] as? [String]) ?? []).contains("UP"))
            // Two pods on one L2 segment talk once they have addresses of their own.
            try a.check(["ip", "addr", "add", "192.168.77.1/24", "dev", "eth0"])
            try b.check(["ip", "addr", "add", "192.168.77.2/24", "dev", "eth0"])
            try b.check(["ip", "link", "set", "eth0", "up"])
            try a.check(["ping", "-c1", "-W2", "192.168.77.2"])
            #expect(try runPlugin(bridge, "DEL", node: node, pod: a, id: "ctr-a", config: l2).succeeded)
            #expect(try runPlugin(bridge, "DEL", node: node, pod: b, id: "ctr-b", config: down).succeeded)
            #expect(try nodeVeths(node).isEmpty)
        }
    }

    @Test("CNI Root: bad bridge configs fail with the spec code and create nothing")
    func badConfigs() throws {
        let data = scratchPath("brbad")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let cases: [(String, Int, String)] = [
            // This kernel has no bridge VLAN filtering: the vlan fields are unsupported here.
            (#""vlan":100,"#, 2, "VLAN filtering"),
            (#""vlanTrunk":[{"minID":10,"maxID":20}],"#, 2, "VLAN filtering"),
            (#""vlan":5000,"#, 7, "invalid VLAN ID"),
            (#""vlanTrunk":[{"minID":20,"maxID":10}],"#, 7, "minID is greater than maxID"),
            (#""vlanTrunk":[{"maxID":10}],"#, 7, "minID is missing"),
            (#""hairpinMode":true,"promiscMode":true,"#, 7, "hairpin"),
            (#""disableContainerInterface":true,"#, 7, "IPAM"),
            (#""mtu":10,"#, 7, "mtu"),
            (#""isGateway":"yes","#, 6, "isGateway"),
            (#""ipMasqBackend":"ebpf","#, 7, "ipMasqBackend"),
            (#""runtimeConfig":{"mac":"zz:zz"},"#, 7, "MAC"),
        ]
        try TestNamespace.with(2, label: "cnibad") { nss in
            let (node, pod) = (nss[0], nss[1])
            for (extra, code, text) in cases {
                let out = try runPlugin(bridge, "ADD", node: node, pod: pod, id: "ctr-x", config: config(extra, data: data))
                let error = try failure(out)
                #expect(error.code.rawValue == code, "\(extra): \(out.stdout)")
                #expect(error.msg.contains(text), "\(extra): \(out.stdout)")
                #expect(try !hasLink(node, "cni0"), "\(extra) left the bridge")
                #expect(try nodeVeths(node).isEmpty, "\(extra) left a veth")
                #expect(try !hasLink(pod, "eth0"), "\(extra) left eth0")
                #expect(reservations(data).isEmpty, "\(extra) left a reservation")
            }
            // An existing bridge is left as it was when the vlan fields cannot be honoured.
            try node.check(["ip", "link", "add", "cni0", "type", "bridge"])
            let out = try runPlugin(bridge, "ADD", node: node, pod: pod, id: "ctr-x", config: config(#""vlan":100,"#, data: data))
            #expect(try failure(out).code.rawValue == 2)
            #expect(try hasLink(node, "cni0") && nodeVeths(node).isEmpty && reservations(data).isEmpty)
        }
    }

    @Test("CNI Root: truncated JSON, unknown cniVersion, missing CNI_NETNS and a bad subnet give codes 6, 1, 4, 7 and leave nothing")
    func badInput() throws {
        let data = scratchPath("brin")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let good = config(#""isGateway":true,"ipMasq":true,"#, data: data)
        try TestNamespace.with(2, label: "cniin") { nss in
            let (node, pod) = (nss[0], nss[1])
            let cases: [(String, TestNamespace?, String, Int)] = [
                ("truncated JSON", pod, String(good.prefix(40)), 6),
                ("unknown cniVersion", pod, good.replacingOccurrences(of: "\"1.0.0\"", with: "\"9.9.9\""), 1),
                ("missing CNI_NETNS", nil, good, 4),
                ("bad subnet", pod, good.replacingOccurrences(of: "10.244.7.0/24", with: "10.244.7.0/33"), 7),
            ]
            for (what, target, conf, code) in cases {
                let out = try runPlugin(bridge, "ADD", node: node, pod: target, id: "ctr-in", config: conf)
                #expect(try failure(out).code.rawValue == code, "\(what): \(out.stdout)")
                #expect(try !hasLink(node, "cni0") && nodeVeths(node).isEmpty && !hasLink(pod, "eth0"), "\(what) left links")
                #expect(reservations(data).isEmpty, "\(what) left a reservation")
                #expect(try !nftRules(node).contains("ctr-in"), "\(what) left rules")
            }
        }
    }

    @Test("CNI Root: DEL after the pod's namespace is gone releases the address and removes the host veth and rules")
    func delWithNamespaceGone() throws {
        let data = scratchPath("brgone")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let conf = config(#""isGateway":true,"ipMasq":true,"macspoofchk":true,"#, data: data)
        try TestNamespace.with(label: "cnigo") { (node: TestNamespace) in
            let pod = try TestNamespace.create("cnigp")
            defer { pod.remove() }
            _ = try add(node, pod, id: "ctr-gone", conf)
            #expect(try reservations(data).count == 1 && nodeVeths(node).count == 1)
            pod.remove()
            for _ in 0..<2 {
                let out = try runPlugin(bridge, "DEL", node: node, pod: pod, id: "ctr-gone", config: conf)
                #expect(out.succeeded, "DEL failed: \(out.stdout)")
            }
            #expect(reservations(data).isEmpty)
            #expect(try nodeVeths(node).isEmpty)
            #expect(try !nftRules(node).contains("ctr-gone"))
        }
    }

    @Test("CNI Root: a failure halfway through ADD (unreachable route) rolls back veth, address, rules and bridge")
    func rollback() throws {
        let data = scratchPath("brrb")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let conf = config(#""isGateway":true,"ipMasq":true,"macspoofchk":true,"#,
                          ipam: #""routes":[{"dst":"10.9.0.0/16","gw":"10.99.99.1"}],"#, data: data)
        try TestNamespace.with(2, label: "cnirb") { nss in
            let (node, pod) = (nss[0], nss[1])
            let out = try runPlugin(bridge, "ADD", node: node, pod: pod, id: "ctr-rb", config: conf)
            let error = try failure(out)
            #expect(error.msg.contains("10.9.0.0/16"), "\(out.stdout)")
            #expect(try !hasLink(pod, "eth0"))
            #expect(try nodeVeths(node).isEmpty)
            #expect(try !hasLink(node, "cni0"), "the bridge this ADD created was left behind")
            #expect(reservations(data).isEmpty, "address not released: \(reservations(data))")
            let ruleset = try nftRules(node)
            #expect(!ruleset.contains("ctr-rb"), "\(ruleset)")
            // The same pod attaches cleanly afterwards without the bad route.
            let good = config(#""isGateway":true,"ipMasq":true,"macspoofchk":true,"#, data: data)
            _ = try add(node, pod, id: "ctr-rb", good)
            #expect(try runPlugin(bridge, "DEL", node: node, pod: pod, id: "ctr-rb", config: good).succeeded)
        }
    }

    @Test("CNI Root: forceAddress replaces a different gateway address on the bridge; without it ADD fails cleanly")
    func forceAddress() throws {
        let data = scratchPath("brfa")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try TestNamespace.with(2, label: "cnifa") { nss in
            let (node, pod) = (nss[0], nss[1])
            try node.check(["ip", "link", "add", "cni0", "type", "bridge"])
            try node.check(["ip", "addr", "add", "10.244.9.1/24", "dev", "cni0"])
            let plain = config(#""isGateway":true,"#, data: data)
            let out = try runPlugin(bridge, "ADD", node: node, pod: pod, id: "ctr-f", config: plain)
            #expect(try failure(out).msg.contains("already has an IP address different"), "\(out.stdout)")
            #expect(try nodeVeths(node).isEmpty && !hasLink(pod, "eth0") && reservations(data).isEmpty)
            #expect(try interfaceAddresses(node, "cni0") == ["10.244.9.1/24"])
            let forced = config(#""isGateway":true,"forceAddress":true,"#, data: data)
            _ = try add(node, pod, id: "ctr-f", forced)
            #expect(try interfaceAddresses(node, "cni0") == ["10.244.7.1/24"])
            try pod.check(["ping", "-c1", "-W2", "10.244.7.1"])
            #expect(try runPlugin(bridge, "DEL", node: node, pod: pod, id: "ctr-f", config: forced).succeeded)
        }
    }

    @Test("CNI Root: isDefaultGateway installs the default route; CHECK notices it removed")
    func defaultGateway() throws {
        let data = scratchPath("brdg")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let conf = config(#""isDefaultGateway":true,"#, data: data)
        try TestNamespace.with(2, label: "cnidg") { nss in
            let (node, pod) = (nss[0], nss[1])
            let out = try runPlugin(bridge, "ADD", node: node, pod: pod, id: "ctr-d", config: conf)
            try #require(out.succeeded, "\(out.stdout)")
            let result = try CNIResult(bytes: Array(out.stdout.utf8))
            #expect(result.routes.contains { $0.dst == "0.0.0.0/0" && $0.gw == "10.244.7.1" })
            #expect(result.ips.first?.gateway == "10.244.7.1")
            let routes = try pod.ipJSON(["route", "show", "default"])
            #expect(routes.first?["gateway"] as? String == "10.244.7.1", "\(routes)")
            #expect(try runPlugin(bridge, "CHECK", node: node, pod: pod, id: "ctr-d", config: withPrev(conf, out.stdout)).succeeded)
            try pod.check(["ip", "route", "del", "default"])
            let check = try runPlugin(bridge, "CHECK", node: node, pod: pod, id: "ctr-d", config: withPrev(conf, out.stdout))
            #expect(try failure(check).msg.contains("0.0.0.0/0"), "\(check.stdout)")
            #expect(try runPlugin(bridge, "DEL", node: node, pod: pod, id: "ctr-d", config: conf).succeeded)
        }
    }

    @Test("CNI Root: GC releases addresses and masquerade rules of attachments not listed; STATUS delegates to IPAM")
    func gcAndStatus() throws {
        let data = scratchPath("brgc")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let conf = config(#""isGateway":true,"ipMasq":true,"#, version: "1.1.0", data: data)
        try TestNamespace.with(3, label: "cnigc") { nss in
            let (node, a, b) = (nss[0], nss[1], nss[2])
            let ipA = String(try #require(try add(node, a, id: "ctr-a", conf).ips.first).address.split(separator: "/")[0])
            let ipB = String(try #require(try add(node, b, id: "ctr-b", conf).ips.first).address.split(separator: "/")[0])
            #expect(Set(reservations(data)) == [ipA, ipB])
            let gcConf = String(conf.dropLast()) + #","cni.dev/valid-attachments":[{"containerID":"ctr-a","ifname":"eth0"}]}"#
            let gc = try runPlugin(bridge, "GC", node: node, pod: nil, id: "", config: gcConf)
            #expect(gc.succeeded, "GC failed: \(gc.stdout)")
            #expect(reservations(data) == [ipA])
            let masq = try node.check(["nft", "list", "table", "ip", "netplane-cni-masq"])
            #expect(masq.contains("ip saddr \(ipA) ") && !masq.contains("ip saddr \(ipB) "), "\(masq)")
            let status = try runPlugin(bridge, "STATUS", node: node, pod: nil, id: "", config: conf)
            #expect(status.succeeded, "STATUS failed: \(status.stdout)")
            for (pod, id) in [(a, "ctr-a"), (b, "ctr-b")] {
                #expect(try runPlugin(bridge, "DEL", node: node, pod: pod, id: id, config: conf).succeeded)
            }
            #expect(try reservations(data).isEmpty && nodeVeths(node).isEmpty)
        }
    }

    @Test("CNI Root: 64 concurrent ADDs into one range give 64 distinct working addresses")
    func concurrentAdds() throws {
        let data = scratchPath("brcc")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let conf = config(#""isGateway":true,"ipMasq":true,"#, data: data)
        let count = 64
        try TestNamespace.with(count + 1, label: "cnicc") { nss in
            let node = nss[0]
            let pods = Array(nss[1...])
            let outputs = Locked([Int: CommandResult]())
            /// Runs `command` for every pod at once, one thread each, and waits for all.
            func all(_ command: String) {
                let group = DispatchGroup()
                for (i, pod) in pods.enumerated() {
                    group.enter()
                    Thread {
                        if let out = try? runPlugin(self.bridge, command, node: node, pod: pod, id: "ctr-\(i)", config: conf) {
                            outputs.with { $0[i] = out }
                        }
                        group.leave()
                    }.start()
                }
                group.wait()
            }
            all("ADD")
            var ips = Set<String>()
            for i in 0..<count {
                let out = try #require(outputs.with { $0[i] })
                #expect(out.succeeded, "ADD \(i) failed: \(out.stdout)")
                if let ip = try? CNIResult(bytes: Array(out.stdout.utf8)).ips.first?.address { ips.insert(ip) }
            }
            #expect(ips.count == count)
            #expect(try nodeVeths(node).count == count)
            #expect(reservations(data).count == count)
            try pods[0].check(["ping", "-c1", "-W2", String(try #require(ips.sorted().last).split(separator: "/")[0])])
            outputs.with { $0 = [:] }
            all("DEL")
            for i in 0..<count {
                let out = outputs.with { $0[i] }
                #expect(out?.succeeded == true, "DEL \(i) failed: \(out?.stdout ?? "no output") \(out?.stderr ?? "")")
            }
            #expect(try nodeVeths(node).isEmpty && reservations(data).isEmpty)
        }
    }
}

/// A value shared between threads behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func with<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
