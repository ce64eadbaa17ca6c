public import JSON

/// The OpenAPI v3 schema of a CustomResourceDefinition version (`schema.openAPIV3Schema`), parsed
/// once into a tree and used the way kube-apiserver's apiextensions code uses its structural
/// schema: a strict-mode unknown-field report, pruning, dropping of non-nullable nulls,
/// defaulting, and kube-openapi's validation with its messages.
///
/// Keywords: type (object, array, string, integer, number, boolean), nullable, default, enum,
/// pattern (Go's unanchored `MatchString`), minLength/maxLength (counted in Unicode scalars, as Go
/// counts runes), minimum/maximum with the boolean exclusiveMinimum/exclusiveMaximum, multipleOf,
/// minItems/maxItems, minProperties/maxProperties, items, properties, required,
/// additionalProperties (schema, true or false), and allOf/anyOf/oneOf/not (value checks only:
/// nothing is pruned or defaulted through them). `format` is accepted and not checked. As in
/// kube, `additionalProperties: true` (or false) keeps a map's keys but prunes their values as
/// values without a schema: objects inside them lose all their keys.
///
/// Extensions: x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields (no pruning of
/// unknown keys at that node; listed properties are still pruned and validated within
/// themselves), x-kubernetes-embedded-resource (apiVersion and kind required, metadata kept as
/// is). x-kubernetes-list-type, -map-type and -list-map-keys are kept in `json` only: list sets and
/// maps are not checked for duplicates. **x-kubernetes-validations (CEL rules) are accepted and
/// published but not evaluated**: `unevaluatedRules` names where they are, and the API server
/// says so in a Warning header on every write they would have judged.
///
/// Paths are kube's: `spec.cidr`, `spec.items[2].name`, map values `spec.labels.foo`. At the
/// resource root apiVersion, kind and metadata are left alone: ObjectMeta and the type fields are
/// validated elsewhere.
public final class StructuralSchema: Sendable {
    /// The source, for publishing in the OpenAPI documents and for `kubectl explain`.
    public let json: JSONValue
    let root: SchemaNode

    /// Parses a JSONSchemaProps tree. Never fails: unknown keywords stay only in `json`, and what
    /// `structuralErrors` would reject is taken as loosely as possible (an invalid pattern is no
    /// constraint).
    public init(_ json: JSONValue) {
        self.json = json
        self.root = SchemaNode(json)
        self.unevaluatedRules = Self.celRulePaths(json)
    }

    /// Where the schema has x-kubernetes-validations (CEL) rules, which this server does not
    /// evaluate: each path with its rule count, so a write can say so.
    public let unevaluatedRules: [String]

    /// `unevaluatedRules` of a schema not (yet) compiled, as a CRD's write checks it.
    public static func celRulePaths(_ json: JSONValue, _ path: String = "") -> [String] {
        guard let schema = json.objectValue else { return [] }
        var found: [String] = []
        if let rules = schema["x-kubernetes-validations"]?.arrayValue, !rules.isEmpty {
            found.append((path.isEmpty ? "<root>" : path) + " (\(rules.count) rule\(rules.count == 1 ? "" : "s"))")
        }
        for (name, property) in (schema["properties"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            found += celRulePaths(property, path.isEmpty ? name : path + "." + name)
        }
        if let items = schema["items"] { found += celRulePaths(items, path + "[*]") }
        if let values = schema["additionalProperties"], values.objectValue != nil { found += celRulePaths(values, path + ".*") }
        return found
    }

    /// What makes `json` unacceptable as a CRD version's schema, with kube's messages, under
    /// `path` (e.g. `spec.versions[0].schema.openAPIV3Schema`): the OpenAPI checks (unsupported
    /// keywords and types, `$ref`, uniqueItems, properties together with additionalProperties),
    /// then the structural ones (sorted, as kube sorts them: a missing `type`, a non-object root,
    /// types or defaults inside allOf/anyOf/oneOf/not, invalid patterns), and when the schema is
    /// structural, the defaults that are not pruned or do not validate against their own schema.
    public static func structuralErrors(_ json: JSONValue, path: String) -> [FieldError] {
        var lint = SchemaLint()
        if json.objectValue?["nullable"]?.boolValue == true {
            lint.openAPI.append(.forbidden(path + ".nullable", "nullable cannot be true at the root"))
        }
        lint.openAPICheck(json, path, isRoot: true, defaultsForbidden: nil)
        lint.invariants(json, .root, path)
        lint.completeness(json, path)
        lint.structural.sort { $0.description < $1.description }
        var errors = lint.openAPI + lint.structural
        if lint.structural.isEmpty {
            errors += SchemaLint.defaultErrors(SchemaNode(json), path)
        }
        return errors
    }

    /// The paths of the fields that pruning would drop, sorted: kube's strict field validation
    /// reports each as `unknown field "<path>"`. apiVersion, kind and metadata at the root are
    /// never reported (metadata's own unknown fields are ObjectMeta's business).
    public func unknownFields(in object: JSONValue) -> [String] {
        var collector = UnknownFieldCollector()
        collector.walk(object, root, skipPrune: false, resourceRoot: true)
        return collector.found.sorted()
    }

    /// kube's treatment of a request object, in its order: prune unknown fields, drop map entries
    /// that are null where the schema is neither nullable nor defaulted, and apply defaults top
    /// down (into defaulted objects too, into array items and additionalProperties values).
    /// apiVersion, kind and metadata at the root are not touched.
    public func normalize(_ object: inout JSONValue) {
        Normalizer.normalize(&object, root, skipPrune: false, fresh: false, resourceRoot: true)
    }

    /// The validation errors of `object` with kube-openapi's messages, in a stable order (object
    /// keys sorted where kube walks a Go map). Errors of anyOf/oneOf/allOf/not come as kube
    /// reports them, on the field `<nil>`: `<nil>: Invalid value: "": "spec.x" must validate at
    /// least one schema (anyOf)`. apiVersion, kind and metadata at the root are skipped.
    public func validate(_ object: JSONValue) -> [FieldError] {
        var validator = ValueValidator(prefix: nil)
        var errors: [FieldError] = []
        validator.check(object, root, &errors, resourceRoot: true)
        return ValueValidator.unique(errors + validator.embedded)
    }
}

// MARK: - The parsed tree

final class SchemaNode: Sendable {
    enum Additional: Sendable {
        case unspecified, allowed, forbidden
        case schema(SchemaNode)
    }

    struct Types: OptionSet, Sendable {
        let rawValue: UInt8
        static let object = Types(rawValue: 1 << 0)
        static let array = Types(rawValue: 1 << 1)
        static let string = Types(rawValue: 1 << 2)
        static let integer = Types(rawValue: 1 << 3)
        static let number = Types(rawValue: 1 << 4)
        static let boolean = Types(rawValue: 1 << 5)
    }

