import APIMachinery
import CNodeAgent
import Dispatch
import Foundation
import Hummingbird
import HummingbirdWebSocket
import JSON
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `kubectl exec`, the node agent's part: a WebSocket endpoint the API server relays to,
///
///     GET /exec/NAMESPACE/POD/CONTAINER?command=…&command=…&stdin=1&stdout=1&stderr=1&tty=1
///     Authorization: Bearer <the API server's token>, Sec-WebSocket-Protocol: v5.channel.k8s.io
///
/// speaking the remote command protocol (RemoteCommand) as the kubelet does: `runc exec` of
/// the command in the container, its stdin from stream 0, stdout and stderr on streams 1
/// and 2, and its outcome as a Status on stream 3 before the connection closes.
///
/// With a terminal (tty=1) the command gets one: runc, asked for a terminal process, needs its
/// own standard streams to be a terminal (it makes the container's /dev/pts/N and relays
/// between the two), so the agent gives it the slave of a pseudo-terminal and keeps the master.
/// Everything the command writes then comes back on stream 1. The client's first size goes in
/// the process's consoleSize, which runc sets before the command starts; later resizes
/// (stream 4) set the master's window size and send runc SIGWINCH, on which runc copies the
/// size into the container.
///
/// Only refusals that need no words (a wrong token, no common subprotocol) refuse the upgrade:
/// Hummingbird answers a refused upgrade with a bare 400. Everything else (no such pod or
/// container, runc failing) is said on stream 3, where kubectl prints it.
extension NodeAgentDaemon {
    /// The agent's server with the exec upgrade: frames as large as client-go writes them.
    static var execChannelConfiguration: HTTP1WebSocketUpgradeChannel.Configuration {
        .init(ws: .init(maxFrameSize: RemoteCommand.maxFrameSize))
    }

