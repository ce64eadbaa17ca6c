import Foundation

/// A real HTTP server (python3's http.server) running inside a test namespace, serving a
/// page that names itself, so a client can tell which backend answered.
public final class ServerProcess: @unchecked Sendable {
    let process: Process
    let directory: URL

    public static func start(in ns: TestNamespace, port: UInt16, name: String = "netplane-test-server") throws -> ServerProcess {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-srv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("\(name)\n".utf8).write(to: dir.appendingPathComponent("index.html"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", ns.name, "python3", "-m", "http.server", String(port), "--bind", "0.0.0.0", "--directory", dir.path]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let server = ServerProcess(process: p, directory: dir)
        // Wait until it listens (bounded).
        for _ in 0..<50 {
            if let out = try? ns.run(["ss", "-Hltn", "sport = :\(port)"]), !out.stdout.isEmpty { return server }
            usleep(100_000)
        }
        server.stop()
        throw CommandFailed(command: p.arguments ?? [], result: CommandResult(status: -1, stdout: "", stderr: "server did not start listening"))
    }

    init(process: Process, directory: URL) { self.process = process; self.directory = directory }

    public func stop() {
        // SIGKILL: Foundation's children may start with SIGTERM blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }
}
