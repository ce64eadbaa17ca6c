public import APIMachinery
import AsyncHTTPClient
import Foundation
public import JSON
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What a call to the API server can end in besides an answer.
public enum ClientError: Error, Sendable, CustomStringConvertible, Equatable {
    /// A kubeconfig or flag that cannot be used.
    case config(String)
    /// The server refused with a Status object: its HTTP code, reason (NotFound, Conflict,
    /// AlreadyExists, Invalid, Gone, …) and message.
    case status(code: Int, reason: String, message: String)
    /// The server could not be reached or the connection broke.
    case transport(String)
    /// The server answered something that is not the JSON expected.
    case decode(String)

    public var description: String {
        switch self {
        case .config(let m): "configuration: \(m)"
        case .status(let code, let reason, let message): "\(code) \(reason): \(message)"
        case .transport(let m): "transport: \(m)"
        case .decode(let m): "decode: \(m)"
        }
    }

    public var code: Int? { if case .status(let code, _, _) = self { code } else { nil } }
    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 && !isAlreadyExists }
    public var isAlreadyExists: Bool { if case .status(409, "AlreadyExists", _) = self { true } else { false } }
    public var isGone: Bool { code == 410 }
}

/// List and watch options, as query parameters.
public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    public var limit: Int?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
    }

    var query: [(String, String)] {
        var q: [(String, String)] = []
        if let labelSelector { q.append(("labelSelector", labelSelector)) }
        if let fieldSelector { q.append(("fieldSelector", fieldSelector)) }
        if let limit { q.append(("limit", String(limit))) }
        return q
    }
}

/// One page of a list: the items, the resourceVersion the list was read at (to watch from)
/// and the token for the next page, if any.
public struct ObjectList: Sendable {
    public var items: [JSONValue]
    public var resourceVersion: String
    public var continueToken: String?
}

/// One line of a watch.
public struct WatchEvent: Sendable {
    public enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED",
                                             bookmark = "BOOKMARK", error = "ERROR" }
    public var kind: Kind
    /// The object (for ERROR, a Status).
    public var object: JSONValue
}

public enum PatchType: String, Sendable {
    case merge = "application/merge-patch+json"
    case json = "application/json-patch+json"
    case strategicMerge = "application/strategic-merge-patch+json"
}

/// A client of the Kubernetes REST API (Netplane's API server, or any other), over HTTPS
/// with keep-alive connections. Objects are JSON trees; KubernetesObject types give typed
/// access (see TypedClient.swift).
public final class APIClient: Sendable {
    public let config: ClientConfig
    let http: HTTPClient

