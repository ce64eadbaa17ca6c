import JSON
import APIMachinery
import ProtobufWire

/// How one request's answers are shown: stored objects turned into the resource the client
/// asked for (a view such as events.k8s.io/v1 converts them) and encoded as it prefers,
/// protobuf when it lists that before JSON (as kube-apiserver answers), a Table when kubectl
/// asks for one, JSON otherwise.
struct Presenter: Sendable {
    /// The resource the client asked for.
    let view: ResourceType
    /// The resource its objects are stored as (`view` itself unless it is a view).
    let storage: ResourceType
    let protobuf: Bool
    /// Whether JSON is acceptable too (what a protobuf client gets for what has no schema).
    let jsonAcceptable: Bool
    let table: Bool
    let includeObject: String?
    /// A custom resource's columns, from its CRD (a built-in kind's are the converter's own).
    let columns: [TableConverter.Column]?

    init(_ request: APIRequest, view: ResourceType, storage: ResourceType, columns: [TableConverter.Column]? = nil) {
        self.view = view
        self.storage = storage
        self.columns = columns
        // (Foundation's substring search costs more than the rest of this: skip it for the
        // Accept most requests send.)
        table = request.accept != "application/json" && request.accept.contains("as=Table")
        protobuf = request.prefersProtobuf && !table
        jsonAcceptable = request.acceptsJSON
        includeObject = request.query["includeObject"]
    }

    /// A stored object as the client's resource shows it.
    func object(_ stored: JSONValue) -> JSONValue { ResourceConversion.toView(stored, view) }

    /// An object the client sent, in the form it is stored in.
    func stored(_ object: JSONValue) -> JSONValue { ResourceConversion.toStorage(object, view, storage: storage) }

    /// One object (a one-row Table when kubectl asks for one). Protobuf falls back to JSON,
    /// which such clients also accept, for a kind without a schema or a field the schema lacks.
    func single(_ status: Int, _ stored: JSONValue) -> APIResponse {
        let object = object(stored)
        return table ? .json(status: status, oneRowTable(object)) : encoded(status, object)
    }

    /// A page of a list.
    func list(_ stored: [JSONValue], metadata: JSONValue) -> APIResponse {
        let items = stored.map(object)
        if table {
            return .json(status: 200, table(items, metadata: metadata))
        }
        if protobuf {
            // A protobuf list's items carry no type of their own (the list names it).
            let bare: [JSONValue] = items.map { item in
                var item = item
                item["apiVersion"] = nil
                item["kind"] = nil
                return item
            }
            let list: JSONValue = ["kind": .string(view.kind + "List"), "apiVersion": .string(view.apiVersion),
                                   "metadata": metadata, "items": .array(bare)]
            do {
                return .bytes(status: 200, contentType: ProtobufCodec.mediaType, try ProtobufCodec.encodeDocument(list))
            } catch {
                if !jsonAcceptable { return .error(Self.notAcceptable(error)) }
            }
        }
        return .json(status: 200, ["kind": .string(view.kind + "List"), "apiVersion": .string(view.apiVersion),
                                   "metadata": metadata, "items": .array(items)])
    }

    /// The Table of one object, as a get's answer and a watch event carry it.
    func oneRowTable(_ object: JSONValue) -> JSONValue {
        table([object], metadata: ["resourceVersion": .string(object.resourceVersion ?? "")])
    }

    func table(_ objects: [JSONValue], metadata: JSONValue) -> JSONValue {
        TableConverter.table(objects, columns: columns ?? TableConverter.columns(for: view), includeObject: includeObject,
                             listMetadata: metadata)
    }

    /// A Status or another object that is already in the client's form.
    func encoded(_ status: Int, _ object: JSONValue) -> APIResponse {
        if protobuf {
            do {
                return .bytes(status: status, contentType: ProtobufCodec.mediaType, try ProtobufCodec.encodeDocument(object))
            } catch {
                if !jsonAcceptable { return .error(Self.notAcceptable(error)) }
            }
        }
        return .json(status: status, object)
    }

    /// 406 for a client that takes protobuf only, naming why this answer cannot be protobuf.
    static func notAcceptable(_ why: ProtobufError) -> APIError {
        APIError(code: 406, reason: "NotAcceptable",
                 message: "only application/json is available for this answer, and the request does not accept it: \(why)")
    }

    /// Refuses a watch no acceptable encoding can carry (before it starts).
    func checkWatchEncoding() throws(APIError) {
        if protobuf, !watchesInProtobuf, !jsonAcceptable {
            throw Self.notAcceptable(ProtobufError("\(view.apiVersion) \(view.kind) has no protobuf schema on this server"))
        }
    }

    // MARK: Watch streams

    /// Whether a watch streams protobuf frames: the client prefers protobuf and the kind has
    /// a schema (the whole stream is one encoding, chosen when it starts).
    var watchesInProtobuf: Bool { protobuf && ProtobufCodec.messageName(apiVersion: view.apiVersion, kind: view.kind) != nil }

    var watchContentType: String { watchesInProtobuf ? ProtobufCodec.watchMediaType : "application/json" }

    /// What distinguishes this watcher's encoded events from another's, for the shared cache.
    var watchEncoding: String {
        "\(view.apiVersion)/\(watchesInProtobuf ? "protobuf" : table ? "table/\(includeObject ?? "")" : "json")"
    }

    /// One watch event of an object in the client's resource and encoding. An object the
    /// protobuf schema cannot carry becomes an ERROR event naming the field (never dropped).
    func watchEvent(_ type: String, _ object: JSONValue) -> [UInt8] {
        guard watchesInProtobuf else { return APIServer.eventLine(type, object) }
        do {
            return try ProtobufCodec.encodeWatchEvent(type: type, object: object)
        } catch {
            let status = APIError.internalError("\(object.name ?? "") cannot be sent as protobuf: \(error)").status
            return (try? ProtobufCodec.encodeWatchEvent(type: "ERROR", object: status)) ?? []
        }
    }

    /// A watch event of a stored object: for a watch that asked for a Table (`kubectl get -w`),
    /// a one-row Table with the columns the list had, as kube-apiserver sends them; kubectl
    /// prints each row under the list's header (an object instead made it print a header of
    /// its own, without the kind's columns).
    func watchEvent(_ type: String, stored: JSONValue) -> [UInt8] {
        let object = object(stored)
        guard table else { return watchEvent(type, object) }
        return watchEvent(type, oneRowTable(object))
    }
}
