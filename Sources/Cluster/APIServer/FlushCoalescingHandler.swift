import NIOCore

/// Joins the writes made between two flushes into one buffer on their way to TLS. NIOSSL
/// seals every write in a record of its own, and HTTP/1 writes a response as several: a
/// create's head and body are two records, a chunk of a streamed body three (size line,
/// data, CRLF), each sealed by the server and opened by the client. Joined, every flush is
/// one record. (Watch lines come already framed, one buffer each: WatchLine.) Sits between
/// the TLS handler and the HTTP encoder. A write of a full record or more (a large list's
/// body) passes on as it is, after what was pending: it takes records of its own anyway, and
/// copying it would only cost.
final class FlushCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// TLS's largest record: 16 KiB of plaintext.
    static let recordSize = 16 * 1024

    /// What was written since the last flush: a lone buffer is passed on as it is (no copy).
    private var pending: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var buffer) = unwrapOutboundIn(data), buffer.readableBytes < Self.recordSize else {
            // A file region cannot join a buffer, a large one need not: what came before goes first.
            passOn(context: context)
            context.write(data, promise: promise)
            return
        }
        if pending == nil {
            pending = buffer
        } else {
            pending!.writeBuffer(&buffer)
        }
        if let promise { promises.append(promise) }
    }

    func flush(context: ChannelHandlerContext) {
        passOn(context: context)
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Unflushed writes meet the close below as they would have without this handler.
        passOn(context: context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        passOn(context: context)
    }

    /// Writes what is pending as one buffer; its promises complete with that write.
    private func passOn(context: ChannelHandlerContext) {
        guard let buffer = pending else { return }
        pending = nil
        let waiting = promises
        promises = []
        var promise: EventLoopPromise<Void>?
        if waiting.count == 1 {
            promise = waiting[0]
        } else if !waiting.isEmpty {
            let joined = context.eventLoop.makePromise(of: Void.self)
            for each in waiting { joined.futureResult.cascade(to: each) }
            promise = joined
        }
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
    }
}