    /// `type` as kube prints it in messages ("string", "integer,string"); empty when unset.
    let typeText: String
    let types: Types
    let nullable: Bool
    /// nil when absent or JSON null (kube treats a null default as no default).
    let defaultValue: JSONValue?
    let enumValues: [JSONValue]?
    let pattern: String?
    let regex: CompiledPattern?
    /// Why `pattern` does not compile (Go's RE2 rejects it or Swift cannot parse it).
    let patternProblem: String?
    let minLength: Int64?
    let maxLength: Int64?
    let minimum: Double?
    let maximum: Double?
    let exclusiveMinimum: Bool
    let exclusiveMaximum: Bool
    let multipleOf: Double?
    let minItems: Int64?
    let maxItems: Int64?
    let minProperties: Int64?
    let maxProperties: Int64?
    let items: SchemaNode?
    let properties: [String: SchemaNode]
    let propertyNames: [String]
    /// The properties with a default, for the defaulting pass.
    let defaulted: [(name: String, node: SchemaNode)]
    let required: [String]
    let additional: Additional
    let allOf: [SchemaNode]
    let anyOf: [SchemaNode]
    let oneOf: [SchemaNode]
    let not: SchemaNode?
    let hasJunctors: Bool
    let preserveUnknownFields: Bool
    let embeddedResource: Bool
    let intOrString: Bool

    init(_ json: JSONValue) {
        let o = json.objectValue ?? [:]
        intOrString = o["x-kubernetes-int-or-string"]?.boolValue == true
        var typeText = o["type"]?.stringValue ?? ""
        if intOrString { typeText = "integer,string" }
        self.typeText = typeText
        var types: Types = []
        for name in typeText.split(separator: ",") {
            switch name {
            case "object": types.insert(.object)
            case "array": types.insert(.array)
            case "string": types.insert(.string)
            case "integer": types.insert(.integer)
            case "number": types.insert(.number)
            case "boolean": types.insert(.boolean)
            default: break
            }
        }
        self.types = types
        nullable = o["nullable"]?.boolValue == true
        defaultValue = o["default"].flatMap { $0.isNull ? nil : $0 }
        enumValues = o["enum"]?.arrayValue.flatMap { $0.isEmpty ? nil : $0 }
        let pattern = o["pattern"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        self.pattern = pattern
        if let pattern {
            let compiled = Self.compile(pattern)
            regex = compiled.regex
            patternProblem = compiled.problem
        } else {
            regex = nil
            patternProblem = nil
        }
        minLength = o["minLength"]?.int64Value
        maxLength = o["maxLength"]?.int64Value
        minimum = o["minimum"]?.doubleValue
        maximum = o["maximum"]?.doubleValue
        exclusiveMinimum = o["exclusiveMinimum"]?.boolValue == true
        exclusiveMaximum = o["exclusiveMaximum"]?.boolValue == true
        multipleOf = o["multipleOf"]?.doubleValue
        minItems = o["minItems"]?.int64Value
        maxItems = o["maxItems"]?.int64Value
        minProperties = o["minProperties"]?.int64Value
        maxProperties = o["maxProperties"]?.int64Value
        if let itemsJSON = o["items"], case .object = itemsJSON {
            items = SchemaNode(itemsJSON)
        } else {
            items = nil
        }
        var properties: [String: SchemaNode] = [:]
        for (name, schema) in o["properties"]?.objectValue ?? [:] {
            properties[name] = SchemaNode(schema)
        }
        self.properties = properties
        let names = properties.keys.sorted()
        propertyNames = names
        defaulted = names.compactMap { name in
            let node = properties[name]!
            return node.defaultValue == nil ? nil : (name, node)
        }
        required = o["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        switch o["additionalProperties"] {
        case .bool(true)?: additional = .allowed
        case .bool(false)?: additional = .forbidden
        case let schema? where schema.objectValue != nil: additional = .schema(SchemaNode(schema))
        default: additional = .unspecified
        }
        let allOf = (o["allOf"]?.arrayValue ?? []).map(SchemaNode.init)
        let anyOf = (o["anyOf"]?.arrayValue ?? []).map(SchemaNode.init)
        let oneOf = (o["oneOf"]?.arrayValue ?? []).map(SchemaNode.init)
        let not = o["not"].flatMap { $0.objectValue == nil ? nil : SchemaNode($0) }
        (self.allOf, self.anyOf, self.oneOf, self.not) = (allOf, anyOf, oneOf, not)
        hasJunctors = !allOf.isEmpty || !anyOf.isEmpty || !oneOf.isEmpty || not != nil
        preserveUnknownFields = o["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
        embeddedResource = o["x-kubernetes-embedded-resource"]?.boolValue == true
    }

    /// Whether a non-null value has one of the schema's types: kube-openapi takes an integral
    /// float as an integer and an integer as a number.
    func accepts(_ value: JSONValue) -> Bool {
        switch value {
        case .null: true
        case .bool: types.contains(.boolean)
        case .int: types.contains(.integer) || types.contains(.number)
        case .double(let d): types.contains(.number) || (types.contains(.integer) && GoText.isJSONInteger(d))
        case .string: types.contains(.string)
        case .array: types.contains(.array)
        case .object: types.contains(.object)
        }
    }

    /// Compiles a pattern with Go's RE2 character classes (ASCII \d \w \s) and matching on Unicode
    /// scalars; RE2's rejections of Perl syntax Swift would accept (lookaround, backreferences,
    /// atomic groups) are reported as Go reports them.
    static func compile(_ pattern: String) -> (regex: CompiledPattern?, problem: String?) {
        if let unsupported = goUnsupported(pattern) {
            return (nil, "error parsing regexp: \(unsupported)")
        }
        do {
            let regex = try Regex(pattern)
                .asciiOnlyDigits().asciiOnlyWhitespace().asciiOnlyWordCharacters()
                .matchingSemantics(.unicodeScalar)
            _ = "".contains(regex)   // Regex compiles its program lazily: do it now, once
            return (CompiledPattern(regex: regex), nil)
        } catch {
            return (nil, "error parsing regexp: \(error)")
        }
    }

    private static func goUnsupported(_ pattern: String) -> String? {
        let chars = Array(pattern.unicodeScalars)
        var i = 0
        var inClass = false
        while i < chars.count {
            let c = chars[i]
            if c == "\\" {
                if !inClass, i + 1 < chars.count, ("1"..."9").contains(chars[i + 1]) {
                    return "invalid escape sequence: `\\\(chars[i + 1])`"
                }
                i += 2
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
                i += 1
                continue
            }
            if c == "[" {
                inClass = true
                i += 1
                if i < chars.count, chars[i] == "^" { i += 1 }
                if i < chars.count, chars[i] == "]" { i += 1 }
                continue
            }
            if c == "(", i + 2 < chars.count, chars[i + 1] == "?" {
                let next = chars[i + 2]
                if next == "=" || next == "!" || next == ">" {
                    return "invalid or unsupported Perl syntax: `(?\(next)`"
                }
                if next == "<", i + 3 < chars.count, chars[i + 3] == "=" || chars[i + 3] == "!" {
                    return "invalid or unsupported Perl syntax: `(?<`"
                }
            }
            i += 1
        }
        return nil
    }
}

/// A compiled pattern. `Regex<AnyRegexOutput>` is not Sendable because of its output type; the
/// regex itself is immutable once its program is compiled (done in `SchemaNode.compile`) and is
/// only used for `contains`.
struct CompiledPattern: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>

    func matches(_ s: String) -> Bool { s.contains(regex) }
}

// MARK: - Validation (kube-openapi's SchemaValidator, converted as apiextensions does)

struct ValueValidator {
    enum Step {
        case property(String)
        case additional(String)
        case index(Int)
    }

