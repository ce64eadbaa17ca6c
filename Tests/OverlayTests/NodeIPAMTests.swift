import Foundation
import NetplaneTestSupport
import Testing

/// `netplane controllers`' node IPAM against a real API server: every Node gets its own pod
/// CIDR, never one another Node has, and a deleted Node's CIDR is handed out again.
@Suite(.serialized) struct NodeIPAMTests {
    func podCIDRs(_ api: APIServerProcess) throws -> [String: String] {
        let out = try api.kubectl(["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.spec.podCIDR}{\"\\n\"}{end}"]).stdout
        var result: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: "=", omittingEmptySubsequences: false)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    @Test func everyNodeGetsItsOwnCIDRAndADeletedNodesCIDRIsReused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-ipam-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { api.stop() }
        let log = dir + "/controllers.log"
        func startControllers() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: productsDirectory() + "/netplane")
            // Four /24s in all.
            process.arguments = ["controllers", "--kubeconfig", api.kubeconfig(daemon: "controllers"), "--cluster-cidr", "10.250.0.0/22"]
            if !FileManager.default.fileExists(atPath: log) { FileManager.default.createFile(atPath: log, contents: nil) }
            let handle = FileHandle(forWritingAtPath: log)
            handle?.seekToEndOfFile()
            process.standardError = handle
            try process.run()
            return process
        }
        func stop(_ process: Process) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let logText = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        // One node carries a CIDR by hand before the controller starts: it is never handed out.
        let nodes = (1...5).map { i in
            #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"n\#(i)"}\#(i == 3 ? #","spec":{"podCIDR":"10.250.2.0/24"}"# : "")}"#
        }
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: #"{"apiVersion":"v1","kind":"List","items":[\#(nodes.joined(separator: ","))]}"#).succeeded)
        var controllers = try startControllers()
        defer { stop(controllers) }

        var assigned: [String: String] = [:]
        #expect(eventually { assigned = (try? podCIDRs(api)) ?? [:]; return assigned.values.filter { !$0.isEmpty }.count == 4 }, "\(logText())")
        let given = assigned.values.filter { !$0.isEmpty }
        #expect(Set(given) == ["10.250.0.0/24", "10.250.1.0/24", "10.250.2.0/24", "10.250.3.0/24"])
        #expect(assigned["n3"] == "10.250.2.0/24")
        let waiting = try #require(assigned.first { $0.value.isEmpty }?.key)
        #expect(eventually { logText().contains("node \(waiting): no free /24 left in 10.250.0.0/22") }, "\(logText())")

        // A restarted controller changes nothing and still finds the range full.
        stop(controllers)
        controllers = try startControllers()
        usleep(1_500_000)
        #expect(try podCIDRs(api) == assigned)

        // A node goes: the waiting one gets exactly its CIDR.
        let leaving = try #require(assigned.first { !$0.value.isEmpty && $0.key != "n3" })
        #expect(try api.kubectl(["delete", "node", leaving.key]).succeeded)
        #expect(eventually { (try? podCIDRs(api))?[waiting] == leaving.value }, "\(logText())")
        let final = try podCIDRs(api)
        #expect(Set(final.values).count == final.count, "a CIDR given twice: \(final)")
    }
}
