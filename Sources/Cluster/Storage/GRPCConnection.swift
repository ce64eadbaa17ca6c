import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// gRPC over one HTTP/2 connection to one server, with swift-nio-http2 directly: unary calls
/// and bidirectional streams of messages that are bytes already (`EtcdWire`).
///
/// Why not grpc-swift's transport: etcd's gRPC server (grpc-go) sends a flow-control PING
/// for nearly every request it receives, and swift-nio-http2's denial-of-service guard closes
/// a connection after 200 control frames in 30 s, a limit grpc-swift-nio-transport does not
/// let a client raise: against etcd its connection died every 200 calls. Here the guard
/// allows what a busy etcd member sends.
final class GRPCConnection: Sendable {
    typealias Stream = NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>
    typealias Multiplexer = NIOHTTP2Handler.AsyncStreamMultiplexer<Void>

    /// A failed call: the gRPC status code and message, or a transport failure (code 14,
    /// UNAVAILABLE, as gRPC reports a connection it lost).
    struct Failure: Error, CustomStringConvertible {
        var code: Int
        var message: String
        var description: String { "gRPC status \(code): \(message)" }
        static let unavailable = 14, deadlineExceeded = 4
    }

    let host: String
    let port: Int
    let ssl: NIOSSLContext?
    private let connection = Mutex<(channel: any Channel, multiplexer: Multiplexer)?>(nil)
    /// Closed for good (`close()`): no new connection is made.
    private let closed = Atomic<Bool>(false)
    /// When the last connect failed, and why: the callers queued behind it fail at once
    /// instead of each waiting out its own connect timeout.
    private let lastFailure = Mutex<(at: ContinuousClock.Instant, error: String)?>(nil)
    /// Connects one at a time (a burst of calls on a new connection shares it).
    private let connecting = AsyncSemaphore()

    init(host: String, port: Int, ssl: NIOSSLContext?) {
        self.host = host
        self.port = port
        self.ssl = ssl
    }

    func close() {
        closed.store(true, ordering: .sequentiallyConsistent)
        let current = connection.withLock { state in
            defer { state = nil }
            return state
        }
        current?.channel.close(promise: nil)
    }

