public import JSON
import Yams

extension JSONValue {
    /// A document as Yams loads it (strings, numbers, booleans, arrays, mappings).
    public init(yaml: Any) {
        switch yaml {
        case let value as Bool: self = .bool(value)
        case let value as Int: self = .int(Int64(value))
        case let value as Double: self = .double(value)
        case let value as String: self = .string(value)
        case let value as [Any]: self = .array(value.map(JSONValue.init(yaml:)))
        case let value as [String: Any]: self = .object(value.mapValues(JSONValue.init(yaml:)))
        default: self = .null
        }
    }

    /// A YAML (or JSON, which is YAML) document, as server-side apply bodies come.
    public static func parse(yaml text: String) throws -> JSONValue {
        guard let loaded = try Yams.load(yaml: text) else { return .null }
        return JSONValue(yaml: loaded)
    }
}
