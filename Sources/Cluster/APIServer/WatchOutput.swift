public import NIOCore
import Synchronization

/// One line of a watch (a JSON event and its newline, or a length-prefixed protobuf frame),
/// made once and shared by every watcher it goes to, already framed as the HTTP/1.1 chunk
/// the connection writes as it is (APIHTTPResponder.response).
public final class WatchLine: Sendable {
    /// The chunk: the line's size in hex, CRLF, the line, CRLF. Empty for an empty line, which
    /// as a chunk ("0", CRLF, CRLF) would end the response.
    public let chunk: ByteBuffer
    /// Where the line starts in `chunk`.
    private let start: Int

    public init(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else {
            chunk = ByteBuffer()
            start = 0
            return
        }
        let size = String(bytes.count, radix: 16)
        var chunk = ByteBuffer()
        chunk.reserveCapacity(size.utf8.count + bytes.count + 4)
        chunk.writeString(size)
        chunk.writeStaticString("\r\n")
        start = chunk.writerIndex
        chunk.writeBytes(bytes)
        chunk.writeStaticString("\r\n")
        self.chunk = chunk
    }

    /// The line itself (a view into the chunk, no copy).
    public var line: ByteBuffer {
        chunk.getSlice(at: chunk.readerIndex + start, length: max(0, chunk.readableBytes - start - 2)) ?? ByteBuffer()
    }
}

/// The lines of one watch response on their way to its client. Lines sent before a carrier
/// (the HTTP connection) attaches wait here; after, each goes to the carrier on the thread
/// that sends it (the store's delivery thread), in order, with no task and no stream in
/// between. A line to 100 watchers used to wake 100 tasks, each of which then handed its line
/// to its connection's event loop; now the store's thread hands it over itself.
public final class WatchOutput: Sendable {
    private struct State {
        /// Lines sent before the carrier attached.
        var pending: [WatchLine] = []
        var carry: (@Sendable ([WatchLine]) -> Void)?
        var finished = false
        /// Called once, when the watch finishes (they stop the store's watch and the timer).
        var onFinish: [@Sendable () -> Void] = []
        /// The carrier waiting for the end, to close the response.
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    /// Sends a line; dropped once the watch has finished, or if it is empty. The carrier is
    /// called under the lock, so lines from different threads (the store's, the bookmark
    /// timer's) keep the order in which they were sent; it must hand the lines on, never call
    /// back in.
    public func send(_ line: WatchLine) {
        guard line.chunk.readableBytes > 0 else { return }
        state.withLock { state in
            if state.finished { return }
            if let carry = state.carry { carry([line]) } else { state.pending.append(line) }
        }
    }

    /// Sends the line `bytes` make (one made for this watch alone: an initial ADDED, a
    /// bookmark, an ERROR).
    public func send(_ bytes: [UInt8]) { send(WatchLine(bytes)) }

    /// Hands the waiting lines (in one call) and every later one to `carry`. Lines sent before
    /// a finish (an ERROR event before the end) are handed over even when the watch has
    /// finished; the answer says whether it has not.
    @discardableResult
    public func attach(_ carry: @escaping @Sendable ([WatchLine]) -> Void) -> Bool {
        state.withLock { state in
            precondition(state.carry == nil, "a watch has one carrier")
            if !state.pending.isEmpty { carry(state.pending) }
            state.pending = []
            if state.finished { return false }
            state.carry = carry
            return true
        }
    }

    /// Ends the watch: no more lines; the waiting carrier returns. The first call runs the
    /// `whenFinished` actions, outside the lock.
    public func finish() {
        let (actions, waiter) = state.withLock { state -> ([@Sendable () -> Void], CheckedContinuation<Void, Never>?) in
            if state.finished { return ([], nil) }
            state.finished = true
            state.carry = nil
            defer { state.onFinish = []; state.waiter = nil }
            return (state.onFinish, state.waiter)
        }
        for action in actions { action() }
        waiter?.resume()
    }

    /// Runs `action` when the watch finishes (now, if it has).
    public func whenFinished(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.finished { return true }
            state.onFinish.append(action)
            return false
        }
        if now { action() }
    }

    /// Returns once the watch has finished; a cancelled caller finishes it. One caller: the
    /// carrier.
    public func finished() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.finished { return true }
                    precondition(state.waiter == nil, "one caller waits for a watch's end")
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            finish()
        }
    }
}