    /// Where the walk is; names and paths are only rendered when an error is produced.
    var steps: [Step] = []
    /// A field path the errors go under (a default's `...properties[x].default`), nil for a
    /// request object.
    let prefix: String?
    /// Embedded-resource errors, which kube reports after all schema errors.
    var embedded: [FieldError] = []
    var collectEmbedded = true

    init(prefix: String?) {
        self.prefix = prefix
        steps.reserveCapacity(16)
    }

    /// kube-openapi's name for the current value: properties joined with "." (none in front at
    /// the root), map values with "." always, items as `[i]`.
    var name: String {
        var s = ""
        for step in steps {
            switch step {
            case .property(let key): s = s.isEmpty ? key : s + "." + key
            case .additional(let key): s += "." + key
            case .index(let i): s += "[\(i)]"
            }
        }
        return s
    }

    /// The error's field: the name without a leading "." under the prefix; kube prints `<nil>`
    /// for the root of a request object.
    func field(_ name: String) -> String {
        var trimmed = Substring(name)
        if name == "." { trimmed = "" } else if trimmed.hasPrefix(".") { trimmed = trimmed.dropFirst() }
        if let prefix { return trimmed.isEmpty ? prefix : prefix + "." + trimmed }
        return trimmed.isEmpty ? "<nil>" : String(trimmed)
    }

    /// field.Path's rendering of the current position (map keys as `[key]`), for embedded checks.
    var fieldPath: String {
        var s = prefix ?? ""
        for step in steps {
            switch step {
            case .property(let key): s = s.isEmpty ? key : s + "." + key
            case .additional(let key): s += "[\(key)]"
            case .index(let i): s += "[\(i)]"
            }
        }
        return s
    }

    static func unique(_ errors: [FieldError]) -> [FieldError] {
        guard errors.count > 1 else { return errors }
        var seen = Set<String>()
        return errors.filter { seen.insert($0.field + "\u{0}" + $0.message).inserted }
    }

    mutating func check(_ value: JSONValue, _ node: SchemaNode, _ errors: inout [FieldError], resourceRoot: Bool = false) {
        if case .null = value {
            if !node.typeText.isEmpty && !node.nullable { typeError("null", node, &errors) }
            if let allowed = node.enumValues { enumError(value, allowed, &errors) }
            return
        }
        if !node.typeText.isEmpty && !node.accepts(value) {
            typeError(Self.kubeTypeName(value), node, &errors)
        }
        if node.hasJunctors { checkJunctors(value, node, &errors) }
        switch value {
        case .string(let s): checkString(s, node, &errors)
        case .int(let i): checkInteger(i, node, &errors)
        case .double(let d): checkDouble(d, node, &errors)
        case .array(let a): checkArray(a, node, &errors)
        default: break
        }
        if let allowed = node.enumValues, !allowed.contains(where: { Self.enumEqual($0, value) }) {
            enumError(value, allowed, &errors)
        }
        if case .object(let o) = value {
            if node.embeddedResource && collectEmbedded { checkEmbedded(o) }
            checkObject(o, node, &errors, resourceRoot: resourceRoot)
        }
    }

    static func kubeTypeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    private func typeError(_ actual: String, _ node: SchemaNode, _ errors: inout [FieldError]) {
        let name = self.name
        errors.append(.typeInvalid(field(name), actual,
                                   "\(name) in body must be of type \(node.typeText): \(GoText.quote(actual))"))
    }

    private func enumError(_ value: JSONValue, _ allowed: [JSONValue], _ errors: inout [FieldError]) {
        let supported = allowed.map { v in GoText.quote(v.stringValue ?? v.jsonString) }
        errors.append(.notSupported(field(name), printed: GoText.printed(value), quotedSupported: supported))
    }

    private func invalid(_ printed: String, _ detail: String, _ errors: inout [FieldError]) {
        errors.append(.invalid(field(name), printed: printed, detail))
    }

    /// An allOf/anyOf/oneOf/not failure: kube-openapi reports these as plain errors, which
    /// apiextensions turns into `field.Invalid(nil, "", message)`.
    private func composite(_ message: String, _ errors: inout [FieldError]) {
        errors.append(FieldError(field: prefix ?? "<nil>", message: "Invalid value: \"\": \(message)"))
    }

    /// Go's reflect-based enum match, less its conversion quirks: JSON equality, with numbers
    /// compared by value.
    static func enumEqual(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): Double(x) == y
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { enumEqual($0, $1) }
        case (.object(let x), .object(let y)):
            x.count == y.count && x.allSatisfy { key, value in y[key].map { enumEqual(value, $0) } ?? false }
        default: a == b
        }
    }

    private mutating func subErrors(_ value: JSONValue, _ node: SchemaNode) -> [FieldError] {
        var errors: [FieldError] = []
        let saved = collectEmbedded
        collectEmbedded = false
        check(value, node, &errors)
        collectEmbedded = saved
        return errors
    }

    private mutating func checkJunctors(_ value: JSONValue, _ node: SchemaNode, _ errors: inout [FieldError]) {
        if !node.anyOf.isEmpty {
            var best: [FieldError]?
            var succeeded = false
            for sub in node.anyOf {
                let result = subErrors(value, sub)
                if result.isEmpty { succeeded = true; best = nil; break }
                // kube keeps the failure with the most passed checks; the fewest errors is ours.
                if best == nil || result.count < best!.count { best = result }
            }
            if !succeeded {
                composite("\(GoText.quote(name)) must validate at least one schema (anyOf)", &errors)
                errors += best ?? []
            }
        }
        if !node.oneOf.isEmpty {
            var best: [FieldError]?
            var validated = 0
            for sub in node.oneOf {
                let result = subErrors(value, sub)
                if result.isEmpty {
                    validated += 1
                    best = nil
                } else if validated == 0 && (best == nil || result.count < best!.count) {
                    best = result
                }
            }
            if validated != 1 {
                let found = validated == 0 ? "Found none valid" : "Found \(validated) valid alternatives"
                composite("\(GoText.quote(name)) must validate one and only one schema (oneOf). \(found)", &errors)
                errors += best ?? []
            }
        }
        if !node.allOf.isEmpty {
            var validated = 0
            for sub in node.allOf {
                let result = subErrors(value, sub)
                if result.isEmpty { validated += 1 }
                errors += result
            }
            if validated != node.allOf.count {
                let none = validated == 0 ? ". None validated" : ""
                composite("\(GoText.quote(name)) must validate all the schemas (allOf)\(none)", &errors)
            }
        }
        if let not = node.not, subErrors(value, not).isEmpty {
            composite("\(GoText.quote(name)) must not validate the schema (not)", &errors)
        }
    }

