public import Hummingbird
import HummingbirdTLS
public import NIOCore
import NIOHTTP1
import NIOHTTPTypes
public import NIOSSL
public import Logging
import JSON
import APIMachinery
import ServiceLifecycle
import Authorization
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// A request's context: Hummingbird's, and the connection it came on, which a watch's lines
/// are written to directly (see `APIHTTPResponder.response`).
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Carries the API over HTTPS (HTTP/1.1; Hummingbird on SwiftNIO): bearer-token
/// authentication, the body size limit, and streaming for watches. (pods/exec upgrades to a
/// WebSocket before it gets here: ExecProxy, APIServer+Exec.swift.)
public struct APIHTTPResponder: HTTPResponder {
    public typealias Context = APIRequestContext
    let api: APIServer
    let tokens: TokenAuthenticator

    public init(api: APIServer, tokens: TokenAuthenticator) {
        self.api = api
        self.tokens = tokens
    }

    public func respond(to request: Request, context: APIRequestContext) async throws -> Response {
        var request = request
        let path = request.uri.path
        // Health endpoints answer without a token, as kube-apiserver's do for probes.
        var user: TokenAuthenticator.User?
        if !["/healthz", "/readyz", "/livez"].contains(path) {
            switch await Self.identify(request.headers, api: api, tokens: tokens) {
            case .success(let who): user = who
            case .failure(let error): return Self.response(.error(error), on: context.channel)
            }
        }
        // pods/NAME/exec that was not upgraded to a WebSocket: kubectl's SPDY retry.
        if let exec = ExecRoute(path: path) {
            if let user {
                let (attributes, decision) = await api.authorize(method: request.method.rawValue, path: path, user: user)
                guard decision.allowed else { return Self.response(.error(APIServer.forbidden(attributes, reason: decision.reason)), on: context.channel) }
            }
            let query = Self.queryItems(request.uri.query ?? "")
            return Self.response(await api.execWithoutWebSocket(exec, query: query), on: context.channel)
        }
        var body: [UInt8] = []
        if [.post, .put, .patch, .delete].contains(request.method) {
            do {
                let buffer = try await request.collectBody(upTo: api.options.maxRequestBytes)
                body = Array(buffer.readableBytesView)
            } catch is NIOTooManyBytesError {
                return Self.response(.error(.tooLarge(limit: api.options.maxRequestBytes)), on: context.channel)
            }
        }
        let query = Self.queryParameters(request.uri.query ?? "")
        let apiRequest = APIRequest(method: request.method.rawValue, path: path, query: query,
                                    accept: request.headers.value("accept") ?? "application/json",
                                    contentType: request.headers.value("content-type") ?? "application/json", body: body, user: user,
                                    userAgent: request.headers.value("user-agent") ?? "")
        let (answer, warnings) = await api.handleWithWarnings(apiRequest)
        var response = Self.response(answer, on: context.channel)
        // (HTTPField is not re-exported by Hummingbird: built by inference.)
        for warning in warnings { response.headers.append(.init(name: .init("Warning")!, value: Warnings.header(warning))) }
        return response
    }

