public import Foundation

/// A real `netplane controllers` (or another daemon of the control plane) against a test's API server, its log kept for failure messages.
public final class ControllersProcess: @unchecked Sendable {
    public let process = Process()
    public let log: String

    /// `command`: the netplane subcommand (`controllers`, `scheduler`).
    public init(api: APIServerProcess, command: String = "controllers", arguments: [String] = [], dir: String,
                binary: String = productsDirectory() + "/netplane") throws {
        log = dir + "/\(command).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        // Each daemon with its own identity and least-privilege role, as Tools/up runs them.
        process.arguments = [command, "--kubeconfig", api.kubeconfig(daemon: command), "--metrics-bind", "127.0.0.1:0"] + arguments
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    public func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
