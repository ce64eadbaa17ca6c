public import JSON

/// An API failure as Kubernetes reports it: an HTTP code, a machine-readable reason, and a
/// message; `status` renders the `Status` object clients (kubectl, client-go) decode.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public var message: String
    public var details: JSONValue?

    public init(code: Int, reason: String, message: String, details: JSONValue? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { "\(code) \(reason): \(message)" }

    public var status: JSONValue {
        var status: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Failure",
            "message": .string(message), "reason": .string(reason), "code": .int(Int64(code)),
        ]
        if let details { status["details"] = details }
        return status
    }

    static func details(_ resource: ResourceType?, name: String?) -> JSONValue? {
        guard let resource else { return nil }
        var details: JSONValue = ["kind": .string(resource.plural)]
        if !resource.group.isEmpty { details["group"] = .string(resource.group) }
        if let name { details["name"] = .string(name) }
        return details
    }

    public static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }
    public static func unauthorized() -> APIError {
        APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")
    }
    public static func forbidden(_ message: String) -> APIError {
        APIError(code: 403, reason: "Forbidden", message: message)
    }
    public static func notFound(_ resource: ResourceType, name: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(resource.qualifiedName) \"\(name)\" not found",
                 details: details(resource, name: name))
    }
    public static func notFound(path: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource",
                 details: ["causes": [["reason": "UnexpectedServerResponse", "message": .string("404 page not found: \(path)")]]])
    }
    public static func methodNotAllowed(_ message: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: message)
    }
    public static func alreadyExists(_ resource: ResourceType, name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(resource.qualifiedName) \"\(name)\" already exists",
                 details: details(resource, name: name))
    }
    public static func conflict(_ resource: ResourceType, name: String, _ why: String) -> APIError {
        APIError(code: 409, reason: "Conflict",
                 message: "Operation cannot be fulfilled on \(resource.qualifiedName) \"\(name)\": \(why)",
                 details: details(resource, name: name))
    }
    public static func gone(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }
    public static func tooLarge(limit: Int) -> APIError {
        APIError(code: 413, reason: "RequestEntityTooLarge",
                 message: "the request body is larger than the limit of \(limit) bytes")
    }
    public static func unsupportedMediaType(_ type: String) -> APIError {
        APIError(code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format: \(type)")
    }
    /// 422 with one cause per invalid field, as `kubectl` prints them.
    /// As kube-apiserver's NewInvalid: the message names the group-qualified kind
    /// (`CronTab.stable.example.com "bad" is invalid`) and the details the kind, which kubectl
    /// prints as `The CronTab "bad" is invalid: …`.
    public static func invalid(_ resource: ResourceType, name: String, _ causes: [FieldError]) -> APIError {
        let text = causes.map(\.description).joined(separator: ", ")
        var details = Self.details(resource, name: name) ?? .emptyObject
        details["kind"] = .string(resource.kind)
        details["causes"] = .array(causes.map { ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)] })
        let listed = causes.count == 1 ? text : "[\(text)]"
        return APIError(code: 422, reason: "Invalid",
                        message: "\(resource.group.isEmpty ? resource.kind : "\(resource.kind).\(resource.group)") \"\(name)\" is invalid: \(listed)",
                        details: details)
    }
    public static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }
    public static func serviceUnavailable(_ message: String) -> APIError {
        APIError(code: 503, reason: "ServiceUnavailable", message: message)
    }
}

/// One invalid field of an object, as the 422 Status lists it.
public struct FieldError: Sendable, Equatable, CustomStringConvertible {
    public var field: String
    /// "FieldValueInvalid", "FieldValueRequired", "FieldValueNotSupported", "FieldValueDuplicate", "FieldValueForbidden".
    public var reason: String
    public var message: String

    public init(field: String, reason: String = "FieldValueInvalid", message: String) {
        self.field = field
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(field): \(message)" }

    public static func invalid(_ field: String, _ value: String, _ why: String) -> FieldError {
        FieldError(field: field, message: "Invalid value: \"\(value)\": \(why)")
    }
    public static func required(_ field: String) -> FieldError {
        FieldError(field: field, reason: "FieldValueRequired", message: "Required value")
    }
    public static func forbidden(_ field: String, _ why: String) -> FieldError {
        FieldError(field: field, reason: "FieldValueForbidden", message: "Forbidden: \(why)")
    }
    public static func notSupported(_ field: String, _ value: String, _ supported: [String]) -> FieldError {
        FieldError(field: field, reason: "FieldValueNotSupported",
                   message: "Unsupported value: \"\(value)\": supported values: \(supported.map { "\"\($0)\"" }.joined(separator: ", "))")
    }
    public static func duplicate(_ field: String, _ value: String) -> FieldError {
        FieldError(field: field, reason: "FieldValueDuplicate", message: "Duplicate value: \"\(value)\"")
    }
    /// field.Required with a detail: `Required value: <detail>`.
    public static func required(_ field: String, _ detail: String) -> FieldError {
        FieldError(field: field, reason: "FieldValueRequired", message: "Required value: \(detail)")
    }
    /// field.Invalid with the bad value already printed the way kube prints it: numbers and
    /// booleans bare, strings Go-quoted (`"abc"`).
    public static func invalid(_ field: String, printed value: String, _ detail: String) -> FieldError {
        FieldError(field: field, message: "Invalid value: \(value): \(detail)")
    }
    /// field.TypeInvalid; kube passes the offending JSON type name ("integer", "null") as the value.
    public static func typeInvalid(_ field: String, _ value: String, _ detail: String) -> FieldError {
        FieldError(field: field, reason: "FieldValueTypeInvalid", message: "Invalid value: \"\(value)\": \(detail)")
    }
    /// field.TooLong (apimachinery ≥ 1.32 wording): `Too long: may not be more than 5 bytes`.
    public static func tooLong(_ field: String, max: Int) -> FieldError {
        let detail = max < 0 ? "value is too long" : "may not be more than \(max) \(max == 1 ? "byte" : "bytes")"
        return FieldError(field: field, reason: "FieldValueTooLong", message: "Too long: \(detail)")
    }
    /// field.TooMany: `Too many: 4: must have at most 3 items`.
    public static func tooMany(_ field: String, actual: Int, max: Int) -> FieldError {
        let detail = max < 0 ? "has too many items" : "must have at most \(max) \(max == 1 ? "item" : "items")"
        let shown = actual < 0 ? "" : "\(actual): "
        return FieldError(field: field, reason: "FieldValueTooMany", message: "Too many: \(shown)\(detail)")
    }
    /// field.NotSupported with the bad value already printed (see `invalid(_:printed:_:)`); the
    /// supported values are Go-quoted by the caller.
    public static func notSupported(_ field: String, printed value: String, quotedSupported: [String]) -> FieldError {
        let detail = quotedSupported.isEmpty ? "" : ": supported values: \(quotedSupported.joined(separator: ", "))"
        return FieldError(field: field, reason: "FieldValueNotSupported", message: "Unsupported value: \(value)\(detail)")
    }
}
