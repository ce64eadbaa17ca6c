public import JSON

/// A label selector: the string form of `?labelSelector=` ("app=web,tier!=db,env in (a,b),!x")
/// and the structured form of `spec.selector` (matchLabels, matchExpressions).
public struct LabelSelector: Sendable, Equatable {
    public enum Operator: Sendable, Equatable {
        case equals, notEquals, `in`, notIn, exists, doesNotExist, greaterThan, lessThan
    }
    public struct Requirement: Sendable, Equatable {
        public var key: String
        public var op: Operator
        public var values: [String]

        public init(key: String, op: Operator, values: [String]) {
            self.key = key
            self.op = op
            self.values = values
        }
    }
    public var requirements: [Requirement]

    /// Selects everything.
    public static let everything = LabelSelector(requirements: [])
    public var isEverything: Bool { requirements.isEmpty }

    public init(requirements: [Requirement]) { self.requirements = requirements }

    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { r in
            let value = labels[r.key]
            switch r.op {
            case .equals, .in: return value.map { r.values.contains($0) } ?? false
            case .notEquals, .notIn: return value.map { !r.values.contains($0) } ?? true
            case .exists: return value != nil
            case .doesNotExist: return value == nil
            case .greaterThan, .lessThan:
                guard let v = value.flatMap({ Int64($0) }), let bound = r.values.first.flatMap({ Int64($0) }) else { return false }
                return r.op == .greaterThan ? v > bound : v < bound
            }
        }
    }

    /// Parses the query-string form.
    public init(parsing text: String) throws(APIError) {
        var requirements: [Requirement] = []
        for term in Self.splitTerms(text) {
            let t = term.trimmingSpaces
            if t.isEmpty { continue }
            requirements.append(try Self.parseTerm(t))
        }
        self.requirements = requirements
    }

    /// The structured form (metav1.LabelSelector); nil selects nothing, {} everything.
    public init(json: JSONValue) throws(APIError) {
        var requirements: [Requirement] = []
        for (k, v) in stringMap(json["matchLabels"]).sorted(by: { $0.key < $1.key }) {
            requirements.append(Requirement(key: k, op: .equals, values: [v]))
        }
        for expr in json["matchExpressions"]?.arrayValue ?? [] {
            guard let key = expr["key"]?.stringValue else { throw .badRequest("matchExpressions: key is required") }
            let values = expr["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
            let op: Operator
            switch expr["operator"]?.stringValue {
            case "In": op = .in
            case "NotIn": op = .notIn
            case "Exists": op = .exists
            case "DoesNotExist": op = .doesNotExist
            case let other: throw .badRequest("matchExpressions: \"\(other ?? "")\" is not a valid label selector operator")
            }
            requirements.append(Requirement(key: key, op: op, values: values))
        }
        self.requirements = requirements
    }

    /// Splits on commas outside parentheses.
    static func splitTerms(_ text: String) -> [Substring] {
        var terms: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for i in text.indices {
            switch text[i] {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                terms.append(text[start..<i])
                start = text.index(after: i)
            default: break
            }
        }
        terms.append(text[start...])
        return terms
    }

    static func parseTerm(_ t: Substring) throws(APIError) -> Requirement {
        func key(_ s: Substring) throws(APIError) -> String {
            let k = String(s.trimmingSpaces)
            if let problem = NameRules.qualifiedNameProblem(k) {
                throw .badRequest("unable to parse requirement: invalid label key \"\(k)\": \(problem)")
            }
            return k
        }
        func value(_ s: Substring) throws(APIError) -> String {
            let v = String(s.trimmingSpaces)
            if let problem = NameRules.labelValueProblem(v) {
                throw .badRequest("unable to parse requirement: invalid label value: \"\(v)\": \(problem)")
            }
            return v
        }
        if t.hasPrefix("!") { return Requirement(key: try key(t.dropFirst()), op: .doesNotExist, values: []) }
        for (token, op) in [("!=", Operator.notEquals), ("==", .equals), ("=", .equals), (">", .greaterThan), ("<", .lessThan)] {
            if let range = t.firstRange(of: token) {
                return Requirement(key: try key(t[..<range.lowerBound]), op: op, values: [try value(t[range.upperBound...])])
            }
        }
        for (token, op) in [(" notin ", Operator.notIn), (" in ", .in)] {
            if let range = t.firstRange(of: token) {
                let rest = t[range.upperBound...].trimmingSpaces
                guard rest.hasPrefix("("), rest.hasSuffix(")") else {
                    throw .badRequest("unable to parse requirement: found '\(rest)', expected: '('")
                }
                var values: [String] = []
                for v in rest.dropFirst().dropLast().split(separator: ",") { values.append(try value(v)) }
                return Requirement(key: try key(t[..<range.lowerBound]), op: op, values: values)
            }
        }
        return Requirement(key: try key(t), op: .exists, values: [])
    }
}

/// A field selector (`?fieldSelector=spec.nodeName=n1,status.phase!=Failed`): equality tests on
/// the fields a resource allows.
public struct FieldSelector: Sendable, Equatable {
    public struct Requirement: Sendable, Equatable {
        public var field: String
        public var equals: Bool
        public var value: String
    }
    public var requirements: [Requirement]

    public init(parsing text: String, for resource: ResourceType) throws(APIError) {
        var requirements: [Requirement] = []
        for term in text.split(separator: ",") {
            let t = term.trimmingSpaces
            if t.isEmpty { continue }
            var parsed: Requirement?
            for (token, equals) in [("!=", false), ("==", true), ("=", true)] {
                if let range = t.firstRange(of: token) {
                    parsed = Requirement(field: String(t[..<range.lowerBound]), equals: equals,
                                         value: String(t[range.upperBound...]))
                    break
                }
            }
            guard let r = parsed else { throw .badRequest("invalid selector: '\(text)'; can't understand '\(t)'") }
            guard Self.supportedFields(resource).contains(r.field) else {
                throw .badRequest("field label not supported: \(r.field)")
            }
            requirements.append(r)
        }
        self.requirements = requirements
    }

    public func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { r in
            let actual: String
            // An Event's `source` selects on its reporting component, as in Kubernetes.
            let path = r.field == "source" ? ["source", "component"] : r.field.split(separator: ".").map(String.init)
            switch object[path: path] {
            case .string(let s)?: actual = s
            case .bool(let b)?: actual = b ? "true" : "false"
            case .int(let i)?: actual = String(i)
            default: actual = ""
            }
            return (actual == r.value) == r.equals
        }
    }

    /// The selectable fields of each resource, as in the Kubernetes registries.
    public static func supportedFields(_ resource: ResourceType) -> Set<String> {
        var fields: Set<String> = ["metadata.name", "metadata.namespace"]
        fields.formUnion(resource.selectableFields)
        switch (resource.group, resource.plural) {
        case ("", "pods"):
            fields.formUnion(["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                              "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"])
        case ("", "nodes"): fields.insert("spec.unschedulable")
        case ("", "namespaces"): fields.insert("status.phase")
        case ("", "secrets"): fields.insert("type")
        case ("", "services"): fields.formUnion(["spec.clusterIP", "spec.type"])
        case ("", "events"):
            fields.formUnion(["involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                              "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                              "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"])
        case ("batch", "jobs"): fields.insert("status.successful")
        default: break
        }
        return fields
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces (selector terms, header parameters).
    public var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
