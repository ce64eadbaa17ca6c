import Foundation
import Testing
import NetplaneTestSupport

/// The directory the test bundle was built into, where `netplane` is too.
func buildDirectory() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: exe).deletingLastPathComponent().path
}

/// The store an API server under test keeps its objects in.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, etcd
    var testDescription: String { rawValue }
}

/// A real `netplane apiserver` process on a free loopback port with its own data directory,
/// on SQLite or on a real etcd (its own single member, or `etcd` when given);
/// `kubectl` runs against it through the kubeconfig it writes.
final class RunningAPIServer: @unchecked Sendable {
    let dataDir: String
    let kubeconfig: String
    let process: Process
    let log: String
    /// Whether this server made its data directory (and removes it when done).
    let ownsDataDir: Bool
    var server = ""
    var token = ""
    /// The etcd this server stores into, if any; `ownsEtcd` when it started it.
    let etcd: EtcdCluster?
    let ownsEtcd: Bool

    init(dataDir: String? = nil, listen: String = "127.0.0.1:0", backend: Backend = .sqlite, etcd: EtcdCluster? = nil,
         extraArgs: [String] = []) throws {
        var extraArgs = extraArgs
        if backend == .etcd {
            let cluster = try etcd ?? EtcdCluster()
            self.etcd = cluster
            extraArgs += ["--etcd-endpoints", cluster.endpoints.joined(separator: ",")]
        } else {
            self.etcd = nil
        }
        ownsEtcd = backend == .etcd && etcd == nil
        let dir = dataDir ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("np-apiserver-\(UUID().uuidString)").path
        self.dataDir = dir
        ownsDataDir = dataDir == nil
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        kubeconfig = dir + "/kubeconfig"
        log = dir + "/apiserver.log"
        try? FileManager.default.removeItem(atPath: kubeconfig)
        process = Process()
        process.executableURL = URL(fileURLWithPath: buildDirectory() + "/netplane")
        process.arguments = ["apiserver", "--listen", listen, "--data-dir", dir, "--kubeconfig-out", kubeconfig] + extraArgs
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: kubeconfig) {
            guard process.isRunning else { throw ServerFailed(message: "apiserver exited: \(logText())") }
            guard Date() < deadline else { stop(); throw ServerFailed(message: "apiserver did not start: \(logText())") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let config = try String(contentsOfFile: kubeconfig, encoding: .utf8)
        for line in config.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("server: ") { server = String(t.dropFirst(8)) }
            if t.hasPrefix("token: ") { token = String(t.dropFirst(7)) }
        }
    }

    func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Runs kubectl against this server.
    @discardableResult
    func kubectl(_ args: [String], stdin: String? = nil) throws -> CommandResult {
        try Command.run(["kubectl", "--kubeconfig", kubeconfig] + args, stdin: stdin)
    }

    /// Runs kubectl and fails the test (with its output) unless it succeeds.
    @discardableResult
    func kubectlOK(_ args: [String], stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try kubectl(args, stdin: stdin)
        #expect(result.succeeded, "kubectl \(args.joined(separator: " ")): \(result.stderr)", sourceLocation: sourceLocation)
        return result.stdout
    }

    func kubectlJSON(_ args: [String]) throws -> [String: Any] {
        let out = try kubectlOK(args + ["-o", "json"])
        return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]) ?? [:]
    }

    /// A raw HTTPS request with curl (`token: nil` sends none).
    func curl(_ method: String, _ path: String, token: String?? = .none, body: String? = nil,
              contentType: String = "application/json") throws -> (status: Int, body: String) {
        var args = ["curl", "-sS", "-k", "-X", method, "-o", "-", "-w", "\n%{http_code}", server + path]
        let t: String? = token ?? self.token
        if let t { args += ["-H", "Authorization: Bearer \(t)"] }
        if let body { args += ["-H", "Content-Type: \(contentType)", "--data-binary", "@-"] }
        let result = try Command.run(args, stdin: body)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        return (status, lines.dropLast().joined(separator: "\n"))
    }

    /// SIGTERM, and SIGKILL if it has not exited within 10 seconds (a test then fails:
    /// the server must stop on SIGTERM).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            Issue.record("apiserver did not exit on SIGTERM within 10 s")
            kill9()
        }
    }

    func kill9() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit {
        stop()
        if ownsDataDir { try? FileManager.default.removeItem(atPath: dataDir) }
        if ownsEtcd { etcd?.stop() }
    }
}

struct ServerFailed: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
