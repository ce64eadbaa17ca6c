import Glibc

/// A handle on a network namespace: an open file descriptor of one of its `ns/net` files.
///
/// Holding the descriptor keeps the namespace alive even if its `/run/netns` name is removed,
/// and makes it a stable thing to pass around: code that must act inside a namespace takes a
/// `NetNS` explicitly instead of relying on whichever namespace the current thread is in.
/// The descriptor is closed when the last reference goes away.
///
/// This is the one place Netplane enters namespaces: Netlink, NFTables and IPSet all open
/// their sockets for another namespace through `run`.
public final class NetNS: Sendable, CustomStringConvertible {
    /// The open namespace file, valid for the lifetime of this object.
    public let fd: Int32
    /// The path it was opened from, for messages.
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    /// Opens any namespace file (`/run/netns/NAME`, `/proc/PID/ns/net`, a bind mount elsewhere).
    public static func open(path: String) throws(NamespaceError) -> NetNS {
        let fd = try systemCall("open", "open network namespace \(path)") {
            Glibc.open(path, O_RDONLY | O_CLOEXEC)
        }
        return NetNS(fd: fd, path: path)
    }

    /// The namespace of process `pid`.
    public static func open(pid: Int32) throws(NamespaceError) -> NetNS {
        try open(path: "/proc/\(pid)/ns/net")
    }

    /// A named namespace as `ip netns` knows it: `/run/netns/NAME`.
    public static func open(name: String) throws(NamespaceError) -> NetNS {
        try open(path: path(forName: name, "open network namespace \(name)"))
    }

    /// The namespace the *calling thread* is in (namespaces are per thread, not per process).
    public static func current() throws(NamespaceError) -> NetNS {
        try open(path: "/proc/thread-self/ns/net")
    }

    /// The namespace's identity: two handles refer to the same namespace exactly when their
    /// identities are equal (the kernel names namespaces by the inode of their nsfs file).
    public var identity: NamespaceIdentity {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return NamespaceIdentity(device: 0, inode: 0) }
        return NamespaceIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Whether both handles refer to the same namespace.
    public func isSame(as other: NetNS) -> Bool { identity == other.identity }

    public var description: String { "netns \(path)" }

    /// Where `ip netns` keeps its bind mounts.
    public static let runDirectory = "/run/netns"

    static func path(forName name: String, _ operation: String) throws(NamespaceError) -> String {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), name.utf8.count < 256 else {
            throw .invalidName(name, operation)
        }
        return "\(runDirectory)/\(name)"
    }
}

/// The kernel's name for a namespace (device and inode of its nsfs file), as `ls -i` or
/// `readlink /proc/PID/ns/net` (`net:[INODE]`) show it.
public struct NamespaceIdentity: Hashable, Sendable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64
    public var description: String { "net:[\(inode)]" }
}
