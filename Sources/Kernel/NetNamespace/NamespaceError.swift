import Glibc

/// A failed network-namespace operation: opening, entering, creating or deleting one.
///
/// The description names the operation and the namespace, then the reason, e.g.
/// `open network namespace /run/netns/pod1: No such file or directory`. Callers match on
/// `code`, never on the text. The layers built on `NetNS` (Netlink, NFTables, IPSet) turn it
/// into their own error types, keeping the errno.
public struct NamespaceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as a small set callers can match on (`error.code == .notFound`).
    public enum Code: Hashable, Sendable {
        /// No namespace at that path, name or pid (`ENOENT`), e.g. a deleted `/run/netns` name.
        case notFound
        /// `create(name:)` found the name taken (`EEXIST`).
        case exists
        /// The name is not a single path component under `/run/netns`; refused before any
        /// system call.
        case invalidName
        /// The caller lacks the capability (`EPERM`, `EACCES`): entering or creating a
        /// namespace needs `CAP_SYS_ADMIN`.
        case permissionDenied
        /// Any other failure; `errno` and `systemCall` say which.
        case system

        static func from(errno value: Int32) -> Code {
            switch value {
            case ENOENT: .notFound
            case EEXIST: .exists
            case EPERM, EACCES: .permissionDenied
            default: .system
            }
        }
    }

    public let code: Code
    /// The operation and the namespace it was about, e.g. `enter network namespace /run/netns/pod1`.
    public let operation: String
    /// The errno from the kernel or libc (`EINVAL` for an invalid name).
    public let errno: Int32
    /// The C call that failed (`open`, `setns`, `unshare`, `mount`, `pthread_create`, ...);
    /// nil when Netplane refused the request before calling anything.
    public let systemCall: String?
    /// Why, in words: `strerror(errno)` or Netplane's own reason.
    public let reason: String

    init(code: Code, operation: String, errno: Int32, systemCall: String?, reason: String) {
        self.code = code
        self.operation = operation
        self.errno = errno
        self.systemCall = systemCall
        self.reason = reason
    }

    public var description: String { "\(operation): \(reason)" }
}

extension NamespaceError {
    /// `call` failed with `errno` (positive) while doing `operation`.
    static func system(_ errno: Int32, _ operation: String, call: String) -> NamespaceError {
        NamespaceError(code: .from(errno: errno), operation: operation, errno: errno, systemCall: call,
                       reason: String(cString: strerror(errno)))
    }

    /// `name` cannot be a name under `/run/netns`.
    static func invalidName(_ name: String, _ operation: String) -> NamespaceError {
        NamespaceError(code: .invalidName, operation: operation, errno: EINVAL, systemCall: nil,
                       reason: "invalid namespace name \"\(name)\" (one path component, at most 255 bytes)")
    }
}

/// Retries `body` while it fails with `EINTR` and turns any other failure of `call` into a
/// typed error.
@discardableResult
func systemCall(_ call: String, _ operation: @autoclosure () -> String,
                _ body: () -> Int32) throws(NamespaceError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw .system(code, operation(), call: call)
    }
}
