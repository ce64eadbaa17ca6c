import Foundation
import JSON

/// The OCI runtime, driven the way containerd drives it: `runc run -d` with the container's
/// stdout and stderr going straight to its log file, `kill`, `delete`, `state`, `list`,
/// `exec`. Each agent keeps its own state directory (`--root`), so several agents on one
/// machine (one per test node) never see each other's containers.
public struct Runc: Sendable {
    public var binary: String
    public var root: String

    public struct RuncError: Error, CustomStringConvertible {
        public var description: String
    }

    public struct ContainerState: Sendable {
        public var id: String
        public var pid: Int32
        /// created, running, paused or stopped.
        public var status: String
        public var bundle: String
    }

    public init(binary: String, root: String) {
        self.binary = binary
        self.root = root
    }

    /// Starts container `id` from `bundle` (config.json and rootfs in place); returns the pid
    /// of its process. Its stdout and stderr are `log` (a descriptor the caller owns).
    public func run(id: String, bundle: String, log: Int32) async throws(RuncError) -> Int32 {
        let pidFile = bundle + "/pid"
        let runcLog = bundle + "/runc.log"
        try? FileManager.default.removeItem(atPath: runcLog)
        let pid: Int32
        do {
            pid = try ProcessRunner.shared.spawn([binary, "--root", root, "--log", runcLog, "--log-format", "json",
                                                  "run", "-d", "--bundle", bundle, "--pid-file", pidFile, id],
                                                 stdout: log, stderr: log)
        } catch { throw RuncError(description: "\(error)") }
        let status = ProcessRunner.exitCode(await ProcessRunner.shared.wait(pid))
        guard status == 0 else {
            throw RuncError(description: Self.lastError(runcLog) ?? "runc run exited with \(status)")
        }
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let containerPID = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw RuncError(description: "runc run: no pid file")
        }
        return containerPID
    }

    /// The last error runc logged (its JSON log's "msg").
    static func lastError(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n").reversed() {
            if let entry = try? JSONValue.parse(String(line)), entry["level"]?.stringValue == "error",
               let message = entry["msg"]?.stringValue {
                return message
            }
        }
        return nil
    }

    @discardableResult
    func call(_ args: [String], timeout: Double = 30) async throws(RuncError) -> ProcessRunner.Output {
        let output: ProcessRunner.Output
        do { output = try await ProcessRunner.shared.run([binary, "--root", root] + args, timeout: timeout) } catch {
            throw RuncError(description: "\(error)")
        }
        guard output.succeeded else {
            throw RuncError(description: "runc \(args.first ?? ""): " + output.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return output
    }

    public func kill(id: String, signal: String) async throws(RuncError) {
        try await call(["kill", id, signal])
    }

    /// Removes the container (forcibly: a running one is killed first).
    public func delete(id: String) async throws(RuncError) {
        try await call(["delete", "--force", id])
    }

    public func state(id: String) async -> ContainerState? {
        guard let output = try? await call(["state", id]), let json = try? JSONValue.parse(output.stdout) else { return nil }
        return Self.state(json)
    }

    public func list() async throws(RuncError) -> [ContainerState] {
        let output = try await call(["list", "--format", "json"])
        guard let json = try? JSONValue.parse(output.stdout) else { return [] }
        return (json.arrayValue ?? []).compactMap(Self.state)
    }

    static func state(_ json: JSONValue) -> ContainerState? {
        guard let id = json["id"]?.stringValue else { return nil }
        return ContainerState(id: id, pid: Int32(json["pid"]?.intValue ?? 0), status: json["status"]?.stringValue ?? "unknown",
                              bundle: json["bundle"]?.stringValue ?? "")
    }

    /// Runs `command` inside the container; its output, killed after `timeout` seconds.
    public func exec(id: String, command: [String], timeout: Double) async throws(RuncError) -> ProcessRunner.Output {
        do {
            return try await ProcessRunner.shared.run([binary, "--root", root, "exec", id] + command, timeout: timeout)
        } catch { throw RuncError(description: "\(error)") }
    }

    /// The argv of `runc exec` for a caller that wires its own standard streams.
    public func execArguments(id: String, command: [String], tty: Bool) -> [String] {
        [binary, "--root", root, "exec"] + (tty ? ["--tty"] : []) + [id] + command
    }
}
