internal import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// Opens an nftables socket on a fresh thread that has joined the network namespace at
/// `path`: the socket stays bound to that namespace, the thread exits afterwards, and the
/// caller's thread never changes namespace.
func openSocket(inNamespace path: String) -> Result<OpaquePointer, NFTablesError> {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        return .failure(NFTablesError(.system(call: "open", errno: errno), object: "network namespace \(path)"))
    }
    defer { close(fd) }
    let job = SocketJob(fd: fd)
    var thread = pthread_t()
    let started = pthread_create(&thread, nil, { raw in
        Unmanaged<SocketJob>.fromOpaque(raw!).takeUnretainedValue().run()
        return nil
    }, Unmanaged.passUnretained(job).toOpaque())
    guard started == 0 else {
        return .failure(NFTablesError(.system(call: "pthread_create", errno: started), object: "network namespace \(path)"))
    }
    pthread_join(thread, nil)
    return job.result ?? .failure(NFTablesError(.system(call: "setns", errno: job.setnsErrno), object: "network namespace \(path)"))
}

/// State shared with the namespace thread; only touched before start and after join.
private final class SocketJob: @unchecked Sendable {
    let fd: Int32
    var result: Result<OpaquePointer, NFTablesError>?
    var setnsErrno: Int32 = 0
    init(fd: Int32) { self.fd = fd }
    func run() {
        // The thread is discarded after this, so it never needs to switch back.
        guard netplane_nft_setns_net(fd) == 0 else { setnsErrno = errno; return }
        result = NFTSocket.open()
    }
}