    /// kube-openapi's string validator: the first failure of maxLength, minLength, pattern.
    private func checkString(_ s: String, _ node: SchemaNode, _ errors: inout [FieldError]) {
        if let max = node.maxLength, s.utf8.count > max, s.unicodeScalars.count > max {
            errors.append(.tooLong(field(name), max: Int(max)))
            return
        }
        if let min = node.minLength, s.utf8.count / 4 < min, s.unicodeScalars.count < min {
            invalid(GoText.quote(s), "\(name) in body should be at least \(min) chars long", &errors)
            return
        }
        if let regex = node.regex, let pattern = node.pattern, !regex.matches(s) {
            invalid(GoText.quote(s), "\(name) in body should match '\(pattern)'", &errors)
        }
    }

    /// Integers are checked against bounds truncated to int64, as kube-openapi does.
    private func checkInteger(_ i: Int64, _ node: SchemaNode, _ errors: inout [FieldError]) {
        if let factor = node.multipleOf {
            if factor < 0 {
                invalid(GoText.float(factor), "factor MultipleOf declared for \(name) must be positive: \(GoText.float(factor))", &errors)
            } else if factor >= 1, factor == factor.rounded(), let f = Int64(exactly: factor) {
                if f != 1 && i % f != 0 {
                    invalid(String(i), "\(name) in body should be a multiple of \(f)", &errors)
                }
            } else if !GoText.isJSONInteger(factor < 1 ? 1 / factor * Double(i) : Double(i) / factor) {
                invalid(String(i), "\(name) in body should be a multiple of \(GoText.float(factor))", &errors)
            }
        }
        if let min = node.minimum {
            let bound = Self.truncated(min)
            if node.exclusiveMinimum ? i <= bound : i < bound {
                invalid(String(i), "\(name) in body should be greater than \(node.exclusiveMinimum ? "" : "or equal to ")\(bound)", &errors)
            }
        }
        if let max = node.maximum {
            let bound = Self.truncated(max)
            if node.exclusiveMaximum ? i >= bound : i > bound {
                invalid(String(i), "\(name) in body should be less than \(node.exclusiveMaximum ? "" : "or equal to ")\(bound)", &errors)
            }
        }
    }

    static func truncated(_ d: Double) -> Int64 {
        if d.isNaN { return 0 }
        if d >= 9.2e18 { return .max }
        if d <= -9.2e18 { return .min }
        return Int64(d)
    }

    private func checkDouble(_ d: Double, _ node: SchemaNode, _ errors: inout [FieldError]) {
        let shown = GoText.float(d)
        if let factor = node.multipleOf {
            if factor < 0 {
                invalid(GoText.float(factor), "factor MultipleOf declared for \(name) must be positive: \(GoText.float(factor))", &errors)
            } else if !GoText.isJSONInteger(factor < 1 ? 1 / factor * d : d / factor) {
                invalid(shown, "\(name) in body should be a multiple of \(GoText.float(factor))", &errors)
            }
        }
        if let min = node.minimum, node.exclusiveMinimum ? d <= min : d < min {
            invalid(shown, "\(name) in body should be greater than \(node.exclusiveMinimum ? "" : "or equal to ")\(GoText.float(min))", &errors)
        }
        if let max = node.maximum, node.exclusiveMaximum ? d >= max : d > max {
            invalid(shown, "\(name) in body should be less than \(node.exclusiveMaximum ? "" : "or equal to ")\(GoText.float(max))", &errors)
        }
    }

    private mutating func checkArray(_ a: [JSONValue], _ node: SchemaNode, _ errors: inout [FieldError]) {
        if let items = node.items {
            for (i, item) in a.enumerated() {
                steps.append(.index(i))
                check(item, items, &errors)
                steps.removeLast()
            }
        }
        if let min = node.minItems, a.count < min {
            invalid(String(a.count), "\(name) in body should have at least \(min) items", &errors)
        }
        if let max = node.maxItems, a.count > max {
            errors.append(.tooMany(field(name), actual: a.count, max: Int(max)))
        }
    }

    private mutating func checkObject(_ o: [String: JSONValue], _ node: SchemaNode, _ errors: inout [FieldError], resourceRoot: Bool) {
        if let min = node.minProperties, o.count < min {
            invalid(String(o.count), "\(name) in body should have at least \(min) properties", &errors)
            return
        }
        if let max = node.maxProperties, o.count > max {
            errors.append(.tooMany(field(name), actual: o.count, max: Int(max)))
            return
        }
        switch node.additional {
        case .forbidden:
            for key in o.keys.sorted() where node.properties[key] == nil && !(resourceRoot && Normalizer.isMeta(key)) {
                let name = self.name
                invalid(GoText.quote(key), "\(name).\(key) in body is a forbidden property", &errors)
            }
        case .schema(let valueSchema):
            let keys = o.count > 1 ? o.keys.sorted() : Array(o.keys)
            for key in keys where node.properties[key] == nil && !(resourceRoot && Normalizer.isMeta(key)) {
                steps.append(.additional(key))
                check(o[key]!, valueSchema, &errors)
                steps.removeLast()
            }
        case .unspecified, .allowed:
            break
        }
        for key in node.propertyNames {
            if resourceRoot && Normalizer.isMeta(key) { continue }
            guard let child = o[key] else { continue }
            steps.append(.property(key))
            check(child, node.properties[key]!, &errors)
            steps.removeLast()
        }
        for key in node.required where o[key] == nil {
            if resourceRoot && Normalizer.isMeta(key) { continue }
            errors.append(.required(field(name + "." + key)))
        }
    }

    /// apiextensions' embedded-resource checks (schema/objectmeta): apiVersion and kind are
    /// required strings, apiVersion a group/version and kind a DNS-1035 label in any case.
    private mutating func checkEmbedded(_ o: [String: JSONValue]) {
        let path = fieldPath
        let at = { (child: String) in path.isEmpty ? child : path + "." + child }
        if o["apiVersion"] == nil { embedded.append(.required(at("apiVersion"), "must not be empty")) }
        if o["kind"] == nil { embedded.append(.required(at("kind"), "must not be empty")) }
        if let v = o["apiVersion"] {
            if case .string(let apiVersion) = v {
                if apiVersion.isEmpty {
                    embedded.append(.invalid(at("apiVersion"), printed: "\"\"", "must not be empty"))
                } else if apiVersion != "/" && apiVersion.utf8.filter({ $0 == UInt8(ascii: "/") }).count > 1 {
                    embedded.append(.invalid(at("apiVersion"), printed: GoText.quote(apiVersion),
                                             "unexpected GroupVersion string: \(apiVersion)"))
                }
            } else {
                embedded.append(.invalid(at("apiVersion"), printed: GoText.printed(v), "must be a string"))
            }
        }
        if let v = o["kind"] {
            if case .string(let kind) = v {
                if kind.isEmpty {
                    embedded.append(.invalid(at("kind"), printed: "\"\"", "must not be empty"))
                } else if let problems = Self.dns1035Problems(kind.lowercased()) {
                    embedded.append(.invalid(at("kind"), printed: GoText.quote(kind),
                                             "may have mixed case, but should otherwise match: \(problems)"))
                }
            } else {
                embedded.append(.invalid(at("kind"), printed: GoText.printed(v), "must be a string"))
            }
        }
    }