    /// The routes that upgrade to a WebSocket (given to `.http1WebSocketUpgrade(webSocketRouter:)`).
    func execRouter() -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.ws("exec/:namespace/:pod/:container", shouldUpgrade: { request, _ in
            guard await self.authorized(request),
                  let chosen = RemoteCommand.negotiate(request.headers[values: .secWebSocketProtocol]) else { return .dontUpgrade }
            return .upgrade([.secWebSocketProtocol: chosen])
        }, onUpgrade: { inbound, outbound, context in
            let exec = ExecRequest(
                namespace: context.requestContext.parameters.get("namespace") ?? "",
                pod: context.requestContext.parameters.get("pod") ?? "",
                container: context.requestContext.parameters.get("container") ?? "",
                options: RemoteCommand.Options(query: context.request.uri.queryParameters.map { (String($0.key), String($0.value)) }),
                closeSignal: RemoteCommand.negotiate(context.request.headers[values: .secWebSocketProtocol]) == RemoteCommand.protocolV5)
            await self.serveExec(exec, inbound: inbound, outbound: outbound)
        })
        return router
    }

    /// Runs one exec session to its end and reports how it ended.
    func serveExec(_ request: ExecRequest, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        // Writing to the stdin of a command that has exited raises SIGPIPE, whose default
        // action would end the agent. Children get every signal's default back (netplane_spawn
        // resets them), so ignoring it here changes nothing for containers.
        signal(SIGPIPE, SIG_IGN)
        // As the kubelet does: an empty message on the first stream the client reads says the
        // streams are up.
        let first = request.options.stdout ? RemoteCommand.Stream.stdout
            : request.options.stderr ? RemoteCommand.Stream.stderr : RemoteCommand.Stream.error
        try? await outbound.write(.binary(ByteBuffer(bytes: [first])))
        let outcome: RemoteCommand.Outcome
        do throws(ExecFailure) {
            outcome = try await runExec(request, inbound: inbound, outbound: outbound)
        } catch {
            daemon.logger.info("exec failed", metadata: ["pod": "\(request.namespace)/\(request.pod)", "container": "\(request.container)",
                                                        "error": "\(error)"])
            outcome = .failed(error.description)
        }
        try? await outbound.write(.binary(ByteBuffer(bytes: outcome.message)))
    }

    func runExec(_ request: ExecRequest, inbound: WebSocketInboundStream,
                 outbound: WebSocketOutboundWriter) async throws(ExecFailure) -> RemoteCommand.Outcome {
        if let problem = request.options.problem { throw ExecFailure(problem) }
        let id = try await execContainerID(request)
        let container = try await execProcessTemplate(id)
        let files = try execFiles()
        defer {
            unlink(files.process)
            unlink(files.pid)
        }
        let options = request.options
        let runc = context.runc
        let session = ExecSession(options: options, closeSignal: request.closeSignal)
        let code = try await session.run(pidFile: files.pid, inbound: inbound, outbound: outbound) { size throws(ExecFailure) in
            let process = Self.execProcess(container, command: options.command, tty: options.tty, size: size)
            guard FileManager.default.createFile(atPath: files.process, contents: Data(process.jsonBytes())) else {
                throw ExecFailure("cannot write \(files.process)")
            }
            return runc.execArguments(id: id, processFile: files.process, pidFile: files.pid)
        }
        return RemoteCommand.Outcome(exitCode: code, command: options.command)
    }

    /// The runc id of the container's running instance.
    func execContainerID(_ request: ExecRequest) async throws(ExecFailure) -> String {
        guard let worker = worker(namespace: request.namespace, name: request.pod) else {
            throw ExecFailure("pod \"\(request.pod)\" in namespace \"\(request.namespace)\" is not running on node \"\(settings.nodeName)\"")
        }
        guard let id = await worker.containerID(request.container) else {
            throw ExecFailure("container \"\(request.container)\" in pod \"\(request.pod)\" is not running")
        }
        return id
    }

    /// The container's own process (its bundle's config.json): what `runc exec` without
    /// --process would run the command as (user, environment, working directory,
    /// capabilities).
    func execProcessTemplate(_ id: String) async throws(ExecFailure) -> JSONValue {
        guard let bundle = await context.runc.state(id: id)?.bundle, !bundle.isEmpty else {
            throw ExecFailure("container \(id) has no runc state")
        }
        guard let bytes = FileManager.default.contents(atPath: bundle + "/config.json"),
              let process = (try? JSONValue.parse(bytes))?["process"] else {
            throw ExecFailure("cannot read the process of \(bundle)/config.json")
        }
        return process
    }

    /// The exec's process: the container's, with the command, and with a terminal when asked:
    /// TERM=xterm (as containerd sets it for a terminal exec, replacing the container's) and,
    /// once the client has said it, the terminal's size from the start.
    static func execProcess(_ container: JSONValue, command: [String], tty: Bool,
                            size: (width: UInt16, height: UInt16)?) -> JSONValue {
        var process = container
        process["args"] = .array(command.map { .string($0) })
        process["terminal"] = .bool(tty)
        process["consoleSize"] = nil
        guard tty else { return process }
        let env = (process["env"]?.arrayValue ?? []).filter { $0.stringValue?.hasPrefix("TERM=") != true }
        process["env"] = .array(env + [.string("TERM=xterm")])
        if let size, size.width > 0, size.height > 0 {
            process["consoleSize"] = ["width": .int(Int64(size.width)), "height": .int(Int64(size.height))]
        }
        return process
    }

    /// Fresh paths for the exec's process spec and runc's --pid-file (the command's own pid,
    /// for SIGKILL when its client has gone: runc cannot pass SIGKILL on).
    func execFiles() throws(ExecFailure) -> (process: String, pid: String) {
        let directory = "\(context.settings.root)/exec"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch { throw ExecFailure("cannot create \(directory): \(error)") }
        let name = UUID().uuidString
        return ("\(directory)/\(name).json", "\(directory)/\(name).pid")
    }
}

extension Runc {
    /// The argv of `runc exec` for a session: the process from `processFile` (its terminal and
    /// size included), the command's pid into `pidFile`.
    func execArguments(id: String, processFile: String, pidFile: String) -> [String] {
        [binary, "--root", root, "exec", "--process", processFile, "--pid-file", pidFile, id]
    }
}

/// One exec request as the agent's URL carries it.
struct ExecRequest: Sendable {
    var namespace: String
    var pod: String
    var container: String
    var options: RemoteCommand.Options
    /// v5: the client closes its stdin with [255, 0].
    var closeSignal: Bool
}

struct ExecFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One `runc exec` and the traffic of its streams, until it has exited and all it wrote is sent.
struct ExecSession: Sendable {
    var options: RemoteCommand.Options
    var closeSignal: Bool

    /// How long a terminal session waits for the client's first size before starting the
    /// command: kubectl sends it as soon as the streams are up, and a program that reads the
    /// size at start (stty size, an editor) should see it rather than 80x24.
    static let firstSizeWait: Duration = .milliseconds(500)

