import Foundation
import Synchronization

/// Waiting for SIGTERM and SIGINT, through a plain signal handler that writes to a
/// pipe (async-signal safe) and a thread of its own, with the signals unblocked, that reads
/// it. libdispatch's signal sources lost the signal when the process was started by
/// Foundation's Process (every live thread blocked it, the main thread having exited into
/// dispatch_main).
public enum Signals {
    nonisolated(unsafe) static var writeFD: Int32 = -1

    /// The tasks waiting in `next()`, each resumed by the next signal.
    static let waiters = Mutex<(next: Int, waiting: [Int: CheckedContinuation<Int32?, Never>])>((0, [:]))

    /// Installed on first use: the handler, and the thread that reads the pipe and wakes
    /// every waiter.
    static let installed: Bool = {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return false }
        writeFD = fds[1]
        let handler: @convention(c) (Int32) -> Void = { sig in
            var byte = UInt8(truncatingIfNeeded: sig)
            _ = write(Signals.writeFD, &byte, 1)
        }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
        let readFD = fds[0]
        Thread.detachNewThread {
            // The thread the kernel delivers the signal to: libdispatch's and NIO's threads
            // block it, and the main thread has exited into dispatch_main.
            var mask = sigset_t()
            sigemptyset(&mask)
            sigaddset(&mask, SIGTERM)
            sigaddset(&mask, SIGINT)
            pthread_sigmask(SIG_UNBLOCK, &mask, nil)
            while true {
                var byte: UInt8 = 0
                let count = read(readFD, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                guard count == 1 else { break }
                let woken = waiters.withLock { state in
                    defer { state.waiting = [:] }
                    return Array(state.waiting.values)
                }
                for waiter in woken { waiter.resume(returning: Int32(byte)) }
            }
        }
        return true
    }()

    /// The next SIGTERM or SIGINT (nil if the waiting task is cancelled first). From the first
    /// call on, these signals no longer terminate the process by themselves.
    public static func next() async -> Int32? {
        guard installed else { return nil }
        let id = waiters.withLock { state in
            state.next += 1
            return state.next
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelled = waiters.withLock { state in
                    if Task.isCancelled { return true }
                    state.waiting[id] = continuation
                    return false
                }
                if cancelled { continuation.resume(returning: nil) }
            }
        } onCancel: {
            waiters.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }
}