    static func dns1035Problems(_ s: String) -> String? {
        var problems: [String] = []
        if s.utf8.count > 63 { problems.append("must be no more than 63 characters") }
        let bytes = Array(s.utf8)
        let lower = { (b: UInt8) in b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
        let alnum = { (b: UInt8) in lower(b) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) }
        let shaped = !bytes.isEmpty && lower(bytes.first!) && alnum(bytes.last!)
            && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
        if !shaped {
            problems.append("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
        }
        return problems.isEmpty ? nil : problems.joined(separator: ",")
    }
}

// MARK: - Pruning, nulls and defaults

enum Normalizer {
    @inline(__always)
    static func isMeta(_ key: String) -> Bool { key == "apiVersion" || key == "kind" || key == "metadata" }

    /// Whether an embedded resource keeps `key` whatever its schema says: kube keeps string
    /// apiVersion and kind, and handles metadata as ObjectMeta (here: leaves it).
    @inline(__always)
    static func embeddedKeeps(_ key: String, _ value: JSONValue) -> Bool {
        if key == "metadata" { return true }
        guard key == "apiVersion" || key == "kind" else { return false }
        if case .string = value { return true }
        return false
    }

    /// One top-down walk doing kube's three passes. `skipPrune` is kube's skipPrune (inside a
    /// preserve-unknown-fields array); `fresh` marks a value just copied from a default, which
    /// kube defaults further but does not prune.
    static func normalize(_ value: inout JSONValue, _ node: SchemaNode?, skipPrune: Bool, fresh: Bool, resourceRoot: Bool) {
        guard let node else {
            // kube prunes a value without a schema to its scalars.
            if skipPrune || fresh { return }
            switch value {
            case .object(let o) where !o.isEmpty:
                value = .emptyObject
            case .array(var a):
                value = .null
                for i in a.indices {
                    switch a[i] {
                    case .object, .array: normalize(&a[i], nil, skipPrune: false, fresh: false, resourceRoot: false)
                    default: break
                    }
                }
                value = .array(a)
            default:
                break
            }
            return
        }
        switch value {
        case .object(var o):
            value = .null   // drop the reference so `o` is mutated in place
            let keepUnknown = skipPrune || fresh || node.preserveUnknownFields
            var removed: [String] = []
            var idx = o.startIndex
            while idx != o.endIndex {
                let key = o.keys[idx]
                if resourceRoot && isMeta(key) {
                    o.formIndex(after: &idx)
                    continue
                }
                if node.embeddedResource && embeddedKeeps(key, o.values[idx]) {
                    o.formIndex(after: &idx)
                    continue
                }
                if let property = node.properties[key] {
                    if !walkChild(&o.values[idx], property, fresh: fresh) { removed.append(key) }
                } else {
                    switch node.additional {
                    case .schema(let valueSchema):
                        if !walkChild(&o.values[idx], valueSchema, fresh: fresh) { removed.append(key) }
                    case .allowed, .forbidden:
                        if !fresh { normalize(&o.values[idx], nil, skipPrune: false, fresh: false, resourceRoot: false) }
                    case .unspecified:
                        if !keepUnknown { removed.append(key) }
                    }
                }
                o.formIndex(after: &idx)
            }
            for key in removed { o.removeValue(forKey: key) }
            for (name, child) in node.defaulted where o[name] == nil {
                if resourceRoot && isMeta(name) { continue }
                var copy = child.defaultValue!
                normalize(&copy, child, skipPrune: false, fresh: true, resourceRoot: false)
                o[name] = copy
            }
            value = .object(o)
        case .array(var a):
            value = .null
            let itemsSkip = skipPrune || node.preserveUnknownFields
            let items = node.items
            for i in a.indices {
                switch a[i] {
                case .null:
                    if let items, !items.nullable, let d = items.defaultValue {
                        a[i] = d
                        normalize(&a[i], items, skipPrune: false, fresh: true, resourceRoot: false)
                    }
                case .object, .array:
                    normalize(&a[i], items, skipPrune: itemsSkip, fresh: fresh, resourceRoot: false)
                default:
                    break
                }
            }
            value = .array(a)
        default:
            break
        }
    }

    /// A property or map value: a non-nullable null becomes the default, or goes (false) when
    /// there is none; anything else is walked.
    @inline(__always)
    private static func walkChild(_ value: inout JSONValue, _ node: SchemaNode, fresh: Bool) -> Bool {
        if case .null = value, !node.nullable {
            if let d = node.defaultValue {
                value = d
                normalize(&value, node, skipPrune: false, fresh: true, resourceRoot: false)
                return true
            }
            return fresh
        }
        switch value {
        case .object, .array: normalize(&value, node, skipPrune: false, fresh: fresh, resourceRoot: false)
        default: break
        }
        return true
    }
}

/// The read-only twin of the pruning walk, for fieldValidation=Strict: kube's pruned paths.
struct UnknownFieldCollector {
    enum Step {
        case key(String)
        case index(Int)
    }

    var steps: [Step] = []
    var found: [String] = []

    private func path(_ last: String) -> String {
        var s = ""
        for step in steps {
            switch step {
            case .key(let key): s = s.isEmpty ? key : s + "." + key
            case .index(let i): s += "[\(i)]"
            }
        }
        return s.isEmpty ? last : s + "." + last
    }