    /// Runs the argv `command` makes (given the terminal's size, when known); its exit code.
    func run(pidFile: String, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
             command: @escaping @Sendable ((width: UInt16, height: UInt16)?) throws(ExecFailure) -> [String]) async throws(ExecFailure) -> Int32 {
        let io = try ExecIO.open(options)
        let control = ExecControl(terminal: io.terminal, pidFile: pidFile)
        let result: Result<Int32, ExecFailure> = await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.consume(inbound, io: io, control: control) }
            if options.tty { await control.awaitFirstSize(within: Self.firstSizeWait) }
            let pid: Int32
            do throws(ExecFailure) {
                pid = try control.start { size throws(ExecFailure) -> Int32 in try io.spawn(try command(size)) }
                // runc has its copies: once it and the command close theirs, the outputs end.
                io.closeChildEnds()
            } catch {
                io.closeChildEnds()
                io.closeOutputs()
                group.cancelAll()
                return .failure(error)
            }
            // Every output to its end (the command and runc have closed it), then the exit code:
            // the status must come after the last byte of output.
            await withTaskGroup(of: Void.self) { relays in
                for output in io.outputs {
                    relays.addTask { await Self.relay(output, to: outbound) }
                }
            }
            let code = ProcessRunner.exitCode(await ProcessRunner.shared.wait(pid))
            control.ended()
            group.cancelAll()
            return .success(code)
        }
        await io.input?.finish()
        io.closeTerminal()
        return try result.get()
    }

    /// The client's messages until its connection ends: stdin (0) to the command, sizes (4)
    /// to its terminal, and in v5 [255, 0] ends its stdin. A connection that ends before the
    /// command means the client has gone: the command is hung up. (Cancelled once the
    /// command has ended.)
    func consume(_ inbound: WebSocketInboundStream, io: ExecIO, control: ExecControl) async {
        do {
            for try await message in inbound.messages(maxSize: RemoteCommand.maxFrameSize) {
                guard case .binary(var buffer) = message, let stream = buffer.readInteger(as: UInt8.self) else { continue }
                let payload = Array(buffer.readableBytesView)
                switch stream {
                case RemoteCommand.Stream.stdin where options.stdin:
                    await io.input?.write(payload)
                case RemoteCommand.Stream.resize where options.tty:
                    for size in RemoteCommand.terminalSizes(payload) { control.resize(width: size.width, height: size.height) }
                case RemoteCommand.Stream.close where closeSignal && payload.first == RemoteCommand.Stream.stdin:
                    // Pipes: the command reads end-of-file. A terminal has no end of input
                    // (the kubelet leaves it open too); only further input is dropped.
                    await io.input?.finish()
                default:
                    continue
                }
            }
        } catch {}
        guard !Task.isCancelled else { return }
        await control.hangUp(grace: .seconds(5))
    }

    /// One output, read to its end, as messages of its stream (or dropped, when the client
    /// asked for no such stream). A client that has gone does not stop the reading: the
    /// command must not block on a full pipe before it is hung up.
    static func relay(_ output: ExecIO.Output, to outbound: WebSocketOutboundWriter) async {
        let reader = OutputReader(fd: output.fd, name: "netplane-exec-\(output.stream.map { "\($0)" } ?? "drop")")
        var sending = output.stream != nil
        for await chunk in reader.chunks {
            if sending, let stream = output.stream {
                do {
                    try await outbound.write(.binary(ByteBuffer(bytes: RemoteCommand.message(stream, chunk))))
                } catch {
                    sending = false
                }
            }
            reader.consumed()
        }
    }
}

/// The command's standard streams as the agent holds them: a pseudo-terminal (tty), or a pipe
/// per requested stream (the others are /dev/null).
struct ExecIO: Sendable {
    /// An output the agent reads, and the stream it goes out on (nil: read and dropped). The
    /// descriptor belongs to whoever reads it (OutputReader closes it).
    struct Output: Sendable {
        var stream: UInt8?
        var fd: Int32
    }

    /// The child's stdin, stdout, stderr (-1: /dev/null), closed here once it is spawned
    /// (closeChildEnds).
    let child: [Int32]
    let outputs: [Output]
    let input: InputWriter?
    /// The terminal's master (tty only): written as input, resized, closed by closeTerminal().
    let terminal: Int32?

    static func open(_ options: RemoteCommand.Options) throws(ExecFailure) -> ExecIO {
        try options.tty ? openTerminal(options) : openPipes(options)
    }

    /// A pseudo-terminal: the slave is all three streams of runc; the master's output is the
    /// terminal's (read through a duplicate, so that the reader owns what it closes).
    static func openTerminal(_ options: RemoteCommand.Options) throws(ExecFailure) -> ExecIO {
        var master: Int32 = -1
        var slave: Int32 = -1
        let rc = netplane_open_pty(&master, &slave, 80, 24)
        guard rc == 0 else { throw ExecFailure("cannot open a terminal: \(String(cString: strerror(-rc)))") }
        let reading = dup(master)
        guard reading >= 0 else {
            let error = errno
            close(master)
            close(slave)
            throw ExecFailure("dup: \(String(cString: strerror(error)))")
        }
        return ExecIO(child: [slave, slave, slave],
                      outputs: [Output(stream: options.stdout ? RemoteCommand.Stream.stdout : nil, fd: reading)],
                      input: options.stdin ? InputWriter(fd: master, owned: false) : nil,
                      terminal: master)
    }

