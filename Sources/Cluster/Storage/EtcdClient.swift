import NIOSSL
import Synchronization

/// TLS to etcd: the CA that signed the members' certificates, and this client's certificate
/// and key when the members ask for one (`--client-cert-auth`). PEM files.
public struct EtcdTLS: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }

    public var isEmpty: Bool { caFile == nil && certFile == nil && keyFile == nil }
}

/// etcd's v3 gRPC API (the `KV` and `Watch` services), one HTTP/2 connection per member
/// (`GRPCConnection`), messages in `EtcdWire`.
///
/// Failover: calls go to the member that answered last; when it cannot be reached, or says it
/// has no leader, the next member is tried, round the list, until `patience` runs out. A call
/// whose connection broke after it was sent may have been applied: etcd's own client has the
/// same ambiguity, and a retried create then answers "already exists".
final class EtcdClient: Sendable {
    let members: [GRPCConnection]
    /// Index (into `members`) of the member to try first.
    private let preferred = Atomic<Int>(0)
    /// Every watch of this client, over one stream.
    let watches = Mutex<EtcdWatchStream?>(nil)
    static let patience = Duration.seconds(20)
    static let callTimeout = Duration.seconds(10)

    /// `endpoints`: `http://host:port` or `https://host:port` (then `tls` says whom to trust).
    init(endpoints: [String], tls: EtcdTLS) throws(StoreError) {
        if (tls.certFile == nil) != (tls.keyFile == nil) {
            throw StoreError(.backend, "a client certificate for etcd needs both its certificate and its key file")
        }
        var members: [GRPCConnection] = []
        var context: NIOSSLContext?
        for endpoint in endpoints {
            let secure: Bool
            let rest: Substring
            if endpoint.hasPrefix("https://") {
                (secure, rest) = (true, endpoint.dropFirst(8))
            } else if endpoint.hasPrefix("http://") {
                (secure, rest) = (false, endpoint.dropFirst(7))
            } else {
                throw StoreError(.backend, "etcd endpoint \"\(endpoint)\" is not an http:// or https:// URL")
            }
            guard let (host, port) = Self.hostAndPort(rest) else {
                throw StoreError(.backend, "etcd endpoint \"\(endpoint)\": expected host:port")
            }
            if !secure && !tls.isEmpty {
                throw StoreError(.backend, "etcd endpoint \"\(endpoint)\" is plain http, but TLS files were given: use https://")
            }
            if secure && context == nil { context = try Self.sslContext(tls) }
            members.append(GRPCConnection(host: host, port: port, ssl: secure ? context : nil))
        }
        self.members = members
    }

    static func sslContext(_ tls: EtcdTLS) throws(StoreError) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = ["h2"]
        do {
            // PEM whatever the files are called (NIOSSL's .file guesses the format from the name).
            if let ca = tls.caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
            if let cert = tls.certFile, let key = tls.keyFile {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw StoreError(.backend, "etcd TLS files: \(error)")
        }
    }

