import CNetplaneShim
import Glibc

/// Runs a piece of work on a dedicated thread that has entered another network namespace.
///
/// A netlink socket belongs to the namespace of the thread that creates it, for its whole
/// life. So a handle for namespace X is made by opening its socket on a fresh thread that
/// has `setns`-ed into X; the thread then switches back and exits, and the socket can be used
/// from any thread. The calling thread's own namespace is never changed.
enum NamespaceThread {
    /// `/run/netns/NAME` for a bare name, the text itself for anything with a `/`.
    static func resolve(_ nameOrPath: String) -> String {
        nameOrPath.contains("/") ? nameOrPath : "/run/netns/\(nameOrPath)"
    }

    /// Opens the namespace file at `path` (`O_RDONLY | O_CLOEXEC`).
    static func open(path: String) throws(IPSetError) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("cannot open network namespace \(path)", errno) }
        return fd
    }

    /// Whether the calling thread is already in the namespace `fd` refers to.
    static func isCurrent(_ fd: Int32) -> Bool {
        var target = stat(), current = stat()
        guard fstat(fd, &target) == 0, stat("/proc/thread-self/ns/net", &current) == 0 else { return false }
        return target.st_dev == current.st_dev && target.st_ino == current.st_ino
    }

    static func failure(_ what: String, _ code: Int32) -> IPSetError {
        let text = "\(what): \(String(cString: strerror(code)))"
        return IPSetError(code: .namespace(text), operation: "open", message: text)
    }

    /// Runs `body` on a new thread inside the namespace `target` (an open namespace file),
    /// waits for it, and returns its result. Throws `.namespace` when the thread cannot be
    /// started or cannot enter the namespace.
    static func run<T>(inNamespace target: Int32, _ body: () -> T) throws(IPSetError) -> T {
        var result: T?
        var enterError: Int32 = 0
        let outcome: Int32 = withoutActuallyEscaping(body) { body in
            let work = ThreadWork {
                // The namespace this thread started in, to switch back to before it exits.
                let home = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                defer { if home >= 0 { close(home) } }
                guard netplane_setns_net(target) == 0 else { enterError = errno; return }
                result = body()
                if home >= 0 { _ = netplane_setns_net(home) }
            }
            let context = Unmanaged.passRetained(work).toOpaque()
            var thread = pthread_t()
            let created = pthread_create(&thread, nil, { raw in
                let work = Unmanaged<ThreadWork>.fromOpaque(raw!).takeRetainedValue()
                work.run()
                return nil
            }, context)
            guard created == 0 else {
                Unmanaged<ThreadWork>.fromOpaque(context).release()
                return created
            }
            pthread_join(thread, nil)
            return 0
        }
        guard outcome == 0 else { throw failure("cannot start a thread to enter a network namespace", outcome) }
        guard enterError == 0, let result else { throw failure("cannot enter network namespace", enterError) }
        return result
    }
}

/// The closure a namespace thread runs; a class so it can travel through pthread's `void *`.
private final class ThreadWork {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
