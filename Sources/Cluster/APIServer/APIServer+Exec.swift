import APIMachinery
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import HummingbirdWSClient
import JSON
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// `kubectl exec`, the API server's part. kubectl (1.30 and later) asks for
///
///     GET /api/v1/namespaces/NS/pods/NAME/exec?command=sh&command=-c&command=…&container=C
///         &stdin=true&stdout=true&stderr=true&tty=true
///     Connection: Upgrade, Upgrade: websocket, Sec-WebSocket-Protocol: v5.channel.k8s.io
///
/// and, when that upgrade is refused with any non-101 answer, tries again with SPDY (POST, same
/// URL, `Upgrade: SPDY/3.1`) and prints what that second answer says (client-go's
/// FallbackExecutor). So:
///
/// - the upgrade is taken (ExecProxy.shouldUpgrade) only for a request that is
///   authenticated, names a pod that exists and is bound, a container of it, a command and a
///   stream, and offers a subprotocol spoken here; the answer names that subprotocol;
/// - anything else is refused, and Hummingbird answers a refused upgrade with a bare 400; the
///   SPDY retry then reaches the ordinary responder (ForeignUpgradeFilter sees to that), which
///   checks the request the same way (execWithoutWebSocket) and answers with the Status kubectl
///   prints ("pods "x" not found", "a container name must be specified …"), or, for a request
///   that would have been fine, a 400 saying SPDY is not spoken here;
/// - once upgraded, the server opens a WebSocket of its own to the node agent of the pod's node
///   (ws://IP:PORT/exec/NS/POD/CONTAINER?command=…, the agent's token, the same subprotocol)
///   and relays messages both ways until one side closes. The two hops are separate
///   WebSockets (kubectl's frames are masked, the agent's are not), so they are relayed
///   message by message rather than spliced as bytes. What goes wrong after the upgrade (the
///   agent cannot be reached, the container is not running) is a Failure Status on stream 3,
///   which kubectl prints as "error: …".
///
/// pods/attach is refused with a 400: containers run without a console to attach to.
struct ExecRoute: Sendable, Equatable {
    var namespace: String
    var pod: String
    /// "exec" or "attach".
    var subresource: String

    /// The route of /api/v1/namespaces/NS/pods/NAME/{exec,attach}, nil for any other path.
    init?(path: String) {
        // Every request asks (kubectl's SPDY retry comes in as a plain request): most are
        // turned away here, without splitting the path.
        guard path.hasSuffix("/exec") || path.hasSuffix("/attach") else { return nil }
        let parts = path.split(separator: "/").map(String.init)
        guard parts.count == 7, parts[0] == "api", parts[1] == "v1", parts[2] == "namespaces", parts[4] == "pods",
              ["exec", "attach"].contains(parts[6]) else { return nil }
        namespace = parts[3]
        pod = parts[5]
        subresource = parts[6]
    }
}

/// Where and what an exec runs, once checked.
struct ExecTarget: Sendable {
    var node: String
    /// The node agent's host:port (for messages).
    var agent: String
    /// ws://AGENT/exec/NS/POD/CONTAINER?command=…&stdin=1…
    var url: String
    var options: RemoteCommand.Options
}

extension APIServer {
    /// Checks an exec request as kube-apiserver does before it reaches the kubelet (pod, then
    /// container, then node), with the same messages.
    func execTarget(_ route: ExecRoute, query: [(String, String)]) async throws(APIError) -> ExecTarget {
        guard route.subresource == "exec" else {
            throw .badRequest("pods/attach is not supported by netplane (containers run without a console to attach to); use kubectl exec")
        }
        guard let pods = registry.resource(group: "", version: "v1", plural: "pods") else {
            throw .notFound(path: "/api/v1/namespaces/\(route.namespace)/pods/\(route.pod)/exec")
        }
        let (pod, _) = try await objects.get(pods, namespace: route.namespace, name: route.pod)
        var options = RemoteCommand.Options(query: query)
        options.container = try Self.podContainer(of: pod, named: route.pod, asked: options.container)
        if let problem = options.problem { throw .badRequest(problem) }
        let (nodeName, agent) = try await nodeAgent(of: pod, named: route.pod)
        let path = ["exec", route.namespace, route.pod, options.container].map(RemoteCommand.percentEncoded).joined(separator: "/")
        return ExecTarget(node: nodeName, agent: agent, url: "ws://\(agent)/\(path)?\(options.agentQuery)", options: options)
    }