    /// A pipe per requested stream.
    static func openPipes(_ options: RemoteCommand.Options) throws(ExecFailure) -> ExecIO {
        var opened: [Int32] = []
        func pipePair() throws(ExecFailure) -> (read: Int32, write: Int32) {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                let error = errno
                opened.forEach { close($0) }
                throw ExecFailure("pipe: \(String(cString: strerror(error)))")
            }
            opened += fds
            return (fds[0], fds[1])
        }
        var child: [Int32] = [-1, -1, -1]
        var outputs: [Output] = []
        var input: InputWriter?
        if options.stdin {
            let p = try pipePair()
            child[0] = p.read
            input = InputWriter(fd: p.write, owned: true)
        }
        for (wanted, stream) in [(options.stdout, RemoteCommand.Stream.stdout), (options.stderr, RemoteCommand.Stream.stderr)] where wanted {
            let p = try pipePair()
            child[Int(stream)] = p.write
            outputs.append(Output(stream: stream, fd: p.read))
        }
        return ExecIO(child: child, outputs: outputs, input: input, terminal: nil)
    }

    /// Starts `argv` on the child's streams, in a session of its own.
    func spawn(_ argv: [String]) throws(ExecFailure) -> Int32 {
        do {
            return try ProcessRunner.shared.spawn(argv, stdin: child[0], stdout: child[1], stderr: child[2], newSession: true)
        } catch {
            throw ExecFailure("cannot run runc: \(error)")
        }
    }

    /// Once runc has started, or could not be: the child's ends, once each.
    func closeChildEnds() {
        Set(child.filter { $0 >= 0 }).forEach { close($0) }
    }

    func closeTerminal() {
        if let terminal { close(terminal) }
    }

    /// When nothing was spawned: the outputs get no reader to close them.
    func closeOutputs() {
        outputs.forEach { close($0.fd) }
    }
}

/// What the client's control messages do to the running `runc exec`: resize its terminal,
/// hang it up when the client has gone. One lock orders them against the start and the end of
/// runc, so that no size is lost (set before the start, runc reads it; after, runc gets
/// SIGWINCH) and no signal goes to a pid that is no longer runc's.
final class ExecControl: Sendable {
    private struct State {
        /// runc's pid while it runs.
        var runc: Int32?
        var hungUp = false
        /// The client's latest terminal size.
        var size: (width: UInt16, height: UInt16)?
        /// Whether the wait for the first size is over.
        var sized = false
        var sizeWaiter: CheckedContinuation<Void, Never>?
    }

    /// The terminal's master (tty only).
    let terminal: Int32?
    let pidFile: String
    private let state = Mutex(State())

    init(terminal: Int32?, pidFile: String) {
        self.terminal = terminal
        self.pidFile = pidFile
    }

    /// Starts runc through `spawn` (given the terminal's size, if known), unless the client has
    /// already gone.
    func start(_ spawn: ((width: UInt16, height: UInt16)?) throws(ExecFailure) -> Int32) throws(ExecFailure) -> Int32 {
        let started = state.withLock { s -> Result<Int32, ExecFailure> in
            guard !s.hungUp else { return .failure(ExecFailure("the client went away before the command started")) }
            do throws(ExecFailure) {
                let pid = try spawn(s.size)
                s.runc = pid
                return .success(pid)
            } catch {
                return .failure(error)
            }
        }
        return try started.get()
    }

    /// runc has exited (and been reaped: its pid may be reused).
    func ended() {
        state.withLock { $0.runc = nil }
    }