    static func hostAndPort(_ authority: Substring) -> (String, Int)? {
        let trimmed = authority.hasSuffix("/") ? authority.dropLast() : authority
        guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]) else { return nil }
        var host = trimmed[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return host.isEmpty ? nil : (String(host), port)
    }

    func shutdown() async {
        // The connections first (a watch stream in flight breaks at once), then the watches,
        // out of the lock: ending them calls their receivers.
        for member in members { member.close() }
        let stream = watches.withLock { $0 }
        await stream?.close()
    }

    /// One unary call: `method` as "/etcdserverpb.KV/Txn".
    func call(_ method: String, _ request: [UInt8]) async throws(StoreError) -> [UInt8] {
        let deadline = ContinuousClock.now + Self.patience
        var tried = 0
        while true {
            if Task.isCancelled { throw StoreError(.backend, "etcd \(method): cancelled") }
            let index = preferred.load(ordering: .relaxed)
            do {
                return try await members[index].unary(method, request, timeout: Self.callTimeout)
            } catch {
                let failure = error as? GRPCConnection.Failure ?? .init(code: GRPCConnection.Failure.unavailable, message: "\(error)")
                guard Self.isMemberTrouble(failure) else { throw StoreError(.backend, "etcd \(method): \(failure.message)") }
                guard ContinuousClock.now < deadline else {
                    throw StoreError(.backend, "etcd \(method): no member answered within \(Self.patience): \(failure.message)")
                }
                // Move on to the next member (unless another call already did), and once every
                // member has failed, wait a moment: an election takes about a second.
                skip(index)
                tried += 1
                if tried % members.count == 0 { try? await Task.sleep(for: .milliseconds(200)) }
            }
        }
    }

    /// Unavailable (no leader, leader changed, member stopping or unreachable) and a deadline
    /// are the member's trouble, not the request's: another member may answer.
    static func isMemberTrouble(_ failure: GRPCConnection.Failure) -> Bool {
        failure.code == GRPCConnection.Failure.unavailable || failure.code == GRPCConnection.Failure.deadlineExceeded
            || failure.message.contains("leader")
    }

    /// The member to open a watch stream on (the preferred one).
    var watchMember: (index: Int, member: GRPCConnection) {
        let index = preferred.load(ordering: .relaxed)
        return (index, members[index])
    }

    /// Moves past member `index`, unless another call already did.
    func skip(_ index: Int) {
        _ = preferred.compareExchange(expected: index, desired: (index + 1) % members.count, ordering: .relaxed)
    }

    /// The client's watch stream, opened on first use.
    func watchStream() -> EtcdWatchStream {
        watches.withLock { stream in
            if let stream { return stream }
            let made = EtcdWatchStream(client: self)
            stream = made
            return made
        }
    }
}

/// Every watch of one client over one bidirectional `Watch` stream, as etcd's own client
/// multiplexes them: each watch has an id this side picks, so a create needs no round trip
/// before the next. When the stream's member goes away, the stream is opened again on the
/// next member and every watch re-created from the revision after the last it delivered, so a
/// receiver sees no gap or duplicate.
final class EtcdWatchStream: Sendable {
    struct Watcher {
        var key: [UInt8]
        var rangeEnd: [UInt8]
        /// The revision the next event must have at least.
        var next: Int64
        var deliver: @Sendable (WatchDelivery) -> Void
    }

    struct State {
        var watchers: [Int64: Watcher] = [:]
        var lastID: Int64 = 0
        /// Requests for the stream now open (nil between streams).
        var outgoing: AsyncStream<[UInt8]>.Continuation?
        /// The watches created on the open stream that etcd has not acknowledged yet, oldest
        /// first: etcd answers creates in order, and a refused one comes back with id -1.
        var unacknowledged: [Int64] = []
        /// Whether the stream now open has answered at all (a member that does is not failing).
        var heard = false
        var closed = false

        /// Every watcher, removed: the caller ends them outside the lock.
        mutating func takeAllWatchers() -> [Watcher] {
            defer { watchers = [:] }
            return Array(watchers.values)
        }
    }

    let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(client: EtcdClient) {
        let runner = Task { [weak self] in
            guard let self else { return }
            await self.run(client)
        }
        task.withLock { $0 = runner }
    }

    /// Starts a watch of `key`..`rangeEnd` from `start`; returns its id.
    func add(key: [UInt8], rangeEnd: [UInt8], start: Int64, deliver: @escaping @Sendable (WatchDelivery) -> Void) -> Int64 {
        let (id, closed) = state.withLock { state in
            state.lastID += 1
            let id = state.lastID
            guard !state.closed else { return (id, true) }
            state.watchers[id] = Watcher(key: key, rangeEnd: rangeEnd, next: start, deliver: deliver)
            if let outgoing = state.outgoing {
                outgoing.yield(EtcdWire.watchCreate(id: id, key: key, rangeEnd: rangeEnd, startRevision: start, prevKV: true))
                state.unacknowledged.append(id)
            }
            return (id, false)
        }
        if closed { deliver(.end(StoreError(.backend, "etcd watch: the store is closed"))) }
        return id
    }

