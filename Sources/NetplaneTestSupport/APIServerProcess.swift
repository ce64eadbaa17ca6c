import Foundation

/// The directory the running test bundle or benchmark was built into, where `netplane` is too.
public func productsDirectory() -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    return URL(fileURLWithPath: exe).deletingLastPathComponent().path
}

/// A `netplane apiserver` on a free loopback port for the length of a test or benchmark run,
/// with a kubeconfig to reach it. (The API server's own suites use a richer helper.)
public final class APIServerProcess: @unchecked Sendable {
    let process = Process()
    public let dataDir: String
    public let kubeconfig: String

    public init(binary: String = productsDirectory() + "/netplane", dataDir: String, extraArgs: [String] = []) throws {
        self.dataDir = dataDir
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        kubeconfig = dataDir + "/kubeconfig"
        try? FileManager.default.removeItem(atPath: kubeconfig)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["apiserver", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--kubeconfig-out", kubeconfig] + extraArgs
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: kubeconfig) {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw CommandFailed(command: [binary, "apiserver"], result: CommandResult(status: -1, stdout: "", stderr: "did not start"))
            }
            usleep(20_000)
        }
    }

    /// kubectl against this server.
    @discardableResult
    public func kubectl(_ args: [String], stdin: String? = nil) throws -> CommandResult {
        try Command.run(["kubectl", "--kubeconfig", kubeconfig] + args, stdin: stdin)
    }

    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
