import JSON
import APIMachinery
import Storage

extension APIServer {
    /// GET on a collection: one page of matching objects (or a Table of them).
    func list(_ request: APIRequest, _ resource: ResourceType, namespace: String?, _ present: Presenter) async throws(APIError) -> APIResponse {
        var limit: Int?
        if let text = request.query["limit"], let n = Int(text), n > 0 { limit = n }
        var after: String?
        if let token = request.query["continue"], !token.isEmpty {
            guard let key = Self.decodeContinue(token), key.hasPrefix(resource.keyPrefix(namespace: namespace)) else {
                throw .badRequest("continue key is not valid: \(token)")
            }
            after = key
        }
        let (items, revision, next) = try await listObjects(request, resource, namespace: namespace, limit: limit, after: after)
        var metadata: JSONValue = ["resourceVersion": .string(String(revision))]
        if let next { metadata["continue"] = .string(Self.encodeContinue(next)) }
        return present.list(items, metadata: metadata)
    }

    /// Matching objects in key order from after `after`, at most `limit`, with the revision read
    /// and the key to continue from.
    func listObjects(_ request: APIRequest, _ resource: ResourceType, namespace: String?, limit: Int?,
                     after: String?) async throws(APIError) -> ([JSONValue], Int64, String?) {
        let filter = try WatchFilter(request, resource)
        var items: [JSONValue] = []
        var cursor = after
        var revision: Int64 = 0
        while true {
            let want = limit.map { $0 - items.count }
            let page: ListPage
            do {
                page = try await store.list(prefix: resource.keyPrefix(namespace: namespace), after: cursor,
                                            limit: want.map { filter.isEverything ? $0 : max($0, 500) })
            } catch {
                throw ObjectStore.apiError(error, resource, "")
            }
            if revision == 0 { revision = page.revision }
            for stored in page.items {
                let object = try ObjectStore.decode(stored)
                guard filter.matches(object) else { continue }
                items.append(object)
                if let limit, items.count == limit {
                    let more = stored.key != page.items.last?.key || page.continueAfter != nil
                    return (items, revision, more ? stored.key : nil)
                }
            }
            guard let next = page.continueAfter else { return (items, revision, nil) }
            cursor = next
        }
    }

    static func encodeContinue(_ key: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: key.utf8.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 0xF)]] }, as: UTF8.self)
    }

    static func decodeContinue(_ token: String) -> String? {
        let bytes = Array(token.utf8)
        guard bytes.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard let hi = hexValue(bytes[i]), let lo = hexValue(bytes[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// The label and field selectors of a list or watch.
struct WatchFilter: Sendable {
    var labels: LabelSelector
    var fields: FieldSelector?

    init(_ request: APIRequest, _ resource: ResourceType) throws(APIError) {
        labels = try LabelSelector(parsing: request.query["labelSelector"] ?? "")
        if let text = request.query["fieldSelector"], !text.isEmpty {
            fields = try FieldSelector(parsing: text, for: resource)
        }
    }

    var isEverything: Bool { labels.isEverything && (fields?.requirements.isEmpty ?? true) }

    func matches(_ object: JSONValue) -> Bool {
        labels.matches(object.labels) && (fields?.matches(object) ?? true)
    }
}