    mutating func walk(_ value: JSONValue, _ node: SchemaNode?, skipPrune: Bool, resourceRoot: Bool) {
        guard let node else {
            if skipPrune { return }
            switch value {
            case .object(let o):
                for key in o.keys { found.append(path(key)) }
            case .array(let a):
                for (i, item) in a.enumerated() {
                    steps.append(.index(i))
                    walk(item, nil, skipPrune: false, resourceRoot: false)
                    steps.removeLast()
                }
            default:
                break
            }
            return
        }
        switch value {
        case .object(let o):
            let keepUnknown = skipPrune || node.preserveUnknownFields
            for (key, child) in o {
                if resourceRoot && Normalizer.isMeta(key) { continue }
                if node.embeddedResource && Normalizer.embeddedKeeps(key, child) { continue }
                let childNode: SchemaNode?
                if let property = node.properties[key] {
                    childNode = property
                } else {
                    switch node.additional {
                    case .schema(let valueSchema): childNode = valueSchema
                    case .allowed, .forbidden: childNode = nil
                    case .unspecified:
                        if !keepUnknown { found.append(path(key)) }
                        continue
                    }
                }
                switch child {
                case .object, .array:
                    steps.append(.key(key))
                    walk(child, childNode, skipPrune: false, resourceRoot: false)
                    steps.removeLast()
                default:
                    break
                }
            }
        case .array(let a):
            let itemsSkip = skipPrune || node.preserveUnknownFields
            for (i, item) in a.enumerated() {
                switch item {
                case .object, .array:
                    steps.append(.index(i))
                    walk(item, node.items, skipPrune: itemsSkip, resourceRoot: false)
                    steps.removeLast()
                default:
                    break
                }
            }
        default:
            break
        }
    }
}

// MARK: - Schema checks (apiextensions' CRD validation)

struct SchemaLint {
    enum Level { case root, item, field }

    var openAPI: [FieldError] = []
    var structural: [FieldError] = []

    static let openAPITypes = ["array", "boolean", "integer", "number", "object", "string"]

    private static func object(_ json: JSONValue?) -> [String: JSONValue]? { json?.objectValue }

    /// ValidateCustomResourceDefinitionOpenAPISchema and specStandardValidatorV3.validate.
    mutating func openAPICheck(_ json: JSONValue, _ path: String, isRoot: Bool, defaultsForbidden: String?) {
        guard let s = json.objectValue else { return }
        let type = s["type"]?.stringValue ?? ""
        if !type.isEmpty && !Self.openAPITypes.contains(type) {
            openAPI.append(.notSupported(path + ".type", printed: GoText.quote(type),
                                         quotedSupported: Self.openAPITypes.map(GoText.quote)))
        }
        if let reason = defaultsForbidden, let d = s["default"], !d.isNull {
            openAPI.append(.forbidden(path + ".default", "must not be set \(reason)"))
        }
        for keyword in ["id", "additionalItems", "patternProperties", "definitions", "dependencies"] where s[keyword] != nil {
            openAPI.append(.forbidden(path + "." + keyword, "\(keyword) is not supported"))
        }
        if s["$ref"] != nil { openAPI.append(.forbidden(path + ".$ref", "$ref is not supported")) }
        if type == "null" {
            openAPI.append(.forbidden(path + ".type", "type cannot be set to null, use nullable as an alternative"))
        }
        if case .array? = s["items"] {
            openAPI.append(.forbidden(path + ".items", "items must be a schema object and not an array"))
        }
        if s["uniqueItems"]?.boolValue == true {
            openAPI.append(.forbidden(path + ".uniqueItems", "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"))
        }
        let properties = s["properties"]?.objectValue ?? [:]
        if let additional = s["additionalProperties"] {
            if !properties.isEmpty && (additional.boolValue == false || additional.objectValue != nil) {
                openAPI.append(.forbidden(path + ".additionalProperties", "additionalProperties and properties are mutual exclusive"))
            }
            if additional.objectValue != nil {
                openAPICheck(additional, path + ".additionalProperties", isRoot: false, defaultsForbidden: defaultsForbidden)
            }
        }
        for key in properties.keys.sorted() {
            var reason = defaultsForbidden
            if isRoot && Normalizer.isMeta(key) { reason = "in top-level \(key)" }
            openAPICheck(properties[key]!, path + ".properties[\(key)]", isRoot: false, defaultsForbidden: reason)
        }
        if let not = s["not"] { openAPICheck(not, path + ".not", isRoot: false, defaultsForbidden: defaultsForbidden) }
        for junctor in ["allOf", "oneOf", "anyOf"] {
            for (i, sub) in (s[junctor]?.arrayValue ?? []).enumerated() {
                openAPICheck(sub, path + ".\(junctor)[\(i)]", isRoot: false, defaultsForbidden: defaultsForbidden)
            }
        }
        if let items = s["items"], items.objectValue != nil {
            openAPICheck(items, path + ".items", isRoot: false, defaultsForbidden: defaultsForbidden)
        }
        if s["x-kubernetes-preserve-unknown-fields"]?.boolValue == false {
            openAPI.append(.invalid(path + ".x-kubernetes-preserve-unknown-fields", printed: "false", "must be true or undefined"))
        }
        if let mapType = s["x-kubernetes-map-type"]?.stringValue {
            if type != "object" {
                openAPI.append(type.isEmpty
                    ? .required(path + ".type", "must be object if x-kubernetes-map-type is specified")
                    : .invalid(path + ".type", printed: GoText.quote(type), "must be object if x-kubernetes-map-type is specified"))
            }
            if mapType != "atomic" && mapType != "granular" {
                openAPI.append(.notSupported(path + ".x-kubernetes-map-type", printed: GoText.quote(mapType),
                                             quotedSupported: ["\"atomic\"", "\"granular\""]))
            }
        }
        let listType = s["x-kubernetes-list-type"]?.stringValue
        if let listType {
            if type != "array" {
                openAPI.append(type.isEmpty
                    ? .required(path + ".type", "must be array if x-kubernetes-list-type is specified")
                    : .invalid(path + ".type", printed: GoText.quote(type), "must be array if x-kubernetes-list-type is specified"))
            }
            if !["atomic", "set", "map"].contains(listType) {
                openAPI.append(.notSupported(path + ".x-kubernetes-list-type", printed: GoText.quote(listType),
                                             quotedSupported: ["\"atomic\"", "\"set\"", "\"map\""]))
            }
        }
        let mapKeys = s["x-kubernetes-list-map-keys"]?.arrayValue ?? []
        if !mapKeys.isEmpty {
            if listType == nil {
                openAPI.append(.required(path + ".x-kubernetes-list-type", "must be map if x-kubernetes-list-map-keys is non-empty"))
            } else if listType != "map" {
                openAPI.append(.invalid(path + ".x-kubernetes-list-type", printed: GoText.quote(listType!),
                                        "must be map if x-kubernetes-list-map-keys is non-empty"))
            }
        }
        if listType == "map" && mapKeys.isEmpty {
            openAPI.append(.required(path + ".x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"))
        }
        for (i, rule) in (s["x-kubernetes-validations"]?.arrayValue ?? []).enumerated() {
            let text = rule["rule"]?.stringValue ?? ""
            if text.allSatisfy(\.isWhitespace) {
                openAPI.append(.required(path + ".x-kubernetes-validations[\(i)].rule", "rule is not specified"))
            }
        }
    }

