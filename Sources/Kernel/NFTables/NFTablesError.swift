import NetNamespace

/// An error from the nftables layer, naming the operation and the object it was about.
///
/// A public struct around a private-ish code enum so cases can be added without breaking users.
public struct NFTablesError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The kernel refused one operation of a transaction (errno).
        case kernel(errno: Int32)
        /// The caller asked for something invalid (caught before anything was sent).
        case invalidArgument(String)
        /// A socket or system call failed.
        case system(call: String, errno: Int32)
    }

    public var code: Code
    /// The operation and object, e.g. `add rule ip netplane svc-1`.
    public var object: String
    /// Extended-ack text from the kernel, when it gave one.
    public var kernelMessage: String?

    public init(_ code: Code, object: String, kernelMessage: String? = nil) {
        self.code = code; self.object = object; self.kernelMessage = kernelMessage
    }

    /// The errno for kernel and system failures.
    public var errno: Int32? {
        switch code { case .kernel(let e), .system(_, let e): e; case .invalidArgument: nil }
    }

    public var description: String {
        switch code {
        case .kernel(let e):
            "\(object): \(errnoText(e))" + (kernelMessage.map { " (\($0))" } ?? "")
        case .invalidArgument(let why): "\(object): \(why)"
        case .system(let call, let e): "\(object): \(call) failed: \(errnoText(e))"
        }
    }
}

extension NFTablesError {
    /// A failure to open or enter the network namespace at `path`, as a system error about it
    /// (e.g. `network namespace /run/netns/x: open failed: No such file or directory`).
    init(namespace error: NamespaceError, path: String) {
        self.init(.system(call: error.systemCall ?? error.operation, errno: error.errno),
                  object: "network namespace \(path)")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

func errnoText(_ e: Int32) -> String {
    guard let s = strerror(e) else { return "errno \(e)" }
    return String(cString: s)
}
