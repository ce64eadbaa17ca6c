import ArgumentParser
import Client
import Foundation
import Logging
import Synchronization

/// Waits for SIGTERM or SIGINT with a plain signal handler that writes to a pipe (async-signal
/// safe) and a thread of its own, with the signals unblocked, that reads it. libdispatch's
/// signal sources lost the signal when the process was started by Foundation's Process (every
/// live thread blocked it, the main thread having exited into dispatch_main).
enum Signals {
    nonisolated(unsafe) static var writeFD: Int32 = -1

    /// Returns the first SIGTERM or SIGINT received from now on.
    static func next() async -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return SIGTERM }
        writeFD = fds[1]
        let handler: @convention(c) (Int32) -> Void = { sig in
            var byte = UInt8(truncatingIfNeeded: sig)
            _ = write(Signals.writeFD, &byte, 1)
        }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
        let readFD = fds[0]
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                // The thread the kernel delivers the signal to: libdispatch's and NIO's threads
                // block it, and the main thread has exited into dispatch_main.
                var mask = sigset_t()
                sigemptyset(&mask)
                sigaddset(&mask, SIGTERM)
                sigaddset(&mask, SIGINT)
                pthread_sigmask(SIG_UNBLOCK, &mask, nil)
                var byte: UInt8 = 0
                while read(readFD, &byte, 1) < 0 && errno == EINTR {}
                continuation.resume(returning: Int32(byte))
            }
        }
    }
}

/// What every daemon subcommand does on the way out.
enum Daemon {
    /// Closes the API connections, but never lets a connection that will not close hold the
    /// exit (an informer may be mid-reconnect to an API server that is going away too), then
    /// exits 0.
    static func close(_ client: APIClient, logger: Logger, _ message: String) async -> Never {
        let closed = ClosedFlag()
        Task {
            await client.shutdown()
            closed.set()
        }
        for _ in 0..<60 where !closed.isSet { try? await Task.sleep(for: .milliseconds(50)) }
        logger.info("\(message)")
        Foundation.exit(0)
    }

    /// The kubeconfig's client, or a usage error naming the flag.
    static func client(kubeconfig: String) throws -> APIClient {
        let config: ClientConfig
        do { config = try ClientConfig.kubeconfig(kubeconfig) } catch { throw ValidationError("--kubeconfig: \(error)") }
        return try APIClient(config)
    }
}

/// Set once the API connections are closed.
final class ClosedFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