    /// pods/NAME/exec (or attach) without a WebSocket upgrade: kubectl's SPDY retry after the
    /// upgrade was refused, an older kubectl, or KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false. The
    /// request is checked as an upgrade is, so that what made the upgrade fail is what kubectl
    /// prints; a request that would have been fine gets a 400 that says why it is not served.
    func execWithoutWebSocket(_ route: ExecRoute, query: [(String, String)]) async -> APIResponse {
        do throws(APIError) {
            _ = try await execTarget(route, query: query)
        } catch {
            return .error(error)
        }
        return .error(.badRequest("pods/\(route.subresource) is served over WebSocket only (subprotocol "
                                  + RemoteCommand.protocols.joined(separator: " or ")
                                  + ", the default of kubectl 1.30 and later); SPDY is not supported"))
    }
}

/// The WebSocket side of exec in the API server: which upgrades to take, and the relay.
enum ExecProxy {
    /// The server's HTTP/1 channel with WebSocket upgrades: frames as large as client-go
    /// writes them (RemoteCommand.maxFrameSize), a ping every 30 s (WSCore's default, which
    /// kubectl answers). kubectl's own pings, every 5 s, are answered as the relay reads its
    /// messages; it gives up on a connection that has not answered for 61 s.
    static let configuration = HTTP1WebSocketUpgradeChannel.Configuration(ws: .init(maxFrameSize: RemoteCommand.maxFrameSize))

    /// The API server's HTTP/1 server: WebSocket upgrades for exec (shouldUpgrade), every
    /// other request to `responder`, and requests for other upgrades (SPDY) kept whole.
    static func server(api: APIServer, tokens: TokenAuthenticator) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            FilteredUpgradeChannel(base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration) { head, _, logger in
                await shouldUpgrade(head, api: api, tokens: tokens, logger: logger)
            }, stalledWatchTimeout: api.options.stalledWatchTimeout)
        }
    }

    /// Whether the upgrade request `head` is taken, and then the session's handler. Refused
    /// (a bare 400 from Hummingbird) unless it is a GET of pods/NAME/exec that is
    /// authenticated, offers a subprotocol spoken here and passes execTarget's checks.
    static func shouldUpgrade(_ head: HTTPRequest, api: APIServer, tokens: TokenAuthenticator,
                              logger: Logger) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        let target = head.path ?? ""
        let path = String(target.prefix { $0 != "?" })
        let query = String(target.drop { $0 != "?" }.dropFirst())
        guard head.method == .get, let route = ExecRoute(path: path),
              case .success(let user) = await APIHTTPResponder.identify(head.headerFields, api: api, tokens: tokens),
              // Refused here, the client retries over SPDY and gets the 403 with its reason.
              await api.authorize(method: "GET", path: path, user: user).1.allowed,
              let subprotocol = RemoteCommand.negotiate(head.headerFields[values: .secWebSocketProtocol]),
              let exec = try? await api.execTarget(route, query: APIHTTPResponder.queryItems(query)) else {
            return .dontUpgrade
        }
        let token = api.kubeletClientToken
        return .upgrade([.secWebSocketProtocol: subprotocol], { inbound, outbound, context in
            await relay(exec, subprotocol: subprotocol, token: token, client: (inbound, outbound), logger: context.logger)
        })
    }

    /// One session: a WebSocket to the node agent, then messages both ways until one side
    /// closes. The client always gets a status: the agent's, else one saying what broke.
    static func relay(_ exec: ExecTarget, subprotocol: String, token: String,
                      client: (inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter), logger: Logger) async {
        let progress = RelayProgress()
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: RemoteCommand.maxFrameSize,
            additionalHeaders: [.authorization: "Bearer \(token)", .secWebSocketProtocol: subprotocol])
        do {
            try await WebSocketClient.connect(url: exec.url, configuration: configuration, logger: logger) { inbound, outbound, _ in
                progress.connected()
                await relayBothWays(client: client, agent: (inbound, outbound), progress: progress)
            }
        } catch {
            guard !progress.statusRelayed else { return }
            let what = progress.wasConnected ? "lost the exec stream of" : "cannot open an exec stream to"
            await send(.failed("error dialing backend: \(what) the node agent of \(exec.node) at \(exec.agent): \(error)"), to: client.outbound)
            return
        }
        if !progress.statusRelayed {
            await send(.failed("the node agent of \(exec.node) closed the exec stream without a status"), to: client.outbound)
        }
    }

    /// Both directions at once, until the first ends. The agent ends its side after the status
    /// (so the client has everything by then); the client ends its side when it is done or
    /// gone, and the agent then hangs the command up.
    static func relayBothWays(client: (inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter),
                     agent: (inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter), progress: RelayProgress) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await forward(client.inbound, to: agent.outbound, progress: nil) }
            group.addTask { await forward(agent.inbound, to: client.outbound, progress: progress) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Copies messages from `source` to `sink` until `source` ends (or the task is cancelled);
    /// notes a status (a non-empty message on stream 3) going by.
    static func forward(_ source: WebSocketInboundStream, to sink: WebSocketOutboundWriter, progress: RelayProgress?) async {
        do {
            for try await message in source.messages(maxSize: RemoteCommand.maxFrameSize) {
                switch message {
                case .binary(let buffer):
                    if buffer.readableBytes > 1, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == RemoteCommand.Stream.error {
                        progress?.relayedStatus()
                    }
                    try await sink.writeBinaryMessage(buffer)
                case .text(let text):
                    try await sink.writeTextMessage(text)
                }
            }
        } catch {}
    }

    static func send(_ outcome: RemoteCommand.Outcome, to outbound: WebSocketOutboundWriter) async {
        try? await outbound.write(.binary(ByteBuffer(bytes: outcome.message)))
    }
}