    /// The open connection's multiplexer, connecting first when there is none.
    private func multiplexer() async throws -> Multiplexer {
        if let open = connection.withLock({ $0 }), open.channel.isActive { return open.multiplexer }
        await connecting.wait()
        defer { connecting.signal() }
        if let open = connection.withLock({ $0 }), open.channel.isActive { return open.multiplexer }
        guard !closed.load(ordering: .sequentiallyConsistent) else { throw Failure(code: Failure.unavailable, message: "the client is closed") }
        if let failed = lastFailure.withLock({ $0 }), ContinuousClock.now - failed.at < .seconds(1) {
            throw Failure(code: Failure.unavailable, message: "connecting failed a moment ago: \(failed.error)")
        }
        var configuration = NIOHTTP2Handler.Configuration()
        // grpc-go pings once per request received (its bandwidth estimate): allow that.
        configuration.connection.controlFrameRateLimit.maximumCount = 1 << 30
        configuration.stream.streamResetFrameRateLimit.maximumCount = 1 << 30
        // Big lists arrive in one message: windows large enough not to trickle them.
        configuration.connection.targetWindowSize = 16 << 20
        configuration.stream.targetWindowSize = 8 << 20
        configuration.connection.initialSettings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .initialWindowSize, value: 8 << 20),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
        ]
        let ssl = self.ssl
        let serverName = host.allSatisfy { $0.isNumber || $0 == "." } || host.contains(":") ? nil : host
        // TCP keepalive: a member that vanished without a word (powered off, cut off) is
        // noticed within ~20 s, which ends its watch stream so the watches move on.
        let (channel, multiplexer): (any Channel, Multiplexer)
        do {
            (channel, multiplexer) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelOption(ChannelOptions.socket(SocketOptionLevel(IPPROTO_TCP), TCP_KEEPIDLE), value: 10)
            .channelOption(ChannelOptions.socket(SocketOptionLevel(IPPROTO_TCP), TCP_KEEPINTVL), value: 3)
            .channelOption(ChannelOptions.socket(SocketOptionLevel(IPPROTO_TCP), TCP_KEEPCNT), value: 3)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let ssl {
                        // An address is checked against the certificate's IP SANs; only a
                        // name goes in SNI (NIOSSL refuses an address there).
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: ssl, serverHostname: serverName))
                    }
                    let multiplexer = try channel.pipeline.syncOperations.configureAsyncHTTP2Pipeline(
                        mode: .client, configuration: configuration) { stream in stream.eventLoop.makeSucceededVoidFuture() }
                    return (channel, multiplexer)
                }
            }
        } catch {
            lastFailure.withLock { $0 = (.now, "\(error)") }
            throw error
        }
        lastFailure.withLock { $0 = nil }
        let kept = connection.withLock { state in
            // close() may have run while this connected: then the new connection goes too.
            guard !closed.load(ordering: .sequentiallyConsistent) else { return false }
            state = (channel, multiplexer)
            return true
        }
        guard kept else {
            channel.close(promise: nil)
            throw Failure(code: Failure.unavailable, message: "the client is closed")
        }
        return multiplexer
    }

    /// Drops the connection if it is still `channel` (a call on it timed out with nothing
    /// heard: the next call connects again rather than queue behind a dead connection).
    private func drop(_ channel: any Channel) {
        let dropped = connection.withLock { state -> Bool in
            guard let current = state, current.channel === channel else { return false }
            state = nil
            return true
        }
        if dropped { channel.close(promise: nil) }
    }

    private func openStream() async throws -> Stream {
        try await multiplexer().openStream { channel in
            channel.eventLoop.makeCompletedFuture {
                // A stream opened as its connection dies would never become active.
                guard channel.parent?.isActive ?? false else { throw Failure(code: Failure.unavailable, message: "the connection closed") }
                return try Stream(wrappingChannelSynchronously: channel)
            }
        }
    }

    private func headers(_ path: String, timeout: Duration?) -> HPACKHeaders {
        var headers: HPACKHeaders = [
            ":method": "POST", ":scheme": ssl == nil ? "http" : "https", ":path": path,
            ":authority": host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)",
            "content-type": "application/grpc", "te": "trailers",
            // etcd then ends the call when its member has no leader (cut off from the others)
            // instead of holding a watch that will never see an event: the client moves on.
            "hasleader": "true",
        ]
        if let timeout { headers.add(name: "grpc-timeout", value: "\(timeout.components.seconds)S") }
        return headers
    }

    /// A message as gRPC frames it: uncompressed, its length, its bytes.
    static func frame(_ message: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(5 + message.count)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(message.count))
        buffer.writeBytes(message)
        return buffer
    }

    /// One request, one response (`path` as "/etcdserverpb.KV/Range"). A handler on the
    /// stream's channel does the call (no async channel, no task per call: those cost more
    /// CPU than the rest of the call together).
    func unary(_ path: String, _ request: [UInt8], timeout: Duration) async throws -> [UInt8] {
        let channel: any Channel
        let reply: EventLoopFuture<[UInt8]>
        do {
            let multiplexer = try await multiplexer()
            (channel, reply) = try await multiplexer.openStream { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard channel.parent?.isActive ?? false else { throw Failure(code: Failure.unavailable, message: "the connection closed") }
                    let handler = UnaryCallHandler(promise: channel.eventLoop.makePromise())
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return (channel, handler.promise.futureResult)
                }
            }
        } catch {
            throw Failure(code: Failure.unavailable, message: "\(host):\(port): \(error)")
        }
        let headers = HTTP2Frame.FramePayload.headers(.init(headers: headers(path, timeout: timeout)))
        let body = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(Self.frame(request)), endStream: true))
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + 1_000_000_000)) {
            channel.pipeline.fireErrorCaught(Failure(code: Failure.deadlineExceeded, message: "no answer within \(timeout)"))
        }
        // A write the connection refuses (after a GOAWAY, say) fails the call at once. As a
        // Failure: the refusal can be ChannelError.eof (the stream closed as the connection
        // went), which a pipeline must never be handed as an error (NIO asserts it).
        let place = "\(host):\(port)"
        let refused: @Sendable (any Error) -> Void = { error in
            channel.pipeline.fireErrorCaught(Failure(code: Failure.unavailable, message: "\(place): write: \(error)"))
        }
        channel.write(headers).whenFailure(refused)
        channel.writeAndFlush(body).whenFailure(refused)
        defer { deadline.cancel() }
        do {
            return try await reply.get()
        } catch let failure as Failure {
            if failure.code == Failure.deadlineExceeded, let parent = channel.parent { drop(parent) }
            throw failure
        } catch {
            throw Failure(code: Failure.unavailable, message: "\(host):\(port): \(error)")
        }
    }

    /// A bidirectional stream: `requests` are sent as they come, each response message goes to
    /// `receive`. Returns when the server ends the stream; throws when it fails or breaks.
    func stream(_ path: String, requests: AsyncStream<[UInt8]>, receive: @escaping @Sendable ([UInt8]) throws -> Void) async throws {
        let stream: Stream
        do { stream = try await openStream() } catch { throw Failure(code: Failure.unavailable, message: "\(host):\(port): \(error)") }
        let headers = headers(path, timeout: nil)
        try await stream.executeThenClose { inbound, outbound in
            try await outbound.write(.headers(.init(headers: headers)))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await request in requests {
                        try await outbound.write(.data(.init(data: .byteBuffer(Self.frame(request)))))
                    }
                }
                try await Self.read(inbound, receive)
                group.cancelAll()
            }
        }
    }

    /// Reads a response: its messages to `receive`, then its status (a failure throws).
    static func read(_ inbound: NIOAsyncChannelInboundStream<HTTP2Frame.FramePayload>,
                     _ receive: ([UInt8]) throws -> Void) async throws {
        var parser = GRPCResponseParser()
        for try await frame in inbound {
            if try parser.consume(frame, receive) { return }
        }
        throw Failure(code: Failure.unavailable, message: "the connection closed mid-response")
    }
}

