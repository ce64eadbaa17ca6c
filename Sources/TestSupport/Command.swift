public import Foundation

/// The outcome of running an external command (an independent witness such as `ip -j`).
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var succeeded: Bool { status == 0 }

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

public struct CommandFailed: Error, CustomStringConvertible {
    public var command: [String]
    public var result: CommandResult

    public init(command: [String], result: CommandResult) {
        self.command = command
        self.result = result
    }

    public var description: String {
        "`\(command.joined(separator: " "))` exited \(result.status): \(result.stderr)\(result.stdout)"
    }
}

/// Runs external programs for tests and scripts. Product code never uses this.
public enum Command {
    /// Runs `args` (searched on PATH) and returns its output, whatever its exit status.
    @discardableResult
    public static func run(_ args: [String], stdin: String? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Runs `args` and throws `CommandFailed` unless it exits 0; returns stdout.
    @discardableResult
    public static func check(_ args: [String], stdin: String? = nil) throws -> String {
        let result = try run(args, stdin: stdin)
        guard result.succeeded else { throw CommandFailed(command: args, result: result) }
        return result.stdout
    }

    /// Runs a command whose stdout is JSON (`ip -j`, `bridge -j`, `nft -j`) and parses it.
    public static func json(_ args: [String]) throws -> Any {
        let out = try check(args)
        let trimmed = out.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return [Any]() }
        return try JSONSerialization.jsonObject(with: Data(trimmed.utf8))
    }

    /// Like `json`, for commands that print a JSON array of objects.
    public static func jsonObjects(_ args: [String]) throws -> [[String: Any]] {
        (try json(args) as? [[String: Any]]) ?? []
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// Starts a long-running process (a daemon under test) with its stdout and stderr appended to
/// `log` (created if missing), so a restarted daemon's log follows its predecessor's.
public func startLogged(_ executable: String, _ args: [String], log: String) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = args
    if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
    let handle = FileHandle(forWritingAtPath: log)
    handle?.seekToEndOfFile()
    process.standardError = handle
    process.standardOutput = handle
    try process.run()
    return process
}
