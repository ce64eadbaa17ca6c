import Foundation

/// A real HTTP server (python3's http.server) running inside a test namespace, serving a
/// page that names itself, so a client can tell which backend answered.
public final class ServerProcess: @unchecked Sendable {
    let process: Process
    let directory: URL

    /// `echoClient`: answer "<name> <client address>" instead of the page, so a test can see
    /// whether the client's source address survived the way in. `bind: "::"` serves IPv6 and
    /// IPv4 (python's dual-stack server).
    public static func start(in ns: TestNamespace, port: UInt16, name: String = "netplane-test-server",
                             echoClient: Bool = false, bind: String = "0.0.0.0") throws -> ServerProcess {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-srv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("\(name)\n".utf8).write(to: dir.appendingPathComponent("index.html"))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let echo = """
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = ("\(name) " + self.client_address[0] + "\\n").encode()
                    self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body)
                def log_message(self, *a): pass
            http.server.ThreadingHTTPServer(("0.0.0.0", \(port)), H).serve_forever()
            """
        p.arguments = echoClient
            ? ["ip", "netns", "exec", ns.name, "python3", "-c", echo]
            : ["ip", "netns", "exec", ns.name, "python3", "-m", "http.server", String(port), "--bind", bind, "--directory", dir.path]
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
