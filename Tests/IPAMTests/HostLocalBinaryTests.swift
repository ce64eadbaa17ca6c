import Foundation
import Testing
import NetplaneTestSupport

private let reference = "/usr/lib/cni/host-local"

/// Runs the built `host-local` executable (or `binary`) as a runtime would.
private func plugin(_ command: String, _ config: String, container: String = "ctr-1", ifname: String = "eth0",
                    args: String = "IgnoreUnknown=1", binary: String? = nil) throws -> CommandResult {
    try Command.run(["env", "-i", "CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(container)",
                     "CNI_NETNS=/run/netns/none", "CNI_IFNAME=\(ifname)", "CNI_ARGS=\(args)", "CNI_PATH=/nonexistent",
                     binary ?? productsDirectory() + "/host-local"], stdin: config)
}

private func json(_ r: CommandResult) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout) \(r.stderr)")
}

@Suite("host-local executable", .serialized)
struct HostLocalBinaryTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("host-local-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path

    func config(version: String = "1.1.0", extra: String = "") -> String {
        """
        {"cniVersion": "\(version)", "name": "hl-net", "type": "host-local",\(extra)
         "ipam": {"type": "host-local", "dataDir": "\(dir)", "resolvConf": "\(dir)/resolv.conf",
                  "ranges": [[{"subnet": "10.244.1.0/24"}], [{"subnet": "fd00:10:244:1::/64"}]],
                  "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00:10:244:1::1"}]}}
        """
    }

    @Test func addCheckGCDelete() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "nameserver 10.96.0.10\nsearch svc.cluster.local\noptions ndots:5\n".write(toFile: dir + "/resolv.conf", atomically: true, encoding: .utf8)

        let add = try plugin("ADD", config())
        #expect(add.status == 0, "\(add.stdout) \(add.stderr)")
        let result = try json(add)
        let ips = try #require(result["ips"] as? [[String: Any]])
        #expect(ips.map { $0["address"] as? String } == ["10.244.1.2/24", "fd00:10:244:1::2/64"])
        #expect(ips.map { $0["gateway"] as? String } == ["10.244.1.1", "fd00:10:244:1::1"])
        #expect((result["routes"] as? [[String: Any]])?.map { $0["dst"] as? String } == ["0.0.0.0/0", "::/0"])
        let dns = try #require(result["dns"] as? [String: Any])
        #expect(dns["nameservers"] as? [String] == ["10.96.0.10"])
        #expect(dns["search"] as? [String] == ["svc.cluster.local"])
        #expect(try String(contentsOfFile: dir + "/hl-net/10.244.1.2", encoding: .utf8) == "ctr-1\r\neth0")

        // A requested IP through CNI_ARGS.
        let second = try plugin("ADD", config(), container: "ctr-2", args: "IgnoreUnknown=1;IP=10.244.1.50")
        #expect(((try json(second))["ips"] as? [[String: Any]])?.first?["address"] as? String == "10.244.1.50/24")

        #expect(try plugin("CHECK", config(), container: "ctr-1").status == 0)
        let missing = try plugin("CHECK", config(), container: "nope")
        #expect(missing.status != 0)
        #expect((try json(missing))["msg"] as? String != nil)

        let gc = try plugin("GC", config(extra: #" "cni.dev/valid-attachments": [{"containerID": "ctr-2", "ifname": "eth0"}],"#))
        #expect(gc.status == 0, "\(gc.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/hl-net/10.244.1.2"))
        #expect(FileManager.default.fileExists(atPath: dir + "/hl-net/10.244.1.50"))

        #expect(try plugin("DEL", config(), container: "ctr-2").status == 0)
        #expect(try plugin("DEL", config(), container: "ctr-2").status == 0)  // idempotent
        #expect(!FileManager.default.fileExists(atPath: dir + "/hl-net/10.244.1.50"))
    }

    @Test func exhaustionIsAnErrorDocument() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let small = """
        {"cniVersion": "1.0.0", "name": "hl-small", "ipam": {"type": "host-local", "dataDir": "\(dir)",
         "subnet": "10.244.9.0/30"}}
        """
        #expect(try plugin("ADD", small).status == 0)
        let full = try plugin("ADD", small, container: "ctr-2")
        #expect(full.status == 1)
        #expect((try json(full))["msg"] as? String == "no IP addresses available in range set: 10.244.9.1-10.244.9.2")
    }

    /// The reference plugin and ours share one data directory: each continues the other's
    /// round robin, sees the other's reservations and releases them.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: reference)))
    func interoperatesWithTheReferencePlugin() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "nameserver 10.96.0.10\n".write(toFile: dir + "/resolv.conf", atomically: true, encoding: .utf8)
        let conf = config(version: "1.0.0")
        func address(_ r: CommandResult) throws -> [String?] {
            #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
            return (try json(r)["ips"] as? [[String: Any]] ?? []).map { $0["address"] as? String }
        }
        #expect(try address(plugin("ADD", conf, container: "ours-1")) == ["10.244.1.2/24", "fd00:10:244:1::2/64"])
        #expect(try address(plugin("ADD", conf, container: "theirs-1", binary: reference))
                == ["10.244.1.3/24", "fd00:10:244:1::3/64"])
        #expect(try address(plugin("ADD", conf, container: "ours-2")) == ["10.244.1.4/24", "fd00:10:244:1::4/64"])
        #expect(try plugin("CHECK", conf, container: "ours-1", binary: reference).status == 0)
        #expect(try plugin("CHECK", conf, container: "theirs-1").status == 0)
        #expect(try plugin("DEL", conf, container: "theirs-1").status == 0)
        #expect(try plugin("DEL", conf, container: "ours-2", binary: reference).status == 0)
        let left = try FileManager.default.contentsOfDirectory(atPath: dir + "/hl-net").filter { $0.contains(".") || $0.contains(":") }
        #expect(Set(left) == ["10.244.1.2", "fd00:10:244:1::2", "last_reserved_ip.0", "last_reserved_ip.1"])
    }
}

