internal import CNetNS
import Glibc

extension NetNS {
    /// Runs `body` inside this namespace and returns its value (or rethrows its error).
    ///
    /// The body runs on a new pthread made for this one call: it `setns`-es into the
    /// namespace, runs the body, switches back, and exits. Namespaces belong to threads, so a
    /// thread pool or a Swift `Task` (which may hop threads) could leak the namespace into
    /// unrelated work; a dedicated, never-reused thread cannot. The calling thread is
    /// untouched, and blocks until the body returns, so keep bodies short and synchronous
    /// (a netlink socket opened inside keeps talking to this namespace after the thread is gone).
    ///
    /// Failing to get there (the thread cannot start, `setns` is refused) throws a
    /// `NamespaceError`; errors thrown by the body come back unchanged.
    public func run<T>(_ body: () throws -> T) throws -> T {
        try run(body, mapError: { $0 })
    }

    /// `run` with a typed error, for the layers built on `NetNS` (Netlink, NFTables, IPSet),
    /// which each throw their own error type: the body throws `E`, and `mapError` turns this
    /// namespace's own failures into an `E` as well.
    package func run<T, E: Error>(_ body: () throws(E) -> T,
                                  mapError: (NamespaceError) -> E) throws(E) -> T {
        var outcome: Result<T, E>?
        var failure: NamespaceError?
        let target = fd, operation = "enter network namespace \(path)"
        do throws(NamespaceError) {
            try onDedicatedThread(operation) {
                do throws(NamespaceError) {
                    try enterNetworkNamespace(target, operation) {
                        outcome = Result { () throws(E) -> T in try body() }
                    }
                } catch {
                    failure = error
                }
            }
        } catch {
            throw mapError(error)
        }
        if let failure { throw mapError(failure) }
        return try outcome!.get()
    }
}

/// Switches the calling thread into the namespace behind `fd`, runs `body`, and switches back.
/// Only ever called on a dedicated thread (see `onDedicatedThread`), which exits right after.
private func enterNetworkNamespace(_ fd: Int32, _ operation: String,
                                   _ body: () -> Void) throws(NamespaceError) {
    let home = try systemCall("open", "\(operation): open this thread's network namespace") {
        open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
    }
    defer { close(home) }
    try systemCall("setns", operation) { netplane_setns_net(fd) }
    // Switching back is belt and braces: the thread ends right after, taking its namespace
    // with it, so a failure here cannot leak into anyone else's work.
    defer { _ = netplane_setns_net(home) }
    body()
}

/// Runs `work` to completion on a fresh pthread and waits for it.
///
/// The closure is only borrowed for the duration of the call (the thread is joined before
/// returning), which is what makes handing a non-Sendable closure to another thread sound.
func onDedicatedThread(_ operation: @autoclosure () -> String,
                       _ work: () -> Void) throws(NamespaceError) {
    try withoutActuallyEscaping(work) { (work) throws(NamespaceError) in
        let job = Unmanaged.passRetained(ThreadJob(work)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadJob>.fromOpaque(raw!).takeRetainedValue().work()
            return nil
        }, job)
        guard status == 0 else {
            Unmanaged<ThreadJob>.fromOpaque(job).release()
            throw .system(status, "\(operation()): start a thread", call: "pthread_create")
        }
        pthread_join(thread, nil)
    }
}

/// Carries a borrowed closure across `pthread_create`.
private final class ThreadJob: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
