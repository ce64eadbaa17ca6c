import CNetlink
import Glibc

/// One route-netlink socket, bound to the namespace it was opened in.
///
/// Every operation on links, addresses, routes, neighbours and the bridge FDB goes through a
/// handle; a handle for another namespace is opened with `init(namespace:)` and then used from
/// any thread, because a netlink socket keeps talking to the namespace it was created in.
/// Verbs follow iproute2: `add` fails with `.exists` if the object is there (NLM_F_EXCL),
/// `replace` creates or overwrites (NLM_F_REPLACE), `append` adds alongside (NLM_F_APPEND).
///
/// A handle is not thread-safe (it numbers its requests and owns one receive buffer): keep it
/// in one actor or thread, or open one per user.
public final class NetlinkHandle {
    let socket: OpaquePointer
    let fd: Int32
    /// Receives one netlink datagram; dump datagrams never exceed 32 KiB.
    let receiveBuffer: UnsafeMutableRawBufferPointer
    /// Requests the batch path sends before it waits, sized so that even if every one of them
    /// fails the error replies fit in the socket's receive buffer.
    let window: Int
    var sequence: UInt32

    /// Opens a socket in the calling thread's namespace.
    public convenience init() throws(NetlinkError) {
        try self.init(socket: Self.openSocket(NETLINK_ROUTE))
    }

    /// Opens a socket inside `namespace` (on a short-lived thread, see `NetNS.run`).
    public convenience init(namespace: NetNS) throws(NetlinkError) {
        try self.init(netlinkProtocol: NETLINK_ROUTE, namespace: namespace)
    }

    /// A socket of another netlink protocol (NETLINK_GENERIC for IPVS), in `namespace` or
    /// the calling thread's, with the same request/reply machinery.
    package convenience init(netlinkProtocol proto: Int32, namespace: NetNS?) throws(NetlinkError) {
        if let namespace {
            let opened = try namespace.runTyped { () throws(NetlinkError) in SocketBox(try Self.openSocket(proto)) }
            try self.init(socket: opened.socket)
        } else {
            try self.init(socket: Self.openSocket(proto))
        }
    }

    private init(socket: OpaquePointer) throws(NetlinkError) {
        self.socket = socket
        fd = nl_socket_get_fd(socket)
        receiveBuffer = .allocate(byteCount: 64 * 1024, alignment: 8)
        sequence = UInt32(truncatingIfNeeded: time(nil))

        // Large buffers let the batch path keep hundreds of requests in flight; FORCE works for
        // root past net.core.rmem_max, the plain option is the fallback for everyone else.
        Self.setBuffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, 4 << 20)
        Self.setBuffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, 1 << 20)
        // Extended acks carry the kernel's reason in words; capped acks do not echo the request.
        var on: Int32 = 1
        _ = setsockopt(fd, solNetlink, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, solNetlink, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))

        // Requests are handled while they are sent, so a reply that does not come within
        // seconds never will; fail instead of blocking the caller forever.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var receive: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive, &length)
        // An error reply costs well under 1 KiB of receive buffer (skb overhead included).
        window = min(1024, max(16, Int(receive) / 1024))
    }

    deinit {
        nl_socket_free(socket)
        receiveBuffer.deallocate()
    }

    private static func setBuffer(_ fd: Int32, _ forced: Int32, _ plain: Int32, _ bytes: Int32) {
        var size = bytes
        let length = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, forced, &size, length) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, plain, &size, length)
        }
    }

    private static func openSocket(_ proto: Int32) throws(NetlinkError) -> OpaquePointer {
        guard let socket = nl_socket_alloc() else {
            throw .system(ENOMEM, "allocate a netlink socket")
        }
        let status = nl_connect(socket, proto)
        guard status >= 0 else {
            nl_socket_free(socket)
            throw .libnl(status, "connect a netlink socket (protocol \(proto))")
        }
        return socket
    }

    func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }
}

/// Not `Sendable`: a handle numbers its requests and owns one receive buffer, so two threads
/// using it at once would read each other's replies.
@available(*, unavailable)
extension NetlinkHandle: Sendable {}

/// `SOL_NETLINK` from <linux/socket.h>, which Glibc does not export to Swift.
let solNetlink: Int32 = 270

/// Moves a freshly opened socket pointer off the namespace thread.
private struct SocketBox: @unchecked Sendable {
    let socket: OpaquePointer
    init(_ socket: OpaquePointer) { self.socket = socket }
}
