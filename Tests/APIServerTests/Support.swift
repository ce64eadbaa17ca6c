import Foundation
import Testing
import NetplaneTestSupport

/// The store an API server under test keeps its objects in.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, etcd
    var testDescription: String { rawValue }
}

/// A real `netplane apiserver` process on a free loopback port with its own data directory,
/// on SQLite or on a real etcd (its own single member, or `etcd` when given);
/// `kubectl` runs against it through the kubeconfig it writes.
final class RunningAPIServer: @unchecked Sendable {
    let apiserver: APIServerProcess
    /// Whether this server made its data directory (and removes it when done).
    let ownsDataDir: Bool
    /// The etcd this server stores into, if any; `ownsEtcd` when it started it.
    let etcd: EtcdCluster?
    let ownsEtcd: Bool

    var process: Process { apiserver.process }
    var dataDir: String { apiserver.dataDir }
    var kubeconfig: String { apiserver.kubeconfig }
    var server: String { apiserver.server }
    var token: String { apiserver.token }

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
        ownsDataDir = dataDir == nil
        let dir = dataDir ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("np-apiserver-\(UUID().uuidString)").path
        do {
            apiserver = try APIServerProcess(dataDir: dir, listen: listen, extraArgs: extraArgs)
        } catch {
            if ownsEtcd { self.etcd?.stop() }
            throw error
        }
    }

    func logText() -> String { apiserver.logText() }

    /// Runs kubectl against this server.
    @discardableResult
    func kubectl(_ args: [String], stdin: String? = nil) throws -> CommandResult {
        try Command.run(["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", apiserver.kubectlCacheDir] + args, stdin: stdin)
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
        if !apiserver.stop() { Issue.record("apiserver did not exit on SIGTERM within 10 s") }
    }

    func kill9() { apiserver.kill9() }

    deinit {
        stop()
        if ownsDataDir { try? FileManager.default.removeItem(atPath: dataDir) }
        if ownsEtcd { etcd?.stop() }
    }
}