    /// validateStructuralInvariants.
    mutating func invariants(_ json: JSONValue, _ level: Level, _ path: String) {
        guard let s = json.objectValue else { return }
        let type = s["type"]?.stringValue ?? ""
        let intOrString = s["x-kubernetes-int-or-string"]?.boolValue == true
        let preserve = s["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
        let embedded = s["x-kubernetes-embedded-resource"]?.boolValue == true
        let items = Self.object(s["items"])
        if type == "array" && items == nil {
            structural.append(.required(path + ".items", "must be specified"))
        }
        if let items = s["items"], items.objectValue != nil { invariants(items, .item, path + ".items") }
        let properties = s["properties"]?.objectValue ?? [:]
        for key in properties.keys.sorted() {
            invariants(properties[key]!, .field, path + ".properties[\(key)]")
        }
        if let additional = s["additionalProperties"] {
            if level == .root {
                structural.append(.forbidden(path + ".additionalProperties", "must not be used at the root"))
            }
            if additional.objectValue != nil { invariants(additional, .field, path + ".additionalProperties") }
        }
        if intOrString && preserve {
            structural.append(.invalid(path + ".x-kubernetes-preserve-unknown-fields", printed: "true",
                                       "must be false if x-kubernetes-int-or-string is true"))
        }
        if intOrString && embedded {
            structural.append(.invalid(path + ".x-kubernetes-embedded-resource", printed: "true",
                                       "must be false if x-kubernetes-int-or-string is true"))
        }
        let allOf = s["allOf"]?.arrayValue ?? []
        valueValidation(s, skipAnyOf: Self.isIntOrStringAnyOf(s["anyOf"]),
                        skipFirstAllOfAnyOf: allOf.first.map { Self.isIntOrStringAnyOf($0["anyOf"]) } ?? false, path)
        if embedded && type != "object" {
            structural.append(type.isEmpty
                ? .required(path + ".type", "must be object if x-kubernetes-embedded-resource is true")
                : .invalid(path + ".type", printed: GoText.quote(type), "must be object if x-kubernetes-embedded-resource is true"))
        } else if type.isEmpty && !intOrString && !preserve {
            let detail = switch level {
            case .root: "must not be empty at the root"
            case .item: "must not be empty for specified array items"
            case .field: "must not be empty for specified object fields"
            }
            structural.append(.required(path + ".type", detail))
        }
        if embedded && s["additionalProperties"] != nil {
            structural.append(.forbidden(path + ".additionalProperties", "must not be used if x-kubernetes-embedded-resource is set"))
        }
        if level == .root && !type.isEmpty && type != "object" {
            structural.append(.invalid(path + ".type", printed: GoText.quote(type), "must be object at the root"))
        }
        if level == .root || embedded {
            for (key, want) in [("kind", "string"), ("apiVersion", "string"), ("metadata", "object")] {
                if let property = properties[key] {
                    let got = property["type"]?.stringValue ?? ""
                    if got != want {
                        structural.append(.invalid(path + ".properties[\(key)].type", printed: GoText.quote(got), "must be \(want)"))
                    }
                }
            }
        }
        if level == .root, let metadata = properties["metadata"]?.objectValue {
            let harmless: Set<String> = ["type", "default", "properties", "example", "externalDocs", "$schema"]
            let names = Set(metadata["properties"]?.objectValue?.keys.map { $0 } ?? [])
            if !Set(metadata.keys).isSubset(of: harmless) || !names.isSubset(of: ["name", "generateName"]) {
                structural.append(.forbidden(path + ".properties[metadata]",
                                             "must not specify anything other than name and generateName, but metadata is implicitly specified"))
            }
        }
        if embedded && !preserve && properties.isEmpty {
            structural.append(.required(path + ".properties",
                                        "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"))
        }
    }

    /// `anyOf: [{type: integer}, {type: string}]`, the int-or-string shape kube lets carry types.
    static func isIntOrStringAnyOf(_ json: JSONValue?) -> Bool {
        guard let list = json?.arrayValue, list.count == 2 else { return false }
        return list[0] == ["type": "integer"] && list[1] == ["type": "string"]
    }

    private mutating func valueValidation(_ s: [String: JSONValue], skipAnyOf: Bool, skipFirstAllOfAnyOf: Bool, _ path: String) {
        if !skipAnyOf {
            for (i, sub) in (s["anyOf"]?.arrayValue ?? []).enumerated() {
                nested(sub, skipAnyOf: false, path + ".anyOf[\(i)]")
            }
        }
        for (i, sub) in (s["allOf"]?.arrayValue ?? []).enumerated() {
            nested(sub, skipAnyOf: skipFirstAllOfAnyOf && i == 0, path + ".allOf[\(i)]")
        }
        for (i, sub) in (s["oneOf"]?.arrayValue ?? []).enumerated() {
            nested(sub, skipAnyOf: false, path + ".oneOf[\(i)]")
        }
        if let not = s["not"] { nested(not, skipAnyOf: false, path + ".not") }
        if let pattern = s["pattern"]?.stringValue, !pattern.isEmpty, let problem = SchemaNode.compile(pattern).problem {
            structural.append(.invalid(path + ".pattern", printed: GoText.quote(pattern),
                                       "must be a valid regular expression, but isn't: \(problem)"))
        }
    }

    /// validateNestedValueValidation: inside a junctor only value validations may appear.
    private mutating func nested(_ json: JSONValue, skipAnyOf: Bool, _ path: String) {
        guard let s = json.objectValue else { return }
        valueValidation(s, skipAnyOf: skipAnyOf, skipFirstAllOfAnyOf: false, path)
        if let items = s["items"] { nested(items, skipAnyOf: false, path + ".items") }
        let properties = s["properties"]?.objectValue ?? [:]
        for key in properties.keys.sorted() {
            nested(properties[key]!, skipAnyOf: false, path + ".properties[\(key)]")
        }
        if let type = s["type"]?.stringValue, !type.isEmpty {
            structural.append(.forbidden(path + ".type", "must be empty to be structural"))
        }
        if s["additionalProperties"] != nil {
            structural.append(.forbidden(path + ".additionalProperties", "must be undefined to be structural"))
        }
        if let d = s["default"], !d.isNull {
            structural.append(.forbidden(path + ".default", "must be undefined to be structural"))
        }
        for keyword in ["title", "description"] where !(s[keyword]?.stringValue ?? "").isEmpty {
            structural.append(.forbidden(path + "." + keyword, "must be empty to be structural"))
        }
        for keyword in ["nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
                        "x-kubernetes-int-or-string"] where s[keyword]?.boolValue == true {
            structural.append(.forbidden(path + "." + keyword, "must be false to be structural"))
        }
        if !(s["x-kubernetes-list-map-keys"]?.arrayValue ?? []).isEmpty {
            structural.append(.forbidden(path + ".x-kubernetes-list-map-keys", "must be empty to be structural"))
        }
        if s["x-kubernetes-list-type"] != nil {
            structural.append(.forbidden(path + ".x-kubernetes-list-type", "must be undefined to be structural"))
        }
        if properties["metadata"] != nil {
            structural.append(.forbidden(path + ".properties[metadata]", "must not be specified in a nested context"))
        }
    }

    /// validateStructuralCompleteness: what a junctor constrains must be specified outside it.
    mutating func completeness(_ json: JSONValue, _ path: String) {
        guard let s = json.objectValue else { return }
        if let items = s["items"], items.objectValue != nil { completeness(items, path + ".items") }
        let properties = s["properties"]?.objectValue ?? [:]
        for key in properties.keys.sorted() { completeness(properties[key]!, path + ".properties[\(key)]") }
        if let additional = s["additionalProperties"], additional.objectValue != nil {
            completeness(additional, path + ".additionalProperties")
        }
        junctorCompleteness(s, json, path, path)
    }

    private mutating func junctorCompleteness(_ v: [String: JSONValue], _ s: JSONValue?, _ sPath: String, _ vPath: String) {
        if let not = v["not"] { nestedCompleteness(not, s, sPath, vPath + ".not") }
        for junctor in ["allOf", "anyOf", "oneOf"] {
            for (i, sub) in (v[junctor]?.arrayValue ?? []).enumerated() {
                nestedCompleteness(sub, s, sPath, vPath + ".\(junctor)[\(i)]")
            }
        }
    }

    private mutating func nestedCompleteness(_ v: JSONValue, _ s: JSONValue?, _ sPath: String, _ vPath: String) {
        guard let vo = v.objectValue else { return }
        guard let s, s.objectValue != nil else {
            structural.append(.required(sPath, "because it is defined in \(vPath)"))
            return
        }
        junctorCompleteness(vo, s, sPath, vPath)
        if let items = vo["items"] {
            nestedCompleteness(items, s["items"].flatMap { $0.objectValue == nil ? nil : $0 }, sPath + ".items", vPath + ".items")
        }
        let properties = vo["properties"]?.objectValue ?? [:]
        for key in properties.keys.sorted() {
            let sChild = s["properties"]?[key]
            if sChild == nil {
                structural.append(.required(sPath + ".properties[\(key)]", "because it is defined in \(vPath).properties[\(key)]"))
            } else {
                nestedCompleteness(properties[key]!, sChild, sPath + ".properties[\(key)]", vPath + ".properties[\(key)]")
            }
        }
    }

    /// structuraldefaulting.ValidateDefaults: every default must be pruned and valid against
    /// the schema it sits in. The resource root counts as an embedded resource; defaults in
    /// apiVersion, kind and metadata of one are left out (the OpenAPI checks forbid them at the
    /// top level; in an embedded resource they are ObjectMeta's business).
    static func defaultErrors(_ node: SchemaNode, _ path: String, isRoot: Bool = true, insideMeta: Bool = false) -> [FieldError] {
        var errors: [FieldError] = []
        if !insideMeta, let value = node.defaultValue {
            var collector = UnknownFieldCollector()
            collector.walk(value, node, skipPrune: false, resourceRoot: false)
            if !collector.found.isEmpty {
                errors.append(.invalid(path + ".default", printed: GoText.printed(value), "must not have unknown fields"))
            }
            var validator = ValueValidator(prefix: path + ".default")
            var found: [FieldError] = []
            validator.check(value, node, &found)
            errors += validator.embedded.isEmpty ? ValueValidator.unique(found) : validator.embedded
        }
        if let items = node.items {
            errors += defaultErrors(items, path + ".items", isRoot: false, insideMeta: insideMeta)
        }
        for name in node.propertyNames {
            let meta = insideMeta || ((isRoot || node.embeddedResource) && Normalizer.isMeta(name))
            errors += defaultErrors(node.properties[name]!, path + ".properties[\(name)]", isRoot: false, insideMeta: meta)
        }
        return errors
    }
}

// MARK: - Go's printing of values

/// How kube's Go code prints values in messages: strconv.Quote for strings, %v for floats, %#v
/// for maps and slices.
enum GoText {
    /// Go's strconv.Quote.
    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{0B}": out += "\\v"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    out += "\\x" + hex(u.value, width: 2)
                } else if u.value < 0x80 || isPrint(u) {
                    out.unicodeScalars.append(u)
                } else if u.value < 0x10000 {
                    out += "\\u" + hex(u.value, width: 4)
                } else {
                    out += "\\U" + hex(u.value, width: 8)
                }
            }
        }
        out += "\""
        return out
    }

    private static func hex(_ v: UInt32, width: Int) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// unicode.IsPrint: letters, marks, numbers, punctuation and symbols (and ASCII space).
    private static func isPrint(_ u: Unicode.Scalar) -> Bool {
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            true
        default:
            false
        }
    }

    /// Go's %v for a float64: %g with the shortest digits, so the exponent form below 1e-4 and
    /// from 1e6 up (`1e+06`, `1.5e-05`).
    static func float(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        let text = abs(d).description
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let intPart: Substring
        let fracPart: Substring
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        } else {
            intPart = mantissa
            fracPart = ""
        }
        var digits = Array(intPart) + Array(fracPart)
        var point = intPart.count + exponent   // value = 0.digits × 10^point
        while digits.first == "0" { digits.removeFirst(); point -= 1 }
        while digits.last == "0" { digits.removeLast() }
        if digits.isEmpty { return "0" }
        let sign = d < 0 ? "-" : ""
        let exp = point - 1
        if exp < -4 || exp >= 6 {
            var out = sign + String(digits[0])
            if digits.count > 1 { out += "." + String(digits[1...]) }
            let e = abs(exp)
            out += (exp < 0 ? "e-" : "e+") + (e < 10 ? "0" : "") + String(e)
            return out
        }
        if point <= 0 {
            return sign + "0." + String(repeating: "0", count: -point) + String(digits)
        }
        if point >= digits.count {
            return sign + String(digits) + String(repeating: "0", count: point - digits.count)
        }
        return sign + String(digits[..<point]) + "." + String(digits[point...])
    }

    /// A value in a field.Error: numbers and booleans bare, strings quoted, null as `"null"`,
    /// maps and arrays in Go's %#v.
    static func printed(_ value: JSONValue) -> String {
        switch value {
        case .null: "\"null\""
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): float(d)
        case .string(let s): quote(s)
        case .array, .object: sharpV(value)
        }
    }

    static func sharpV(_ value: JSONValue) -> String {
        switch value {
        case .null: "interface {}(nil)"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): float(d)
        case .string(let s): quote(s)
        case .array(let a): "[]interface {}{" + a.map(sharpV).joined(separator: ", ") + "}"
        case .object(let o):
            "map[string]interface {}{" + o.keys.sorted().map { quote($0) + ":" + sharpV(o[$0]!) }.joined(separator: ", ") + "}"
        }
    }

    /// go-openapi's swag.IsFloat64AJSONInteger.
    static func isJSONInteger(_ f: Double) -> Bool {
        guard f.isFinite, abs(f) <= 9007199254740992 else { return false }
        let g = f.rounded(.towardZero)
        if f == g { return true }
        let diff = abs(f - g)
        if g == 0 { return diff < 1e-9 * Double.leastNonzeroMagnitude }
        return diff / min(abs(f) + abs(g), Double.greatestFiniteMagnitude) < 1e-9
    }
}
