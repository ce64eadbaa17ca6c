import NIOCore

/// Tells when the client has stopped sending: its half of the connection closed (a FIN, or
/// TLS close_notify) or the whole connection gone. Hummingbird lets a client half-close
/// (allowRemoteHalfClosure) and notices a client gone only when a write to it fails, so a
/// watch with nothing to say until the next change would keep its store watch until then.
/// kube-apiserver (Go's net/http) ends a request when its connection reads EOF; a watch here
/// ends the same way (APIHTTPResponder.response). Sits right after the TLS handler.
final class ClientGoneHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// Completed when the client stops sending or the connection goes (always, at the latest
    /// when the handler leaves the pipeline).
    private(set) var gone: EventLoopPromise<Void>?

    func handlerAdded(context: ChannelHandlerContext) {
        gone = context.eventLoop.makePromise()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { gone?.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        gone?.succeed()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        gone?.succeed()
    }

    /// Runs `action` (on the channel's event loop) once the client of `channel` is gone; at
    /// once when the channel has no such handler.
    static func whenGone(_ channel: any Channel, _ action: @escaping @Sendable () -> Void) {
        channel.eventLoop.execute {
            guard let handler = try? channel.pipeline.syncOperations.handler(type: ClientGoneHandler.self),
                  let gone = handler.gone
            else { return action() }
            gone.futureResult.whenComplete { _ in action() }
        }
    }
}