    /// Ends watch `id` (its receiver gets `.end(nil)`).
    func remove(_ id: Int64) {
        let watcher = state.withLock { state in
            let watcher = state.watchers.removeValue(forKey: id)
            if watcher != nil { state.outgoing?.yield(EtcdWire.watchCancel(id: id)) }
            return watcher
        }
        watcher?.deliver(.end(nil))
    }

    func close() async {
        let ended = state.withLock { state in
            state.closed = true
            state.outgoing?.finish()
            return state.takeAllWatchers()
        }
        let running = task.withLock { $0 }
        running?.cancel()
        await running?.value
        for watcher in ended { watcher.deliver(.end(nil)) }
    }

    private func run(_ client: EtcdClient) async {
        var failingSince: ContinuousClock.Instant?
        while !Task.isCancelled {
            let (index, member) = client.watchMember
            let (requests, outgoing) = AsyncStream<[UInt8]>.makeStream()
            let open = state.withLock { state in
                guard !state.closed else { return false }
                state.outgoing = outgoing
                state.heard = false
                state.unacknowledged = []
                // Every watch again, from the revision after the last it delivered.
                for (id, w) in state.watchers.sorted(by: { $0.key < $1.key }) {
                    outgoing.yield(EtcdWire.watchCreate(id: id, key: w.key, rangeEnd: w.rangeEnd, startRevision: w.next, prevKV: true))
                    state.unacknowledged.append(id)
                }
                return true
            }
            guard open else { return }
            do {
                try await member.stream("/etcdserverpb.Watch/Watch", requests: requests) { [self] message in
                    state.withLock { $0.heard = true }
                    try handle(EtcdWire.WatchResponse(message))
                }
            } catch {
                if Task.isCancelled { break }
            }
            let heard = state.withLock { state in
                state.outgoing?.finish()
                state.outgoing = nil
                return state.heard
            }
            if heard { failingSince = nil }
            // The member ended or broke the stream: resume on the next one.
            let now = ContinuousClock.now
            let since = failingSince ?? now
            failingSince = since
            if now - since > EtcdClient.patience {
                let ended = state.withLock { $0.takeAllWatchers() }
                for watcher in ended { watcher.deliver(.end(StoreError(.backend, "etcd watch: no member reachable"))) }
                failingSince = nil
            }
            client.skip(index)
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// One WatchResponse: events to their watcher (in order, none it has had), or its end.
    private func handle(_ response: EtcdWire.WatchResponse) {
        var id = response.watchID
        if response.created {
            // The oldest create not yet acknowledged: a refused one says so with id -1.
            let created = state.withLock { $0.unacknowledged.isEmpty ? nil : $0.unacknowledged.removeFirst() }
            if let created, response.canceled { id = created }
        }
        if response.canceled {
            guard let watcher = state.withLock({ $0.watchers.removeValue(forKey: id) }) else { return }
            if response.compactRevision > 0 {
                watcher.deliver(.end(StoreError(.compacted(oldest: response.compactRevision),
                                                "revision \(watcher.next - 1) has been compacted; the oldest kept is \(response.compactRevision)")))
            } else {
                watcher.deliver(.end(StoreError(.backend, "etcd canceled the watch: \(response.cancelReason)")))
            }
            return
        }
        guard !response.events.isEmpty, let watcher = state.withLock({ $0.watchers[id] }) else { return }
        var next = watcher.next
        for event in response.events {
            let converted = EtcdStore.event(event)
            guard converted.revision >= next else { continue }
            watcher.deliver(.event(converted))
            next = converted.revision + 1
        }
        state.withLock { state in state.watchers[id]?.next = next }
    }
}
