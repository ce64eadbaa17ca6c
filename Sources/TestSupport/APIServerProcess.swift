public import Foundation

/// The directory the running test bundle or benchmark was built into, where `netplane` is too.
public func productsDirectory() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: exe).deletingLastPathComponent().path
}

/// A `netplane apiserver` on a free loopback port for the length of a test or benchmark run:
/// its kubeconfig (and the server URL and admin token in it), its log beside its data.
public final class APIServerProcess: @unchecked Sendable {
    public let process = Process()
    public let dataDir: String
    public let kubeconfig: String
    /// The server's stdout and stderr.
    public let log: String
    /// The server URL and the admin token, from the kubeconfig it wrote.
    public private(set) var server = ""
    public private(set) var token = ""

    /// The network namespace the server (and `kubectl`) run in; nil: this one.
    public let namespace: String?

    public init(binary: String = productsDirectory() + "/netplane", dataDir: String, listen: String = "127.0.0.1:0",
                extraArgs: [String] = [], namespace: String? = nil) throws {
        self.namespace = namespace
        self.dataDir = dataDir
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        kubeconfig = dataDir + "/kubeconfig"
        log = dataDir + "/apiserver.log"
        try? FileManager.default.removeItem(atPath: kubeconfig)
        let arguments = ["apiserver", "--listen", listen, "--data-dir", dataDir, "--kubeconfig-out", kubeconfig] + extraArgs
        if let namespace {
            // `ip netns exec` replaces itself with the server: the pid is the server's.
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
        }
        // Appended to, so a restarted server's log follows its predecessor's.
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: kubeconfig) {
            guard process.isRunning, Date() < deadline else {
                let why = process.isRunning ? "did not start within 30 s" : "exited"
                stop()
                throw CommandFailed(command: [binary] + process.arguments!,
                                    result: CommandResult(status: -1, stdout: "", stderr: "apiserver \(why): \(logText())"))
            }
            usleep(20_000)
        }
        for line in try String(contentsOfFile: kubeconfig, encoding: .utf8).split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("server: ") { server = String(t.dropFirst(8)) }
            if t.hasPrefix("token: ") { token = String(t.dropFirst(7)) }
        }
    }

    /// The kubeconfig the server wrote for one of its daemons' identities ("controllers",
    /// "scheduler", "flanneld", "proxy", "policy"), bound to that daemon's least-privilege role.
    public func kubeconfig(daemon: String) -> String { dataDir + "/kubeconfigs/\(daemon).kubeconfig" }

    /// A kubeconfig for a node agent's identity (system:node:NAME in system:nodes), made with
    /// `netplane kubeconfig --node`, as an operator would for each node.
    public func kubeconfig(node: String, binary: String = productsDirectory() + "/netplane") throws -> String {
        // Made anew each time: a restarted server may listen on another port.
        let path = dataDir + "/kubeconfigs/node-\(node).kubeconfig"
        try Command.check([binary, "kubeconfig", "--data-dir", dataDir, "--node", node, "--output", path])
        return path
    }

    /// A kubeconfig for any user and groups (`netplane kubeconfig --user --group`).
    public func kubeconfig(user: String, groups: [String] = [], binary: String = productsDirectory() + "/netplane") throws -> String {
        let path = dataDir + "/kubeconfigs/user-\(user.replacingOccurrences(of: ":", with: "_"))-\(groups.joined(separator: "+")).kubeconfig"
        try Command.check([binary, "kubeconfig", "--data-dir", dataDir, "--user", user, "--output", path] + groups.flatMap { ["--group", $0] })
        return path
    }

    public func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// kubectl's discovery cache for this server: its own, because kubectl keys the cache by
    /// host and port, and a later test's server on a reused port would otherwise be taken
    /// for this one (with custom resources it never had) for six hours. Outside the data
    /// directory, whose files are the server's alone.
    public let kubectlCacheDir = FileManager.default.temporaryDirectory.appendingPathComponent("np-kubectl-cache-\(UUID().uuidString)").path

    /// kubectl against this server.
    @discardableResult
    public func kubectl(_ args: [String], stdin: String? = nil) throws -> CommandResult {
        try Command.run((namespace.map { ["ip", "netns", "exec", $0] } ?? [])
                        + ["kubectl", "--kubeconfig", kubeconfig, "--cache-dir", kubectlCacheDir] + args, stdin: stdin)
    }

    /// SIGTERM, then SIGKILL if the server has not exited within `grace` seconds. Returns
    /// whether it exited on SIGTERM (or had already exited).
    @discardableResult
    public func stop(grace: TimeInterval = 10) -> Bool {
        guard process.isRunning else { return true }
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if !process.isRunning { return true }
        kill9()
        return false
    }

    /// SIGKILL, as a crash would end it.
    public func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: kubectlCacheDir)
    }
}