/// How far a relay got: whether the agent's WebSocket opened, whether its status went by.
final class RelayProgress: Sendable {
    private struct State {
        var connected = false
        var statusRelayed = false
    }

    private let state = Mutex(State())

    var wasConnected: Bool { state.withLock { $0.connected } }
    var statusRelayed: Bool { state.withLock { $0.statusRelayed } }

    func connected() {
        state.withLock { $0.connected = true }
    }

    func relayedStatus() {
        state.withLock { $0.statusRelayed = true }
    }
}

/// Takes the Upgrade header off a connection's first request when it asks for anything but a
/// WebSocket (kubectl's `Upgrade: SPDY/3.1`), so that it reaches the responder as a plain
/// request. NIO's typed upgrade handler (swift-nio 2.101), which looks at the first request
/// only, consumes the head of a request whose upgrade no upgrader takes and never passes it on:
/// the client got an empty reply ("unexpected EOF") instead of the Status that says why its
/// exec was refused. Sits right after the request decoder and leaves the pipeline after the
/// first head (an upgraded connection carries WebSocket frames, not HTTP parts).
final class ForeignUpgradeFilter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        if let upgrade = head.headers.first(name: "upgrade"), !upgrade.lowercased().contains("websocket") {
            head.headers.remove(name: "upgrade")
            let connection = head.headers[canonicalForm: "connection"].filter { $0.lowercased() != "upgrade" }
            head.headers.remove(name: "connection")
            for token in connection { head.headers.add(name: "connection", value: String(token)) }
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// The WebSocket upgrade channel with a ForeignUpgradeFilter and a ClientGoneHandler in its
/// pipeline, and under TLS a FlushCoalescingHandler (one TLS record per flush).
struct FilteredUpgradeChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value
    let base: HTTP1WebSocketUpgradeChannel
    let stalledWatchTimeout: Duration

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(ForeignUpgradeFilter(), position: .after(decoder))
            if let tls = try? pipeline.handler(type: NIOSSLServerHandler.self) {
                try pipeline.addHandler(FlushCoalescingHandler(), position: .after(tls))
                try pipeline.addHandler(ClientGoneHandler(stalledWatchTimeout: stalledWatchTimeout), position: .after(tls))
            } else {
                try pipeline.addHandler(ClientGoneHandler(stalledWatchTimeout: stalledWatchTimeout), position: .first)
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
