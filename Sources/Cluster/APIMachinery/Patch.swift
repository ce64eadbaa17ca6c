public import JSON

/// The three patch formats of the Kubernetes API.
public enum PatchType: String, Sendable {
    case json = "application/json-patch+json"
    case merge = "application/merge-patch+json"
    case strategicMerge = "application/strategic-merge-patch+json"
    case apply = "application/apply-patch+yaml"
}

/// RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else replaces.
public func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
    guard case .object(let patchFields) = patch else { return patch }
    var result = target.objectValue ?? [:]
    for (key, value) in patchFields {
        if value.isNull {
            result[key] = nil
        } else {
            result[key] = mergePatch(result[key] ?? .null, value)
        }
    }
    return .object(result)
}

/// RFC 6902 JSON patch: a list of add/remove/replace/move/copy/test operations on JSON pointers.
public func jsonPatch(_ target: JSONValue, _ patch: JSONValue) throws(APIError) -> JSONValue {
    guard let operations = patch.arrayValue else { throw .badRequest("a JSON patch must be an array of operations") }
    var document = target
    for operation in operations {
        guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
            throw .badRequest("JSON patch operation needs \"op\" and \"path\": \(operation)")
        }
        let pointer = try JSONPointer(path)
        switch op {
        case "add":
            guard let value = operation["value"] else { throw .badRequest("add operation does not have a value") }
            document = try pointer.add(value, to: document)
        case "remove":
            document = try pointer.remove(from: document)
        case "replace":
            guard let value = operation["value"] else { throw .badRequest("replace operation does not have a value") }
            _ = try pointer.get(document)
            document = try pointer.remove(from: document)
            document = try pointer.add(value, to: document)
        case "move", "copy":
            guard let fromText = operation["from"]?.stringValue else { throw .badRequest("\(op) operation does not have a from") }
            let from = try JSONPointer(fromText)
            let value = try from.get(document)
            if op == "move" { document = try from.remove(from: document) }
            document = try pointer.add(value, to: document)
        case "test":
            let actual = try pointer.get(document)
            guard actual == operation["value"] ?? .null else {
                throw APIError(code: 422, reason: "Invalid", message: "testing value \(path) failed")
            }
        default:
            throw .badRequest("unexpected JSON patch operation \"\(op)\"")
        }
    }
    return document
}

/// An RFC 6901 pointer ("/spec/ports/0/port").
struct JSONPointer {
    var tokens: [String]

    init(_ text: String) throws(APIError) {
        if text.isEmpty { tokens = []; return }
        guard text.hasPrefix("/") else { throw .badRequest("JSON pointer \"\(text)\" must start with /") }
        tokens = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacing("~1", with: "/").replacing("~0", with: "~")
        }
    }

    func get(_ document: JSONValue) throws(APIError) -> JSONValue {
        var current = document
        for token in tokens {
            switch current {
            case .object(let o):
                guard let next = o[token] else { throw missing() }
                current = next
            case .array(let a):
                guard let i = Int(token), a.indices.contains(i) else { throw missing() }
                current = a[i]
            default: throw missing()
            }
        }
        return current
    }

    func missing() -> APIError {
        APIError(code: 422, reason: "Invalid", message: "the JSON patch path /\(tokens.joined(separator: "/")) does not exist")
    }

    func add(_ value: JSONValue, to document: JSONValue) throws(APIError) -> JSONValue {
        try update(document, tokens[...]) { (parent, last) throws(APIError) in
            switch parent {
            case .object(var o):
                o[last] = value
                return .object(o)
            case .array(var a):
                if last == "-" { a.append(value); return .array(a) }
                guard let i = Int(last), i >= 0, i <= a.count else { throw missing() }
                a.insert(value, at: i)
                return .array(a)
            default: throw missing()
            }
        }
    }

    func remove(from document: JSONValue) throws(APIError) -> JSONValue {
        try update(document, tokens[...]) { (parent, last) throws(APIError) in
            switch parent {
            case .object(var o):
                guard o.removeValue(forKey: last) != nil else { throw missing() }
                return .object(o)
            case .array(var a):
                guard let i = Int(last), a.indices.contains(i) else { throw missing() }
                a.remove(at: i)
                return .array(a)
            default: throw missing()
            }
        }
    }

    /// Rebuilds `document` with `change` applied to the parent of the pointer's last token.
    func update(_ node: JSONValue, _ rest: ArraySlice<String>,
                _ change: (JSONValue, String) throws(APIError) -> JSONValue) throws(APIError) -> JSONValue {
        guard let first = rest.first else { throw .badRequest("cannot patch the document root") }
        if rest.count == 1 { return try change(node, first) }
        switch node {
        case .object(var o):
            guard let child = o[first] else { throw missing() }
            o[first] = try update(child, rest.dropFirst(), change)
            return .object(o)
        case .array(var a):
            guard let i = Int(first), a.indices.contains(i) else { throw missing() }
            a[i] = try update(a[i], rest.dropFirst(), change)
            return .array(a)
        default: throw missing()
        }
    }
}
