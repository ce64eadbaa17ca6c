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
        var merged = currentEnvironment()
        for (k, v) in env { merged[k] = v }
        let environment = merged
        let path = try find(plugin: plugin, in: (environment["CNI_PATH"] ?? "").split(separator: ":").map(String.init))
        return DelegatedPlugin(name: plugin) { () throws(CNIError) in
            try spawn(path: path, environment: environment, input: config)
        }
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
        // Only the dup2'd copies reach the child. (pipe2 is not in Swift's Glibc; a plugin
        // spawns one child at a time, so no other exec can catch these ends before this.)
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
///
/// The child is spawned from a helper thread: `posix_spawn` suspends its caller until the
/// child has exec'd (vfork), about half a millisecond for a plugin here, which the caller
/// spends on its own work instead (a bridge creating its veth). A spawn failure is reported
/// when the output is collected.
public final class DelegatedPlugin {
    let name: String
    private let spawn: SpawnJob
    private var spawner: pthread_t?
    private var collected: Result<(status: Int32, output: [UInt8]), CNIError>?

    init(name: String, spawn: @escaping () throws(CNIError) -> (pid_t, Int32)) {
        self.name = name
        self.spawn = SpawnJob(spawn)
        var thread = pthread_t()
        let job = Unmanaged.passRetained(self.spawn).toOpaque()
        if pthread_create(&thread, nil, { raw in
            Unmanaged<SpawnJob>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, job) == 0 {
            spawner = thread
        } else {
            Unmanaged<SpawnJob>.fromOpaque(job).release()
            self.spawn.run()
        }
    }

    deinit { _ = finish() }

    /// Waits for the spawn, reads stdout to its end and reaps the child (once); its exit
    /// status and output.
    func finish() -> Result<(status: Int32, output: [UInt8]), CNIError> {
        if let collected { return collected }
        if let spawner { pthread_join(spawner, nil) }
        spawner = nil
        let result = spawn.outcome!.map { (pid, stdout) -> (status: Int32, output: [UInt8]) in
            let out = PluginMain.readAll(fd: stdout)
            close(stdout)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            // WIFEXITED / WEXITSTATUS by hand: Swift does not import the macros.
            let exited = (status & 0x7f) == 0
            return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), out)
        }
        collected = result
        return result
    }

    /// The plugin's stdout after a zero exit; its error JSON, thrown, otherwise.
    @discardableResult
    public func output() throws(CNIError) -> [UInt8] {
        let (status, out) = try finish().get()
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

    /// Whether the plugin was started at all (waits for it): a plugin that never ran has
    /// nothing to undo.
    public var started: Bool {
        if case .success = finish() { return true }
        return false
    }
}

/// The spawn a helper thread runs; its outcome is read only after that thread is joined.
private final class SpawnJob: @unchecked Sendable {
    let body: () throws(CNIError) -> (pid_t, Int32)
    var outcome: Result<(pid_t, Int32), CNIError>?
    init(_ body: @escaping () throws(CNIError) -> (pid_t, Int32)) { self.body = body }
    func run() { outcome = Result { () throws(CNIError) -> (pid_t, Int32) in try body() } }
}