    func resize(width: UInt16, height: UInt16) {
        guard let terminal else { return }
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            // The slave's size is what runc copies into the container at start and on SIGWINCH.
            _ = netplane_set_window_size(terminal, width, height)
            if let pid = s.runc { kill(pid, SIGWINCH) }
            s.size = (width, height)
            s.sized = true
            defer { s.sizeWaiter = nil }
            return s.sizeWaiter
        }
        waiter?.resume()
    }

    /// Returns once the client has sent a size, or after `limit`.
    func awaitFirstSize(within limit: Duration) async {
        let timer = Task { [self] in
            try? await Task.sleep(for: limit)
            stopWaitingForSize()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let sized = state.withLock { s -> Bool in
                if s.sized { return true }
                s.sizeWaiter = continuation
                return false
            }
            if sized { continuation.resume() }
        }
        timer.cancel()
    }

    private func stopWaitingForSize() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.sized = true
            defer { s.sizeWaiter = nil }
            return s.sizeWaiter
        }
        waiter?.resume()
    }

    /// The client has gone: SIGHUP, as a closed terminal would send (runc passes it on to the
    /// command). If runc still runs after `grace`, SIGKILL to the command itself (runc cannot
    /// pass SIGKILL on); if it still runs `grace` later (a process the command left behind
    /// holds its output open, and runc copies until that closes), SIGKILL to runc, which ends
    /// the session. What the command left behind stays, as it does with the kubelet.
    func hangUp(grace: Duration) async {
        let runc = state.withLock { s -> Int32? in
            s.hungUp = true
            return s.runc
        }
        guard let runc else { return }
        kill(runc, SIGHUP)
        try? await Task.sleep(for: grace)
        state.withLock { s in
            if let runc = s.runc, let command = commandPID(of: runc) { kill(command, SIGKILL) }
        }
        try? await Task.sleep(for: grace)
        state.withLock { s in
            if let runc = s.runc { kill(runc, SIGKILL) }
        }
    }

    /// The command's pid (from runc's --pid-file) while it is still runc's child: once it has
    /// ended and runc has reaped it, the pid may be another process's.
    private func commandPID(of runc: Int32) -> Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("PPid:") }),
              Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces)) == runc else { return nil }
        return pid
    }
}

/// One output of the command (a pipe, or the terminal's master), read on a thread of its own:
/// read(2) blocks, and a blocked call must not hold one of the few threads of Swift's
/// cooperative pool. At most `window` chunks wait unsent, so a client that reads slowly slows
/// the command down (through its full pipe) instead of filling the agent's memory. The thread
/// closes the descriptor when the output ends (end of file; EIO from a terminal's master once
/// runc has closed the slave).
final class OutputReader: Sendable {
    let chunks: AsyncStream<[UInt8]>
    private let credits: DispatchSemaphore

    init(fd: Int32, name: String, window: Int = 8) {
        // Created at 0 and raised, not created at `window`: libdispatch traps when a semaphore
        // is freed below its initial value, which a consumer that stops early could leave.
        let credits = DispatchSemaphore(value: 0)
        for _ in 0..<window { credits.signal() }
        let (chunks, continuation) = AsyncStream<[UInt8]>.makeStream()
        // A consumer that stops early must not leave the thread waiting for credit.
        continuation.onTermination = { _ in credits.signal() }
        self.chunks = chunks
        self.credits = credits
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 32 * 1024)
            while true {
                credits.wait()
                let n = read(fd, &buffer, buffer.count)
                if n < 0 && errno == EINTR {
                    credits.signal()
                    continue
                }
                guard n > 0 else { break }
                if case .terminated = continuation.yield(Array(buffer[0..<n])) { break }
            }
            close(fd)
            continuation.finish()
        }
        thread.name = name
        thread.start()
    }

    /// A chunk has been sent: the thread may read one more.
    func consumed() {
        credits.signal()
    }
}

/// The command's stdin (a pipe, or the terminal's master), written on a serial queue of its
/// own: write(2) blocks while the command does not read, and a blocked call must not hold a
/// thread of Swift's cooperative pool. Each write is awaited, so a client that sends faster
/// than the command reads is slowed down by TCP instead of buffered here.
final class InputWriter: Sendable {
    let fd: Int32
    /// Whether finish() closes `fd` (a pipe's end) or only stops writing (the terminal's
    /// master, which the session closes).
    let owned: Bool
    private let queue = DispatchQueue(label: "netplane.exec.stdin")
    /// Touched on `queue` only; a Mutex for the compiler's sake.
    private let open = Mutex(true)

    init(fd: Int32, owned: Bool) {
        self.fd = fd
        self.owned = owned
    }

    func write(_ bytes: [UInt8]) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                if open.withLock({ $0 }), !Self.writeAll(fd, bytes) {
                    // The command no longer reads (EPIPE, EIO): drop the rest.
                    stop()
                }
                continuation.resume()
            }
        }
    }

    /// Ends the input (a pipe's reader then reads end-of-file) once what is queued is written.
    func finish() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { [self] in
                stop()
                continuation.resume()
            }
        }
    }

    /// On `queue`.
    private func stop() {
        let wasOpen = open.withLock { isOpen in
            defer { isOpen = false }
            return isOpen
        }
        if wasOpen && owned { close(fd) }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}