    /// Who sends a request: the token's user, or the user it impersonates (Impersonate-User,
    /// Impersonate-Group, Impersonate-Uid: kubectl's --as, --as-group, --as-uid) when RBAC lets
    /// the token's user `impersonate` each of them. 401 without a valid token, 403 when an
    /// impersonation is not allowed, 400 for one that cannot be served.
    static func identify(_ headers: HTTPFields, api: APIServer, tokens: TokenAuthenticator) async -> Result<TokenAuthenticator.User, APIError> {
        guard let user = await authenticate(headers.value("authorization"), api: api, tokens: tokens) else { return .failure(.unauthorized()) }
        // Most requests impersonate nobody: one look at the names before gathering any.
        guard headers.contains(where: { $0.name.canonicalName.hasPrefix("impersonate-") }) else { return .success(user) }
        // (Looked up by canonical name: HTTPField.Name is not re-exported by Hummingbird.)
        func values(_ name: String) -> [String] { headers.filter { $0.name.canonicalName == name }.map(\.value) }
        let asUser = values("impersonate-user").first.flatMap { $0.isEmpty ? nil : $0 }
        let asGroups = values("impersonate-group")
        let asUID = values("impersonate-uid").first
        if headers.contains(where: { $0.name.canonicalName.hasPrefix("impersonate-extra-") }) {
            return .failure(.badRequest("impersonating user extra fields (Impersonate-Extra-*) is not supported by this server"))
        }
        guard let asUser else {
            if !asGroups.isEmpty || asUID != nil {
                return .failure(.badRequest("requested \(asGroups.isEmpty ? "uid" : "groups") without impersonating a user"))
            }
            return .success(user)
        }
        let me = APIServer.userInfo(user)
        func check(_ resource: String, _ name: String, namespace: String = "") async -> APIError? {
            // uids (and userextras) are authentication.k8s.io's, the rest the core group's.
            let group = resource == "uids" ? "authentication.k8s.io" : ""
            let attributes = RequestAttributes(user: me, verb: "impersonate",
                                               target: .resource(group: group, resource: resource, subresource: "", namespace: namespace, name: name))
            let decision = await api.authorize(attributes)
            return decision.allowed ? nil : APIServer.forbidden(attributes, reason: decision.reason)
        }
        var groups = asGroups
        let serviceAccount = asUser.hasPrefix("system:serviceaccount:") ? asUser.split(separator: ":", omittingEmptySubsequences: false) : []
        if serviceAccount.count == 4 {
            if let refused = await check("serviceaccounts", String(serviceAccount[3]), namespace: String(serviceAccount[2])) { return .failure(refused) }
            if groups.isEmpty { groups = ["system:serviceaccounts", "system:serviceaccounts:\(serviceAccount[2])"] }
        } else if let refused = await check("users", asUser) {
            return .failure(refused)
        }
        for group in asGroups { if let refused = await check("groups", group) { return .failure(refused) } }
        if let asUID, let refused = await check("uids", asUID) { return .failure(refused) }
        return .success(TokenAuthenticator.User(name: asUser, uid: asUID ?? "", groups: groups))
    }

    /// Who `authorization` (the Authorization header) names: a bearer token of the token file,
    /// else a service account's token; nil when nobody.
    static func authenticate(_ authorization: String?, api: APIServer, tokens: TokenAuthenticator) async -> TokenAuthenticator.User? {
        guard let header = authorization, header.utf8.starts(with: "Bearer ".utf8) else { return nil }
        let token = String(Substring(header.utf8.dropFirst(7)))
        if let user = tokens.user(for: token) { return user }
        return await api.authenticateServiceAccountToken(token)
    }

    /// The query string as a dictionary (the last value of a repeated key).
    static func queryParameters(_ raw: String) -> [String: String] {
        var query: [String: String] = [:]
        for (key, value) in queryItems(raw) { query[key] = value }
        return query
    }

