import Testing
import NIOCore
import NIOEmbedded
@testable import APIServer

/// The handler between TLS and HTTP that makes each flush one write (one TLS record).
@Suite struct FlushCoalescingTests {
    @Test func theWritesOfOneFlushLeaveAsOneBuffer() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler())
        // A chunked watch line: size line, line, CRLF.
        let written = ["d\r\n", #"{"type":"A"}"# + "\n", "\r\n"].map { channel.write(IOData.byteBuffer(ByteBuffer(string: $0))) }
        #expect(try channel.readOutbound(as: IOData.self) == nil)
        channel.flush()
        let out = try #require(try channel.readOutbound(as: IOData.self))
        guard case .byteBuffer(let buffer) = out else { Issue.record("not a buffer: \(out)"); return }
        #expect(String(buffer: buffer) == "d\r\n{\"type\":\"A\"}\n\r\n")
        #expect(try channel.readOutbound(as: IOData.self) == nil)
        for future in written { try future.wait() }

        // The next flush starts afresh.
        channel.writeAndFlush(IOData.byteBuffer(ByteBuffer(string: "next")), promise: nil)
        guard case .byteBuffer(let next) = try #require(try channel.readOutbound(as: IOData.self)) else { Issue.record("not a buffer"); return }
        #expect(String(buffer: next) == "next")
        #expect(try channel.finish().isClean)
    }

    @Test func aLoneWritePassesUncopied() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescingHandler())
        let line = ByteBuffer(string: String(repeating: "x", count: 4096))
        try channel.writeAndFlush(IOData.byteBuffer(line)).wait()
        guard case .byteBuffer(let out) = try #require(try channel.readOutbound(as: IOData.self)) else { Issue.record("not a buffer"); return }
        #expect(out == line)
        // Same storage: no copy was made.
        #expect(out.withUnsafeReadableBytes { $0.baseAddress } == line.withUnsafeReadableBytes { $0.baseAddress })
        _ = try channel.finish()
    }

    @Test func aLargeWriteFollowsWhatWasPendingUncopied() throws {
        let (seen, channel) = try Recorder.behindTheHandler()
        let body = ByteBuffer(string: String(repeating: "y", count: FlushCoalescingHandler.recordSize))
        channel.write(IOData.byteBuffer(ByteBuffer(string: "head")), promise: nil)
        channel.write(IOData.byteBuffer(body), promise: nil)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "end")), promise: nil)
        channel.flush()
        #expect(seen.events.map { $0.prefix(10) } == ["write head", "write yyyy", "write end", "flush"])
        _ = try channel.readOutbound(as: IOData.self)
        guard case .byteBuffer(let passed) = try #require(try channel.readOutbound(as: IOData.self)) else { Issue.record("not a buffer"); return }
        #expect(passed.withUnsafeReadableBytes { $0.baseAddress } == body.withUnsafeReadableBytes { $0.baseAddress })
        _ = try channel.finish()
    }

    @Test func unflushedWritesReachTheCloseBeforeIt() throws {
        // What the handler passes on toward the socket, in order.
        let (seen, channel) = try Recorder.behindTheHandler()
        channel.write(IOData.byteBuffer(ByteBuffer(string: "a")), promise: nil)
        channel.write(IOData.byteBuffer(ByteBuffer(string: "b")), promise: nil)
        #expect(seen.events == [])
        channel.close(promise: nil)
        // Not lost: the socket gets them before the close (and fails them, unflushed, as it
        // would have without this handler).
        #expect(seen.events == ["write ab", "close"])
    }
}

/// Records the outbound events that reach it.
private final class Recorder: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    var events: [String] = []

    /// A channel whose FlushCoalescingHandler passes what it writes on to a Recorder.
    static func behindTheHandler() throws -> (Recorder, EmbeddedChannel) {
        let seen = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([seen, FlushCoalescingHandler()])
        return (seen, channel)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .byteBuffer(let buffer) = unwrapOutboundIn(data) { events.append("write " + String(buffer: buffer)) }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        events.append("flush")
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        events.append("close")
        context.close(mode: mode, promise: promise)
    }
}
