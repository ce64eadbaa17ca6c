import Synchronization
public import JSON
public import APIMachinery

/// One API request, independent of the HTTP server that carried it.
public struct APIRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var accept: String
    public var contentType: String
    public var body: [UInt8]
    /// Who sent it (nil for the server's own requests).
    public var user: TokenAuthenticator.User?
    /// The client's User-Agent (`kubectl/v1.32.4 (linux/amd64) kubernetes/…`): a write without
    /// `fieldManager` is recorded under its first word, as kube-apiserver does.
    public var userAgent: String

    public init(method: String, path: String, query: [String: String] = [:], accept: String = "application/json",
                contentType: String = "application/json", body: [UInt8] = [], user: TokenAuthenticator.User? = nil,
                userAgent: String = "") {
        self.userAgent = userAgent
        self.method = method
        self.path = path
        self.query = query
        self.accept = accept
        self.contentType = contentType
        self.body = body
        self.user = user
    }

    /// Whether the body is a Kubernetes protobuf document (kubectl's typed commands send one).
    var isProtobuf: Bool { contentType.hasPrefix(ProtobufCodec.mediaType) }

    /// The body as a JSON object: parsed as JSON, or decoded from protobuf for the kinds the
    /// schema table has (415 naming the kind otherwise; 400 on a malformed document).
    func jsonBody() throws(APIError) -> JSONValue {
        if isProtobuf {
            do {
                return try ProtobufCodec.decodeDocument(body)
            } catch {
                if error.description.contains("has no protobuf schema") { throw .unsupportedMediaType("\(ProtobufCodec.mediaType): \(error)") }
                throw .badRequest("the body of the request could not be decoded as protobuf: \(error)")
            }
        }
        do {
            return try JSONValue.parse(body)
        } catch {
            throw .badRequest("the body of the request could not be decoded as JSON: \(error)")
        }
    }

    /// Whether the client prefers protobuf answers (listed before JSON in Accept).
    var prefersProtobuf: Bool {
        // The common case (what most clients send, or what a missing header becomes) without
        // splitting strings: it was 2.5% of a create's CPU.
        if accept == "application/json" { return false }
        let types = accept.split(separator: ",").map { String($0.split(separator: ";").first ?? "").filter { $0 != " " } }
        guard let first = types.firstIndex(where: { $0 == ProtobufCodec.mediaType }) else { return false }
        let json = types.firstIndex(where: { $0 == "application/json" || $0 == "*/*" }) ?? types.count
        return first < json
    }

    /// Whether a JSON answer is acceptable (JSON, any type, or no Accept at all).
    var acceptsJSON: Bool {
        if accept == "application/json" { return true }
        let types = accept.split(separator: ",").map { String($0.split(separator: ";").first ?? "").filter { $0 != " " } }
        return types.isEmpty || types.contains { ["application/json", "*/*", "application/*", ""].contains($0) }
    }

    func flag(_ name: String) -> Bool {
        guard let v = query[name] else { return false }
        return v == "true" || v == "1" || v.isEmpty
    }
}

/// What the server answers: a JSON document, other bytes, a stream of bytes (a pod's log), or
/// the events of a watch.
public enum APIResponse: Sendable {
    case json(status: Int, JSONValue)
    case bytes(status: Int, contentType: String, [UInt8])
    /// Bytes until the stream ends.
    case stream(contentType: String, AsyncStream<[UInt8]>)
    /// Watch events (newline-separated JSON, or length-prefixed protobuf frames) until the
    /// watch finishes. Whoever takes this answer attaches to the output or finishes it.
    case watch(contentType: String, WatchOutput)

    static func error(_ e: APIError) -> APIResponse { .json(status: e.code, e.status) }
}

/// Where a request goes, as parsed from its path.
enum Route: Equatable {
    case version, healthz, readyz, livez, metrics
    case apiVersions                                 // /api
    case apiGroups                                   // /apis
    case apiGroup(String)                            // /apis/G
    case resourceList(group: String, version: String)   // /api/v1, /apis/G/V
    case openAPIv2, openAPIv3Root, openAPIv3(String)
    case resource(ResourceRoute)

    struct ResourceRoute: Equatable {
        var resource: ResourceType
        var namespace: String?
        var name: String?
        var subresource: String?
        /// The deprecated /watch/ path prefix.
        var watchPath: Bool
    }

    static func parse(_ path: String, registry: ResourceRegistry) -> Route? {
        // Split on the bytes: String's own split walks grapheme clusters, which cost every
        // request ~3 µs here (6% of an in-process create).
        let parts = path.utf8.split(separator: UInt8(ascii: "/")).map { String(Substring($0)) }
        switch parts.first {
        case "version": return parts.count == 1 ? .version : nil
        case "healthz": return .healthz
        case "metrics": return parts.count == 1 ? .metrics : nil
        case "readyz": return .readyz
        case "livez": return .livez
        case "openapi":
            if parts == ["openapi", "v2"] { return .openAPIv2 }
            if parts == ["openapi", "v3"] { return .openAPIv3Root }
            if parts.count >= 3, parts[1] == "v3" { return .openAPIv3(parts[2...].joined(separator: "/")) }
            return nil
        case "api":
            if parts.count == 1 { return .apiVersions }
            guard parts[1] == "v1" else { return nil }
            if parts.count == 2 { return .resourceList(group: "", version: "v1") }
            return resourceRoute(group: "", version: "v1", rest: Array(parts[2...]), registry: registry)
        case "apis":
            if parts.count == 1 { return .apiGroups }
            if parts.count == 2 { return .apiGroup(parts[1]) }
            if parts.count == 3 { return .resourceList(group: parts[1], version: parts[2]) }
            return resourceRoute(group: parts[1], version: parts[2], rest: Array(parts[3...]), registry: registry)
        default: return nil
        }
    }

    static func resourceRoute(group: String, version: String, rest: [String], registry: ResourceRegistry) -> Route? {
        var rest = rest
        var watchPath = false
        if rest.first == "watch" { watchPath = true; rest.removeFirst() }
        func resource(_ plural: String) -> ResourceType? { registry.resource(group: group, version: version, plural: plural) }
        // namespaces/NS/PLURAL[/NAME[/SUB]] for namespaced resources.
        if rest.count >= 3, rest[0] == "namespaces", let r = resource(rest[2]), r.namespaced {
            guard rest.count <= 5 else { return nil }
            return .resource(ResourceRoute(resource: r, namespace: rest[1], name: rest.count > 3 ? rest[3] : nil,
                                           subresource: rest.count > 4 ? rest[4] : nil, watchPath: watchPath))
        }
        // PLURAL[/NAME[/SUB]]: cluster-scoped resources, and namespaced ones across all namespaces.
        guard let first = rest.first, let r = resource(first), rest.count <= 3 else { return nil }
        if r.namespaced && rest.count > 1 { return nil }
        return .resource(ResourceRoute(resource: r, namespace: nil, name: rest.count > 1 ? rest[1] : nil,
                                       subresource: rest.count > 2 ? rest[2] : nil, watchPath: watchPath))
    }
}

/// The warnings of one request's answer, as kube-apiserver sends them (`Warning: 299 - "…"`,
/// which kubectl prints as "Warning: …"): what the server accepted but does not do.
public final class Warnings: Sendable {
    private let texts = Mutex<[String]>([])

    public init() {}

    public func add(_ text: String) { texts.withLock { if !$0.contains(text) { $0.append(text) } } }
    public var all: [String] { texts.withLock { $0 } }

    /// A Warning header's value (RFC 7234: code 299, agent "-", the text quoted).
    public static func header(_ text: String) -> String {
        "299 - \"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
