import CNodeAgent
import Foundation
import Synchronization

/// Every process the node agent starts goes through here: spawned with posix_spawn (no
/// descriptor of the agent leaks into it), reaped by one thread that waits for any child.
/// The agent is a child subreaper, so a container whose `runc run -d` parent has exited is
/// reparented to it and its exit status is read here too (containerd's shims do this job).
public final class ProcessRunner: Sendable {
    public static let shared = ProcessRunner()

    struct State {
        var started = false
        var waiters: [Int32: CheckedContinuation<Int32, Never>] = [:]
        /// Statuses nobody waited for yet (a container's, read when its pod worker looks).
        var exited: [Int32: Int32] = [:]
    }

    let state = Mutex(State())

    /// A run-to-completion command's outcome.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        public var succeeded: Bool { status == 0 }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Becomes the subreaper and starts the reaping thread (once).
    public func start() {
        let first = state.withLock { s in
            defer { s.started = true }
            return !s.started
        }
        guard first else { return }
        _ = netplane_set_child_subreaper()
        let thread = Thread { [self] in reapForever() }
        thread.name = "netplane-reaper"
        thread.start()
    }

    private func reapForever() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid > 0 {
                let waiter = state.withLock { s -> CheckedContinuation<Int32, Never>? in
                    if let w = s.waiters.removeValue(forKey: pid) { return w }
                    if s.exited.count > 8192 { s.exited.removeAll() }
                    s.exited[pid] = status
                    return nil
                }
                waiter?.resume(returning: status)
            } else if errno == ECHILD {
                usleep(5_000)
            }
        }
    }

    /// Starts `argv` (argv[0] is a path, or a name looked up in PATH); returns its pid.
    public func spawn(_ argv: [String], environment: [String]? = nil, stdin: Int32 = -1, stdout: Int32 = -1, stderr: Int32 = -1,
                      newSession: Bool = false) throws(SpawnError) -> Int32 {
        start()
        guard let path = Self.resolve(argv[0]) else { throw SpawnError(description: "\(argv[0]): not found in PATH") }
        let env = environment ?? ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        let pid = netplane_spawn(path, cArgs, cEnv, stdin, stdout, stderr, newSession ? 1 : 0)
        guard pid > 0 else { throw SpawnError(description: "\(argv[0]): \(String(cString: strerror(-pid)))") }
        return pid
    }

    /// Waits for `pid` (spawned here, or reparented here) to end; its raw wait status.
    public func wait(_ pid: Int32) async -> Int32 {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Int32? in
                if let status = s.exited.removeValue(forKey: pid) { return status }
                s.waiters[pid] = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// The exit code of a wait status (128 + signal for a killed process, as shells say).
    public static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs `argv` to completion with `input` on its stdin; kills it after `timeout` seconds.
    public func run(_ argv: [String], environment: [String]? = nil, input: [UInt8] = [],
                    timeout: Double = 60) async throws(SpawnError) -> Output {
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        // Not inherited by anything but this child (spawn closes every descriptor above 2).
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        let pid: Int32
        do {
            pid = try spawn(argv, environment: environment, stdin: inPipe[0], stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            for fd in inPipe + outPipe + errPipe { close(fd) }
            throw error
        }
        close(inPipe[0])
        close(outPipe[1])
        close(errPipe[1])
        let (writeFD, outFD, errFD) = (inPipe[1], outPipe[0], errPipe[0])
        let killer = Task {
            try await Task.sleep(for: .seconds(timeout))
            kill(pid, SIGKILL)
        }
        let (out, err) = await withCheckedContinuation { (continuation: CheckedContinuation<([UInt8], [UInt8]), Never>) in
            let thread = Thread {
                continuation.resume(returning: Self.exchange(input: input, writeFD: writeFD, outFD: outFD, errFD: errFD))
            }
            thread.start()
        }
        let status = await wait(pid)
        killer.cancel()
        return Output(status: Self.exitCode(status), stdout: out, stderr: err)
    }

    /// Writes `input` and reads both outputs until they close, with poll so that neither
    /// side can block the other.
    static func exchange(input: [UInt8], writeFD: Int32, outFD: Int32, errFD: Int32) -> ([UInt8], [UInt8]) {
        var out: [UInt8] = [], err: [UInt8] = []
        var written = 0
        var writing = !input.isEmpty
        if !writing { close(writeFD) } else { _ = fcntl(writeFD, F_SETFL, O_NONBLOCK) }
        var open = [outFD, errFD]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !open.isEmpty || writing {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if writing { fds.append(pollfd(fd: writeFD, events: Int16(POLLOUT), revents: 0)) }
            guard poll(&fds, nfds_t(fds.count), -1) >= 0 else {
                if errno == EINTR { continue }
                break
            }
            for p in fds where p.revents != 0 {
                if p.fd == writeFD {
                    let n = input[written...].withUnsafeBytes { write(writeFD, $0.baseAddress, $0.count) }
                    if n > 0 { written += n }
                    if n < 0 && errno != EAGAIN || written == input.count {
                        close(writeFD)
                        writing = false
                    }
                    continue
                }
                let n = read(p.fd, &buffer, buffer.count)
                if n > 0 {
                    if p.fd == outFD { out += buffer[0..<n] } else { err += buffer[0..<n] }
                } else if n == 0 || errno != EINTR && errno != EAGAIN {
                    close(p.fd)
                    open.removeAll { $0 == p.fd }
                }
            }
        }
        return (out, err)
    }

    /// An executable path for `name`: as given when it contains a slash, else found in PATH.
    public static func resolve(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 {
            return "\(dir)/\(name)"
        }
        return nil
    }
}
