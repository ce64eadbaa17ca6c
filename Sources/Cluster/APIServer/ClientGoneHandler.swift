import NIOCore

/// Ends the watches answered on a connection when its client stops sending (its half closed:
/// a FIN, or TLS close_notify) or the connection goes. Hummingbird lets a client half-close
/// (allowRemoteHalfClosure) and notices a client gone only when a write to it fails, so a
/// watch with nothing to say until the next change would keep its store watch until then.
/// kube-apiserver (Go's net/http) ends a request when its connection reads EOF; a watch here
/// ends the same way. Sits right after the TLS handler. The watches are held here, not in
/// callbacks on the connection's futures: a keep-alive connection serves watch after watch,
/// and each finished one leaves. A connection with watches whose client stops taking its
/// data (NIO's buffer stays above its high-water mark for `stalledWatchTimeout`) is closed:
/// its events would otherwise pile up here without bound.
final class ClientGoneHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var watches: [ObjectIdentifier: WatchOutput] = [:]
    private var gone = false
    let stalledWatchTimeout: Duration
    private var stalled: Scheduled<Void>?

    init(stalledWatchTimeout: Duration) {
        self.stalledWatchTimeout = stalledWatchTimeout
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stalled?.cancel()
            stalled = nil
        } else if stalled == nil, !watches.isEmpty {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            stalled = context.eventLoop.scheduleTask(in: TimeAmount(stalledWatchTimeout)) {
                let context = bound.value
                guard !context.channel.isWritable else { return }
                // The watches end with the connection (channelInactive).
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { clientGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        clientGone()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        clientGone()
    }

    private func clientGone() {
        stalled?.cancel()
        stalled = nil
        guard !gone else { return }
        gone = true
        let open = watches.values
        watches = [:]
        for output in open { output.finish() }
    }

    /// Ends `output` when the client of `channel` is gone (at once if it is). Without this
    /// handler in the pipeline, when the connection closes.
    static func track(_ output: WatchOutput, on channel: any Channel) {
        let loop = channel.eventLoop
        loop.execute {
            guard let handler = try? channel.pipeline.syncOperations.handler(type: ClientGoneHandler.self) else {
                channel.closeFuture.whenComplete { [weak output] _ in output?.finish() }
                return
            }
            if handler.gone { return output.finish() }
            let id = ObjectIdentifier(output)
            handler.watches[id] = output
            let bound = NIOLoopBound(handler, eventLoop: loop)
            output.whenFinished { loop.execute { bound.value.watches[id] = nil } }
        }
    }
}
