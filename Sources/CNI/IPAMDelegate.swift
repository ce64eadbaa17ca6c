import Glibc

/// Runs an IPAM (or any delegated) plugin the way the runtime would: found on CNI_PATH, with
/// this process's environment (optionally overridden), the config on stdin.
public enum IPAMDelegate {
    /// Finds `plugin` in `path` (the CNI_PATH directories).
    public static func find(plugin: String, in path: [String]) throws(CNIError) -> String {
        guard !plugin.isEmpty, !plugin.contains("/") else {
            throw CNIError(code: .invalidNetworkConfig, msg: "invalid plugin name \"\(plugin)\"")
        }
        for dir in path where access(dir + "/" + plugin, X_OK) == 0 {
            return dir + "/" + plugin
        }
        throw CNIError(code: .invalidNetworkConfig,
                       msg: "failed to find plugin \"\(plugin)\" in path [\(path.joined(separator: " "))]")
    }

    /// Runs `plugin` with `config` on stdin. `env` overrides or adds variables to this
    /// process's environment (the delegate sees the same CNI_* as its caller). Returns the
    /// parsed result (nil when the plugin printed nothing, as DEL does); a plugin's error
    /// JSON is thrown as that CNIError.
    @discardableResult
    public static func exec(plugin: String, config: [UInt8], env: [String: String] = [:]) throws(CNIError) -> CNIResult? {
        try start(plugin: plugin, config: config, env: env).result()
    }

    /// Starts `plugin` with `config` on stdin and returns at once, so the caller can do other
    /// work while the delegate runs (a bridge sets up its veth while IPAM allocates).
    public static func start(plugin: String, config: [UInt8], env: [String: String] = [:]) throws(CNIError) -> DelegatedPlugin {
        var environment = currentEnvironment()
        for (k, v) in env { environment[k] = v }
        let path = try find(plugin: plugin, in: (environment["CNI_PATH"] ?? "").split(separator: ":").map(String.init))
        let (pid, stdout) = try spawn(path: path, environment: environment, input: config)
        return DelegatedPlugin(name: plugin, pid: pid, stdout: stdout)
    }

    static func currentEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { result[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return result
    }

    /// posix_spawn with stdin and stdout on pipes; writes `input` and returns the child and
    /// the read end of its stdout.
    static func spawn(path: String, environment: [String: String], input: [UInt8]) throws(CNIError) -> (pid_t, Int32) {
        func ioError(_ what: String) -> CNIError {
            CNIError(code: .ioFailure, msg: "\(what): \(String(cString: strerror(errno)))", details: path)
        }
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1]
        guard pipe(&inPipe) == 0 else { throw ioError("pipe") }
        guard pipe(&outPipe) == 0 else {
            close(inPipe[0]); close(inPipe[1]); throw ioError("pipe")
        }
        // Only the dup2'd copies reach the child.
        for fd in inPipe + outPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(inPipe[0]); close(outPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0])
            errno = rc
            throw ioError("posix_spawn")
        }
        // A plugin that exits without reading stdin must not kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        // A config is far smaller than a pipe's buffer, and the child reads all of stdin
        // before it writes, so this does not wait for the child's work.
        PluginMain.writeAll(fd: inPipe[1], input)
        close(inPipe[1])
        return (pid, outPipe[0])
    }
}

/// A delegated plugin that has been started: collect its output once with `output()` or
/// `result()`. Dropping it without collecting still waits for the child (no zombies, and a
/// following DEL never races the ADD still running).
public final class DelegatedPlugin {
    let name: String
    let pid: pid_t
    var stdout: Int32
    var collected: (status: Int32, output: [UInt8])?

    init(name: String, pid: pid_t, stdout: Int32) {
        self.name = name
        self.pid = pid
        self.stdout = stdout
    }

    deinit { _ = finish() }

    /// Reads stdout to its end and reaps the child (once); its exit status and output.
    func finish() -> (status: Int32, output: [UInt8]) {
        if let collected { return collected }
        let out = PluginMain.readAll(fd: stdout)
        close(stdout)
        stdout = -1
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS by hand: Swift does not import the macros.
        let exited = (status & 0x7f) == 0
        let result = (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), out)
        collected = result
        return result
    }

    /// The plugin's stdout after a zero exit; its error JSON, thrown, otherwise.
    @discardableResult
    public func output() throws(CNIError) -> [UInt8] {
        let (status, out) = finish()
        if status != 0 {
            if let value = try? JSONValue.parse(out), let error = CNIError(json: value) { throw error }
            throw CNIError(code: .generic, msg: "plugin \(name) failed with status \(status)",
                           details: String(decoding: out, as: UTF8.self))
        }
        return out
    }

    /// The parsed result (nil when the plugin printed nothing, as DEL does).
    public func result() throws(CNIError) -> CNIResult? {
        let out = try output()
        guard out.contains(where: { $0 != 32 && $0 != 10 && $0 != 9 && $0 != 13 }) else { return nil }
        return try CNIResult(bytes: out)
    }

    /// Waits for the plugin to end, ignoring what it said (before undoing its work).
    public func wait() { _ = finish() }
}