    /// The query string's pairs in order, as Go's url.ParseQuery reads them (what kubectl and
    /// client-go write): `+` is a space, `%XX` a byte. Hummingbird's own parsing leaves `+`
    /// alone, which turned `-l 'app in (a,b)'` (sent as `app+in+%28a%2Cb%29`) into a label key
    /// with plus signs. A key may repeat (exec's `command`, one per argument).
    static func queryItems(_ raw: String) -> [(String, String)] {
        func decode(_ part: Substring) -> String {
            var bytes: [UInt8] = []
            var input = Array(part.utf8)[...]
            while let byte = input.popFirst() {
                if byte == UInt8(ascii: "+") {
                    bytes.append(UInt8(ascii: " "))
                } else if byte == UInt8(ascii: "%"), input.count >= 2,
                          let value = UInt8(String(decoding: input.prefix(2), as: UTF8.self), radix: 16) {
                    bytes.append(value)
                    input = input.dropFirst(2)
                } else {
                    bytes.append(byte)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        return raw.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
        }
    }

    /// The HTTP response for an answer; a watch's lines are written to `channel`.
    static func response(_ response: APIResponse, on channel: any Channel) -> Response {
        switch response {
        case .json(let status, let value):
            return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.jsonBytes())))
        case .bytes(let status, let type, let bytes):
            return Response(status: .init(code: status), headers: [.contentType: type],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .stream(let type, let lines):
            return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache, private"],
                            body: ResponseBody(asyncSequence: lines.map { ByteBuffer(bytes: $0) }))
        case .watch(let type, let output):
            // However the connection ends (the client goes or stops sending, the server
            // stops), the watch ends with it, even if the response never started.
            ClientGoneHandler.track(output, on: channel)
            return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache, private"],
                            body: ResponseBody { writer in
                // Hummingbird has queued the head (HTTP/1.1, chunked: a watch is a GET with no
                // Content-Length) on the connection's event loop; the `submit` below is
                // queued after it, and every line after that. Each batch of lines goes to the
                // loop from the thread that sends it, without a task per watcher in between;
                // always through `execute`, so lines sent on that loop never write (and
                // perhaps close the connection, which finishes the watch) while the output's
                // lock is held. There they enter the pipeline below the HTTP encoder, as the
                // chunks they already are: one buffer per line, framed once for every watcher
                // of the event, written to TLS as it is (no per-watcher conversion to NIO's
                // HTTP parts, chunk framing and copy). The encoder writes the response's end.
                let encoder = try? await channel.eventLoop.submit {
                    NIOLoopBound(try channel.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self),
                                 eventLoop: channel.eventLoop)
                }.get()
                if let encoder {
                    output.attach { lines in
                        channel.eventLoop.execute {
                            for line in lines { encoder.value.write(NIOAny(IOData.byteBuffer(line.chunk)), promise: nil) }
                            encoder.value.flush()
                        }
                    }
                } else {
                    output.attach { lines in
                        channel.eventLoop.execute {
                            for line in lines { channel.write(HTTPResponsePart.body(line.line), promise: nil) }
                            channel.flush()
                        }
                    }
                }
                await output.finished()
                try await writer.finish(nil)
            })
        }
    }
}

/// Starts the HTTPS server and runs it until cancelled.
public enum APIHTTPServer {
    /// `handleSignals`: end on SIGTERM/SIGINT (a server in a test process ends by cancellation
    /// alone, leaving the process's signals as they were).
    public static func run(api: APIServer, tokens: TokenAuthenticator, host: String, port: Int,
                           tls: TLSConfiguration, logger: Logger, handleSignals: Bool = true,
                           onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // HTTP/1 with WebSocket upgrades, for pods/exec: ExecProxy takes an upgrade or refuses
        // it; every other request goes to the responder as before.
        let app = Application(
            responder: APIHTTPResponder(api: api, tokens: tokens),
            server: try .tls(ExecProxy.server(api: api, tokens: tokens), tlsConfiguration: tls),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        // SIGTERM/SIGINT: end the watches first (a graceful HTTP shutdown waits for open
        // responses, and a watch never finishes on its own), then stop serving.
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] where handleSignals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                api.closeWatches()
                Task { await group.triggerGracefulShutdown() }
            }
            source.resume()
            sources.append(source)
        }
        try await group.run()
        sources.forEach { $0.cancel() }
    }
}

extension HTTPFields {
    /// A field's value as `self[name]` gives it (a repeated field's values joined by ", "),
    /// found by a scan of the few fields a request has: the subscript builds an index of every
    /// name and joins through a lazy sequence even for one value, ~1 µs over a request's
    /// lookups. (By canonical name: HTTPField.Name is not re-exported by Hummingbird.)
    func value(_ canonicalName: String) -> String? {
        var found: String?
        for field in self where field.name.canonicalName == canonicalName {
            found = found.map { $0 + ", " + field.value } ?? field.value
        }
        return found
    }
}