/// What a gRPC response's frames say, one frame at a time: the length-prefixed messages in
/// its DATA frames, then its status in the trailers. Shared by unary calls and streams.
struct GRPCResponseParser {
    private var pending = ByteBuffer()

    /// Hands each message `frame` completes to `receive`; true when the trailers say OK.
    /// Throws the failure the frame reports (a status, a reset, an early end).
    mutating func consume(_ frame: HTTP2Frame.FramePayload, _ receive: ([UInt8]) throws -> Void) throws -> Bool {
        typealias Failure = GRPCConnection.Failure
        switch frame {
        case .data(let data):
            guard case .byteBuffer(var bytes) = data.data else { return false }
            pending.writeBuffer(&bytes)
            while pending.readableBytes >= 5, let flag = pending.getInteger(at: pending.readerIndex, as: UInt8.self),
                  let length = pending.getInteger(at: pending.readerIndex + 1, as: UInt32.self),
                  pending.readableBytes >= 5 + Int(length) {
                guard flag == 0 else { throw Failure(code: 12, message: "a compressed message (none was asked for)") }
                pending.moveReaderIndex(forwardBy: 5)
                try receive(pending.readBytes(length: Int(length)) ?? [])
            }
            pending.discardReadBytes()
            if data.endStream { throw Failure(code: 13, message: "the stream ended without a status") }
        case .headers(let headers):
            if let status = headers.headers.first(name: "grpc-status") {
                let code = Int(status) ?? 2
                guard code == 0 else {
                    let raw = headers.headers.first(name: "grpc-message") ?? ""
                    throw Failure(code: code, message: raw.removingPercentEncoding ?? raw)
                }
                return true
            }
            if let status = headers.headers.first(name: ":status"), status != "200" {
                throw Failure(code: Failure.unavailable, message: "HTTP status \(status)")
            }
            if headers.endStream { throw Failure(code: 13, message: "the stream ended without a status") }
        case .rstStream(let code):
            throw Failure(code: Failure.unavailable, message: "the stream was reset (\(code))")
        default:
            break
        }
        return false
    }
}

/// Collects one unary call's response on its stream channel: the message, then the status
/// in the trailers; the promise fails with the gRPC status, a reset, an error or the stream
/// closing first.
final class UnaryCallHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload

    let promise: EventLoopPromise<[UInt8]>
    private var parser = GRPCResponseParser()
    private var message: [UInt8]?
    private var done = false

    init(promise: EventLoopPromise<[UInt8]>) { self.promise = promise }

    private func finish(_ result: Result<[UInt8], any Error>, _ context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        promise.completeWith(result)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        do {
            let ended = try parser.consume(unwrapInboundIn(data)) { received in
                guard message == nil else { throw GRPCConnection.Failure(code: 13, message: "a second message in a unary response") }
                message = received
            }
            guard ended else { return }
            if let message {
                finish(.success(message), context)
            } else {
                finish(.failure(GRPCConnection.Failure(code: 13, message: "no response message")), context)
            }
        } catch {
            finish(.failure(error), context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error), context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(GRPCConnection.Failure(code: GRPCConnection.Failure.unavailable, message: "the connection closed mid-call")), context)
        context.fireChannelInactive()
    }
}

/// One at a time, in async code.
final class AsyncSemaphore: Sendable {
    private let state = Mutex<(free: Bool, waiters: [CheckedContinuation<Void, Never>])>((true, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.free {
                    state.free = false
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func signal() {
        let next = state.withLock { state in
            if state.waiters.isEmpty {
                state.free = true
                return nil as CheckedContinuation<Void, Never>?
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
