import CNetlink
import Glibc

/// A failed netlink, namespace or sysctl operation.
///
/// The description names the operation and the object it acted on, then the reason, e.g.
/// `add route 10.1.0.0/24 via 10.0.0.1: No such process`. Callers match on `code`, never on the
/// text: the code is derived from the kernel's errno or libnl's `NLE_*` number.
public struct NetlinkError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a small set callers can match on (`error.code == .exists`).
    ///
    /// A struct rather than an enum so codes can be added without breaking anyone's `switch`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable {
            case linkNotFound, notFound, exists, invalidArgument, permissionDenied
            case busy, unsupported, unreachable, noBufferSpace, system
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// No link (interface) with the given name or index exists in the namespace.
        public static let linkNotFound = Code(.linkNotFound)
        /// The object to delete or change does not exist (route, address, neighbour, file).
        public static let notFound = Code(.notFound)
        /// The object to add already exists (`EEXIST`): `add` is exclusive, use `replace`.
        public static let exists = Code(.exists)
        /// The request was refused as malformed or inconsistent (`EINVAL`, `ERANGE`).
        public static let invalidArgument = Code(.invalidArgument)
        /// The caller lacks the capability (`EPERM`, `EACCES`): most operations need root.
        public static let permissionDenied = Code(.permissionDenied)
        /// The object is in use (`EBUSY`).
        public static let busy = Code(.busy)
        /// The kernel lacks the feature, e.g. a link kind whose module is missing (`EOPNOTSUPP`).
        public static let unsupported = Code(.unsupported)
        /// A gateway or destination is not reachable from the given device (`ENETUNREACH`).
        public static let unreachable = Code(.unreachable)
        /// The socket buffer overflowed and replies were lost (`ENOBUFS`); the outcome is unknown.
        public static let noBufferSpace = Code(.noBufferSpace)
        /// Any other system error; `errno` says which.
        public static let system = Code(.system)

        public var description: String { "\(base)" }

        static func from(errno value: Int32) -> Code {
            switch value {
            case EEXIST: .exists
            case ENODEV: .linkNotFound
            case ESRCH, ENOENT, EADDRNOTAVAIL: .notFound
            case EPERM, EACCES: .permissionDenied
            case EINVAL, ERANGE, EAFNOSUPPORT: .invalidArgument
            case EBUSY: .busy
            case EOPNOTSUPP, EPROTONOSUPPORT: .unsupported
            case ENETUNREACH, EHOSTUNREACH: .unreachable
            case ENOBUFS: .noBufferSpace
            default: .system
            }
        }

        static func from(libnl value: Int32) -> Code {
            switch value {
            case NLE_EXIST: .exists
            case NLE_NODEV: .linkNotFound
            case NLE_OBJ_NOTFOUND: .notFound
            case NLE_PERM: .permissionDenied
            case NLE_INVAL, NLE_RANGE, NLE_MISSING_ATTR, NLE_AF_MISMATCH, NLE_MSGSIZE, NLE_AF_NOSUPPORT:
                .invalidArgument
            case NLE_BUSY: .busy
            case NLE_OPNOTSUPP, NLE_PROTO_MISMATCH: .unsupported
            case NLE_NOADDR: .notFound
            default: .system
            }
        }
    }

    public let code: Code
    /// The operation and its object, e.g. `add route 10.1.0.0/24 via 10.0.0.1`.
    public let operation: String
    /// The errno from the kernel or libc, when the failure came with one.
    public let errno: Int32?
    /// The link the failure is about, when the code is `.linkNotFound` and the name is known.
    public let link: String?
    /// Why, in words: the kernel's extended-ack text, libnl's message, or Netplane's own reason.
    public let reason: String

    package init(code: Code, operation: String, errno: Int32? = nil, link: String? = nil, reason: String) {
        self.code = code
        self.operation = operation
        self.errno = errno
        self.link = link
        self.reason = reason
    }

    public var description: String { "\(operation): \(reason)" }
}

extension NetlinkError {
    /// A failure the kernel or libc reported as `errno` (positive), with the kernel's
    /// extended-ack message appended when there is one.
    package static func system(_ errno: Int32, _ operation: String, kernelMessage: String? = nil,
                       link: String? = nil) -> NetlinkError {
        var reason = String(cString: strerror(errno))
        if let kernelMessage, !kernelMessage.isEmpty { reason += " (\(kernelMessage))" }
        return NetlinkError(code: .from(errno: errno), operation: operation, errno: errno,
                            link: link, reason: reason)
    }

    /// A failure libnl reported as a negative or positive `NLE_*` number.
    package static func libnl(_ code: Int32, _ operation: String) -> NetlinkError {
        let value = abs(code)
        return NetlinkError(code: .from(libnl: value), operation: operation,
                            reason: String(cString: nl_geterror(value)))
    }

    /// The named link does not exist in the handle's namespace.
    static func noLink(_ name: String, _ operation: String) -> NetlinkError {
        NetlinkError(code: .linkNotFound, operation: operation, errno: ENODEV, link: name,
                     reason: "no link named \"\(name)\"")
    }

    /// Netplane refused the request before sending it.
    static func invalid(_ reason: String, _ operation: String) -> NetlinkError {
        NetlinkError(code: .invalidArgument, operation: operation, errno: EINVAL, reason: reason)
    }
}

/// Retries `call` while it fails with `EINTR` and turns any other failure into a typed error.
@discardableResult
func systemCall(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(NetlinkError) -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw .system(code, operation())
    }
}

extension NetlinkError {
    /// Runs `body`, treating a failure with `code` as done: `.exists` for an add that
    /// may race with another process, `.notFound`/`.linkNotFound` for a delete that may be
    /// repeated. Returns whether `body` itself succeeded.
    @discardableResult
    public static func ignoring(_ code: Code, _ body: () throws -> Void) throws -> Bool {
        do {
            try body()
            return true
        } catch {
            guard (error as? NetlinkError)?.code == code else { throw error }
            return false
        }
    }
}