    /// `maxConnections`: how many requests may be in flight at once before they queue.
    public init(_ config: ClientConfig, maxConnections: Int = 32) throws(ClientError) {
        self.config = config
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = config.caPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            if let cert = config.clientCertificatePEM, let key = config.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert.utf8)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
        } catch {
            throw .config("TLS material: \(error)")
        }
        if config.insecureSkipTLSVerify { tls.certificateVerification = .none }
        // A watch given up mid-stream is closed with close_notify; a server still streaming
        // may never answer it, and NIOSSL's 5 s default would hold every shutdown that long.
        tls.shutdownTimeout = .seconds(1)
        var httpConfig = HTTPClient.Configuration(tlsConfiguration: tls)
        httpConfig.connectionPool = .init(idleTimeout: .seconds(60),
                                          concurrentHTTP1ConnectionsPerHostSoftLimit: maxConnections)
        httpConfig.timeout = .init(connect: .seconds(5), read: nil)
        httpConfig.httpVersion = .http1Only
        // No tracer is bootstrapped in Netplane, yet the default configuration still opens a
        // no-op span per request and fills in its attributes: ~5% of a request's client CPU.
        httpConfig.tracing.tracer = nil
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: httpConfig)
    }

    /// Closes the connections; call before dropping the client.
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: - Paths

    /// `/api/v1/namespaces/NS/pods/NAME/status` and the like.
    public func path(_ resource: ResourceType, namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = resource.group.isEmpty ? "/api/\(resource.version)" : "/apis/\(resource.group)/\(resource.version)"
        if resource.namespaced, let namespace { path += "/namespaces/\(namespace)" }
        path += "/\(resource.plural)"
        if let name { path += "/\(name)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    // MARK: - Verbs

    public func get(_ resource: ResourceType, namespace: String?, name: String) async throws(ClientError) -> JSONValue {
        try await call(.GET, path(resource, namespace: namespace, name: name))
    }

    public func list(_ resource: ResourceType, namespace: String? = nil, options: ListOptions = .init(),
                     continueToken: String? = nil) async throws(ClientError) -> ObjectList {
        var query = options.query
        if let continueToken { query.append(("continue", continueToken)) }
        let reply = try await call(.GET, path(resource, namespace: namespace), query: query)
        let token = reply[path: ["metadata", "continue"]]?.stringValue
        return ObjectList(items: reply["items"]?.arrayValue ?? [],
                          resourceVersion: reply[path: ["metadata", "resourceVersion"]]?.stringValue ?? "",
                          continueToken: token?.isEmpty == false ? token : nil)
    }

    /// Every page of a list, and the first page's resourceVersion (a watch from it misses
    /// nothing that changed while the later pages were read).
    public func listAll(_ resource: ResourceType, namespace: String? = nil,
                        options: ListOptions = .init(limit: 500)) async throws(ClientError) -> ObjectList {
        var page = try await list(resource, namespace: namespace, options: options)
        var all = page
        while let token = page.continueToken {
            page = try await list(resource, namespace: namespace, options: options, continueToken: token)
            all.items += page.items
        }
        all.continueToken = nil
        return all
    }

    /// Creates `object` in its own namespace (`metadata.namespace`, else the given one).
    public func create(_ resource: ResourceType, _ object: JSONValue, namespace: String? = nil) async throws(ClientError) -> JSONValue {
        try await call(.POST, path(resource, namespace: object.namespace ?? namespace), body: object)
    }

    /// POSTs to a subresource of an object (pods/binding, serviceaccounts/token).
    @discardableResult
    public func post(_ resource: ResourceType, namespace: String?, name: String, subresource: String,
                     _ body: JSONValue) async throws(ClientError) -> JSONValue {
        try await call(.POST, path(resource, namespace: namespace, name: name, subresource: subresource), body: body)
    }

    /// Replaces `object` (its resourceVersion, if set, must still be current: 409 otherwise).
    public func update(_ resource: ResourceType, _ object: JSONValue, subresource: String? = nil) async throws(ClientError) -> JSONValue {
        guard let name = object.name else { throw .config("update of an object without metadata.name") }
        return try await call(.PUT, path(resource, namespace: object.namespace, name: name, subresource: subresource), body: object)
    }

    public func patch(_ resource: ResourceType, namespace: String?, name: String, _ patch: JSONValue,
                      type: PatchType = .merge, subresource: String? = nil) async throws(ClientError) -> JSONValue {
        try await call(.PATCH, path(resource, namespace: namespace, name: name, subresource: subresource),
                       body: patch, contentType: type.rawValue)
    }

    /// Deletes an object; returns what the server answered (the object while finalizers or a
    /// grace period hold it, else a Status or the last state).
    /// `propagationPolicy`: Background, Foreground or Orphan (the server's default when nil);
    /// `uid`: delete only the object with this uid (409 if the name now holds another).
    @discardableResult
    public func delete(_ resource: ResourceType, namespace: String?, name: String,
                       gracePeriodSeconds: Int? = nil, propagationPolicy: String? = nil,
                       uid: String? = nil) async throws(ClientError) -> JSONValue {
        var query: [(String, String)] = []
        if let gracePeriodSeconds { query.append(("gracePeriodSeconds", String(gracePeriodSeconds))) }
        var options: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1"]
        if let propagationPolicy { options["propagationPolicy"] = .string(propagationPolicy) }
        if let uid { options["preconditions"] = ["uid": .string(uid)] }
        let body: JSONValue? = propagationPolicy == nil && uid == nil ? nil : options
        return try await call(.DELETE, path(resource, namespace: namespace, name: name), query: query, body: body)
    }

    /// Watches from `resourceVersion` ("" or "0": the current objects first, as ADDED) with
    /// bookmarks. The sequence ends when the server ends the watch; it throws a ClientError if
    /// the connection breaks or the server refuses to start it. The request is sent when the
    /// first event is asked for; cancelling the iterating task closes the connection.
    public func watch(_ resource: ResourceType, namespace: String? = nil, options: ListOptions = .init(),
                      resourceVersion: String, timeoutSeconds: Int? = nil) -> WatchStream {
        var query = options.query
        query += [("watch", "true"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true")]
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        return WatchStream(http: http, request: makeRequest(.GET, path(resource, namespace: namespace), query: query))
    }

    // MARK: - HTTP

    func makeRequest(_ method: HTTPMethod, _ path: String, query: [(String, String)] = []) -> HTTPClientRequest {
        var url = config.server + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.escape($0))=\(Self.escape($1))" }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let token = config.token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    func call(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil,
              contentType: String = "application/json") async throws(ClientError) -> JSONValue {
        var request = makeRequest(method, path, query: query)
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body.jsonBytes()))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(60))
            bytes = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw .transport("\(method) \(path): \(error)")
        }
        guard (200..<300).contains(response.status.code) else { throw Self.statusError(response.status, bytes) }
        do {
            return try JSONValue.parse(bytes.readableBytesView)
        } catch {
            throw .decode("\(method) \(path): \(error)")
        }
    }

    static func statusError(_ status: HTTPResponseStatus, _ body: ByteBuffer) -> ClientError {
        let value = try? JSONValue.parse(body.readableBytesView)
        return .status(code: Int(status.code), reason: value?["reason"]?.stringValue ?? status.reasonPhrase,
                       message: value?["message"]?.stringValue ?? String(buffer: body))
    }

    /// Percent-encoding for a query component (selectors carry '=', '!', ',' and spaces).
    static func escape(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// The events of one watch request, read straight from the response body by the task that
/// iterates (no relay task in between: a watch event reaches its reader one hop sooner).
public struct WatchStream: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    let http: HTTPClient
    let request: HTTPClientRequest

    public func makeAsyncIterator() -> Iterator { Iterator(http: http, request: request) }

    public struct Iterator: AsyncIteratorProtocol {
        let http: HTTPClient
        let request: HTTPClientRequest
        var body: HTTPClientResponse.Body.AsyncIterator?
        /// Bytes read but not yet returned; `start` is where the next line begins.
        var buffer: [UInt8] = []
        var start = 0
        var ended = false

        public mutating func next() async throws -> WatchEvent? {
            while true {
                if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[start..<newline]
                    start = newline + 1
                    if !line.isEmpty { return try Self.event(line) }
                    continue
                }
                if ended { return nil }
                let chunk: ByteBuffer?
                do {
                    if body == nil { body = try await open() }
                    chunk = try await body!.next()
                } catch let error as ClientError {
                    throw error
                } catch {
                    throw ClientError.transport("watch \(request.url): \(error)")
                }
                guard let chunk else {
                    ended = true
                    continue
                }
                if start > 0 {
                    buffer.removeFirst(start)
                    start = 0
                }
                buffer.append(contentsOf: chunk.readableBytesView)
            }
        }

        func open() async throws -> HTTPClientResponse.Body.AsyncIterator {
            let response = try await http.execute(request, deadline: .distantFuture)
            guard response.status == .ok else {
                throw APIClient.statusError(response.status, try await response.body.collect(upTo: 1 << 20))
            }
            return response.body.makeAsyncIterator()
        }

        static func event(_ line: ArraySlice<UInt8>) throws(ClientError) -> WatchEvent {
            let value: JSONValue
            do { value = try JSONValue.parse(line) } catch { throw .decode("watch event: \(error)") }
            guard let type = value["type"]?.stringValue, let kind = WatchEvent.Kind(rawValue: type),
                  let object = value["object"]
            else { throw .decode("watch event without type or object") }
            return WatchEvent(kind: kind, object: object)
        }
    }
}