@Suite("host-local executable, concurrent processes")
struct HostLocalConcurrencyTests {
    /// 64 plugin processes started at once on one data directory (half of them the reference
    /// plugin when it is installed: both take the same flock on <dir>/lock) get 64 distinct
    /// addresses.
    @Test func sixtyFourProcessesGetDistinctAddresses() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("host-local-par-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let conf = #"{"cniVersion":"1.0.0","name":"par","ipam":{"type":"host-local","dataDir":"\#(dir)","subnet":"10.244.3.0/24"}}"#
        try conf.write(toFile: dir + "/conf.json", atomically: true, encoding: .utf8)
        let ours = productsDirectory() + "/host-local"
        let theirs = FileManager.default.isExecutableFile(atPath: reference) ? reference : ours
        // xargs reaps with waitpid: a shell's `wait` can hang when the test process hands
        // its children a signal mask with SIGCHLD blocked.
        let script = """
        seq 0 63 | xargs -P 64 -I{} sh -c '
          if [ $(({} % 2)) -eq 0 ]; then bin="\(ours)"; else bin="\(theirs)"; fi
          exec env -i CNI_COMMAND=ADD CNI_CONTAINERID=c{} CNI_NETNS=/run/netns/none CNI_IFNAME=eth0 \\
            CNI_PATH=/nonexistent "$bin" < "\(dir)/conf.json" > "\(dir)/out.{}" 2>&1'
        """
        _ = try Command.check(["sh", "-c", script])
        var addresses: [String] = []
        for i in 0..<64 {
            let out = try String(contentsOfFile: dir + "/out.\(i)", encoding: .utf8)
            let doc = try #require(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
            let ips = try #require(doc["ips"] as? [[String: Any]], "\(out)")
            addresses += ips.compactMap { $0["address"] as? String }
        }
        #expect(addresses.count == 64)
        #expect(Set(addresses).count == 64)
        #expect(Set(addresses) == Set((2...65).map { "10.244.3.\($0)/24" }))
    }
}
