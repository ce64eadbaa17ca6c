/// Every message the server can encode and decode, from the tables in Schemas+*.swift.
public enum ProtobufSchemas {
    /// Messages by full name.
    public static let byName: [String: MessageSchema] = {
        var all: [String: MessageSchema] = [:]
        for message in metaMessages + coreMessages + workloadMessages + moreMessages + storageMessages + policyMessages + rbacMessages { all[message.name] = message }
        return all
    }()

    /// Each message's fields by number.
    static let fieldsByNumber: [String: [Int: FieldSchema]] = byName.mapValues { schema in
        Dictionary(schema.fields.map { ($0.number, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Whether `key` is a map field of `schema` (an empty map is left out of JSON, an empty message is not).
    static func isMap(_ schema: MessageSchema, _ key: String) -> Bool {
        schema.fields.contains { field in
            guard field.json == key, case .map = field.type else { return false }
            return true
        }
    }

    /// Every message a table names that the table does not define (a gap in the data).
    public static var missingMessages: [String] {
        var missing = Set<String>()
        for schema in byName.values {
            for field in schema.fields {
                var type = field.type
                if case .map(let value) = type { type = value }
                if case .message(let name) = type, byName[name] == nil { missing.insert(name) }
            }
        }
        return missing.sorted()
    }
}

extension MessageSchema {
    /// The JSON keys this message's fields take in an object, inline messages' included.
    var allJSONKeys: [String] {
        fields.flatMap { field -> [String] in
            guard field.json.isEmpty else { return [field.json] }
            guard case .message(let name) = field.type, let inline = ProtobufSchemas.byName[name] else { return [] }
            return inline.allJSONKeys
        }
    }
}
