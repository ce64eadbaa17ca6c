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
        let out = try run(plugin: plugin, config: config, env: env)
        guard out.contains(where: { $0 != 32 && $0 != 10 && $0 != 9 && $0 != 13 }) else { return nil }
        return try CNIResult(bytes: out)
    }

    /// Same as `exec` but returns the plugin's stdout unparsed (after checking the exit status).
    public static func run(plugin: String, config: [UInt8], env: [String: String] = [:]) throws(CNIError) -> [UInt8] {
        var environment = currentEnvironment()
        for (k, v) in env { environment[k] = v }
        let path = try find(plugin: plugin, in: (environment["CNI_PATH"] ?? "").split(separator: ":").map(String.init))
        let (status, out) = try spawn(path: path, environment: environment, input: config)
        if status != 0 {
            if let value = try? JSONValue.parse(out), let error = CNIError(json: value) { throw error }
            throw CNIError(code: .generic, msg: "plugin \(plugin) failed with status \(status)",
                           details: String(decoding: out, as: UTF8.self))
        }
        return out
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

    /// posix_spawn with stdin and stdout on pipes; returns the exit status and stdout.
    static func spawn(path: String, environment: [String: String], input: [UInt8]) throws(CNIError) -> (Int32, [UInt8]) {
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
        PluginMain.writeAll(fd: inPipe[1], input)
        close(inPipe[1])
        let out = PluginMain.readAll(fd: outPipe[0])
        close(outPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw ioError("waitpid") }
        }
        // WIFEXITED / WEXITSTATUS by hand: Swift does not import the macros.
        let exited = (status & 0x7f) == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), out)
    }
}
