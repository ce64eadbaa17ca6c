import CNetlink
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
    public func run<T>(_ body: () throws -> T) throws -> T {
        var outcome: Result<T, any Error>?
        let target = fd, where_ = path
        try withoutActuallyEscaping(body) { body in
            try onDedicatedThread {
                outcome = Result { () throws -> T in
                    try enterNetworkNamespace(target, describing: where_) { try body() }
                }
            }
        }
        return try outcome!.get()
    }
}

extension NetNS {
    /// `NetNS.run` for bodies whose only error is a `NetlinkError`, keeping the error typed.
    func runTyped<T>(_ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        let result: Result<T, NetlinkError>
        do {
            result = try run { () -> Result<T, NetlinkError> in
                do throws(NetlinkError) { return .success(try body()) } catch { return .failure(error) }
            }
        } catch let error as NetlinkError {
            throw error
        } catch {
            throw NetlinkError(code: .system, operation: "run in \(self)", reason: "\(error)")
        }
        return try result.get()
    }
}

/// Switches the calling thread into the namespace behind `fd`, runs `body`, and switches back.
/// Only ever called on a dedicated thread (see `onDedicatedThread`), which exits right after.
private func enterNetworkNamespace<T>(_ fd: Int32, describing path: String,
                                      _ body: () throws -> T) throws -> T {
    let home = try systemCall("open this thread's network namespace") {
        open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
    }
    defer { close(home) }
    try systemCall("enter network namespace \(path)") { setns(fd, netplane_clone_newnet) }
    // Switching back is belt and braces: the thread ends right after, taking its namespace
    // with it, so a failure here cannot leak into anyone else's work.
    defer { _ = setns(home, netplane_clone_newnet) }
    return try body()
}

/// Runs `work` to completion on a fresh pthread and waits for it.
///
/// The closure is only borrowed for the duration of the call (the thread is joined before
/// returning), which is what makes handing a non-Sendable closure to another thread sound.
func onDedicatedThread(_ work: () -> Void) throws(NetlinkError) {
    try withoutActuallyEscaping(work) { (work) throws(NetlinkError) in
        let job = Unmanaged.passRetained(ThreadJob(work)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadJob>.fromOpaque(raw!).takeRetainedValue().work()
            return nil
        }, job)
        guard status == 0 else {
            Unmanaged<ThreadJob>.fromOpaque(job).release()
            throw .system(status, "start a namespace thread")
        }
        pthread_join(thread, nil)
    }
}

/// Carries a borrowed closure across `pthread_create`.
private final class ThreadJob: @unchecked Sendable {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
