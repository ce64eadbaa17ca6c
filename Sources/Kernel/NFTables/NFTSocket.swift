internal import CNftnl
#if canImport(Glibc)
import Glibc
#endif
/// `NetNS` (from NetNamespace, shared with Netlink and IPSet) is part of this module's API:
/// re-exported so `import NFTables` is enough to open a socket in another namespace.
@_exported public import NetNamespace

/// One nftables netlink socket, bound to the network namespace it was opened in.
///
/// `commit` sends a whole `Transaction` in a single `sendmsg` — the kernel applies an
/// nfnetlink batch atomically and synchronously inside that call — and then reads back the
/// errors it queued, naming the operation each one belongs to.
public final class NFTSocket {
    let socket: OpaquePointer
    let portID: UInt32
    private var seq: UInt32

    /// Opens a socket in the calling thread's network namespace, or in `namespace`.
    ///
    /// For another namespace the socket is opened inside `namespace.run`, on a short-lived
    /// thread that has entered it: the socket stays bound to that namespace, and the calling
    /// thread's namespace is never changed. Failing to enter it is a `.system` error about
    /// `network namespace PATH`.
    public init(namespace: NetNS? = nil) throws(NFTablesError) {
        let opened: Result<OpaquePointer, NFTablesError>
        if let namespace {
            opened = try namespace.run({ () throws(NFTablesError) in NFTSocket.open() },
                                       mapError: { NFTablesError(namespace: $0, path: namespace.path) })
        } else {
            opened = NFTSocket.open()
        }
        socket = try opened.get()
        portID = mnl_socket_get_portid(socket)
        seq = UInt32(truncatingIfNeeded: time(nil))
        let fd = mnl_socket_get_fd(socket)
        var on: Int32 = 1
        // Errors carry only the failing message's header, plus the kernel's explanation.
        setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, socklen_t(MemoryLayout<Int32>.size))
        var rcv: Int32 = 4 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Opens a socket in the network namespace at `namespacePath` (e.g. `/run/netns/node1`);
    /// see `init(namespace:)`.
    public convenience init(namespacePath: String) throws(NFTablesError) {
        let namespace: NetNS
        do {
            namespace = try NetNS.open(path: namespacePath)
        } catch {
            throw NFTablesError(namespace: error, path: namespacePath)
        }
        try self.init(namespace: namespace)
    }

    deinit { mnl_socket_close(socket) }

    static func open() -> Result<OpaquePointer, NFTablesError> {
        // Close-on-exec: a CNI plugin spawns its IPAM plugin while this socket may be open.
        guard let s = mnl_socket_open2(NETLINK_NETFILTER, Int32(SOCK_CLOEXEC.rawValue)) else {
            return .failure(NFTablesError(.system(call: "mnl_socket_open2", errno: errno), object: "nftables socket"))
        }
        guard mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = errno
            mnl_socket_close(s)
            return .failure(NFTablesError(.system(call: "mnl_socket_bind", errno: e), object: "nftables socket"))
        }
        return .success(s)
    }

    func nextSeq(_ count: UInt32 = 1) -> UInt32 { defer { seq &+= count }; return seq }

    /// Applies `transaction` atomically. On error nothing of it is applied, and the error names
    /// the first operation the kernel refused.
    public func commit(_ transaction: Transaction) throws(NFTablesError) {
        if transaction.isEmpty { return }
        let batch = EncodedBatch(startSeq: seq)
        try batch.encode(transaction)
        seq &+= UInt32(batch.messageCount + 2)
        var iov = batch.iovecs()
        let total = iov.reduce(0) { $0 + $1.iov_len }
        let fd = mnl_socket_get_fd(socket)
        // The whole batch is one netlink message to the kernel: the send buffer must hold it.
        var sndbuf = Int32(clamping: total + 65536)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_nl()
        addr.nl_family = sa_family_t(AF_NETLINK)
        let sent = withUnsafeMutablePointer(to: &addr) { addrPtr in
            iov.withUnsafeMutableBufferPointer { iovPtr -> Int in
                var msg = msghdr()
                msg.msg_name = UnsafeMutableRawPointer(addrPtr)
                msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_nl>.size)
                msg.msg_iov = iovPtr.baseAddress
                msg.msg_iovlen = iovPtr.count
                return retryingEINTR { sendmsg(fd, &msg, 0) }
            }
        }
        guard sent >= 0 else {
            throw NFTablesError(.system(call: "sendmsg", errno: errno), object: "nftables batch of \(transaction.count) operation(s)")
        }
        let errors = try drainErrors()
        guard let first = errors.min(by: { $0.seq < $1.seq }) else { return }
        throw NFTablesError(.kernel(errno: first.errno), object: batch.labels[first.seq] ?? "nftables batch",
                            kernelMessage: first.message)
    }

    struct KernelError { var seq: UInt32; var errno: Int32; var message: String? }

    /// Reads every message the kernel queued for the batch (it processed the batch inside
    /// `sendmsg`, so what it has to say is already here) and returns the errors.
    private func drainErrors() throws(NFTablesError) -> [KernelError] {
        var errors: [KernelError] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        let fd = mnl_socket_get_fd(socket)
        while true {
            let n = buf.withUnsafeMutableBytes { b in retryingEINTR { recv(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT)) } }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { return errors }
                throw NFTablesError(.system(call: "recv", errno: errno), object: "nftables batch replies")
            }
            buf.withUnsafeBytes { raw in
                var offset = 0
                while offset + MemoryLayout<nlmsghdr>.size <= n {
                    let hdr = raw.loadUnaligned(fromByteOffset: offset, as: nlmsghdr.self)
                    let len = Int(hdr.nlmsg_len)
                    guard len >= MemoryLayout<nlmsghdr>.size, offset + len <= n else { break }
                    if hdr.nlmsg_type == UInt16(NLMSG_ERROR) {
                        let body = offset + MemoryLayout<nlmsghdr>.size
                        let code = raw.loadUnaligned(fromByteOffset: body, as: Int32.self)
                        if code != 0 {
                            let message = extAckMessage(raw, messageStart: offset, length: len, flags: hdr.nlmsg_flags)
                            errors.append(KernelError(seq: hdr.nlmsg_seq, errno: -code, message: message))
                        }
                    }
                    offset += (len + 3) & ~3
                }
            }
        }
    }
}

/// The NLMSGERR_ATTR_MSG text of an error message, if the kernel attached one.
private func extAckMessage(_ raw: UnsafeRawBufferPointer, messageStart: Int, length: Int, flags: UInt16) -> String? {
    guard flags & UInt16(NLM_F_ACK_TLVS) != 0 else { return nil }
    // nlmsgerr = error code + the original header (payload capped by NETLINK_CAP_ACK).
    var offset = messageStart + MemoryLayout<nlmsghdr>.size + 4 + MemoryLayout<nlmsghdr>.size
    let end = messageStart + length
    while offset + 4 <= end {
        let len = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        let type = raw.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
        guard len >= 4, offset + len <= end else { return nil }
        if type == UInt16(NLMSGERR_ATTR_MSG.rawValue) {
            let bytes = raw[(offset + 4)..<(offset + len)].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        offset += (len + 3) & ~3
    }
    return nil
}

@inline(__always)
func retryingEINTR(_ call: () -> Int) -> Int {
    while true {
        let r = call()
        if r >= 0 || errno != EINTR { return r }
    }
}
