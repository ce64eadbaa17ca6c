public import JSON

/// One served version of a custom resource, compiled once from its CustomResourceDefinition:
/// the REST resource, the structural schema its objects are pruned, defaulted and validated
/// by, the columns `kubectl get` prints and where the scale subresource reads and writes.
public final class CustomResource: Sendable {
    /// The CRD's name (`<plural>.<group>`).
    public let crdName: String
    public let resource: ResourceType
    public let schema: StructuralSchema
    /// Name, then the version's additionalPrinterColumns (Age when it lists none).
    public let columns: [TableConverter.Column]
    public let scale: ScalePaths?
    /// How its lists and maps merge in server-side apply (x-kubernetes-list-type and kin).
    public let mergeSchema: MergeSchema

    init(crdName: String, resource: ResourceType, schema: StructuralSchema, columns: [TableConverter.Column], scale: ScalePaths?) {
        self.crdName = crdName
        self.resource = resource
        self.schema = schema
        self.columns = columns
        self.scale = scale
        self.mergeSchema = schema.mergeSchema
    }
}

/// Where a custom resource keeps what the scale subresource shows (`.spec.replicas`, …).
public struct ScalePaths: Sendable, Equatable {
    public var specReplicas: [String]
    public var statusReplicas: [String]
    /// Where the label selector is stored, in its serialized string form.
    public var labelSelector: [String]?

    /// The scale paths of deployments and the other built-in scalable kinds.
    public static let builtin = ScalePaths(specReplicas: ["spec", "replicas"], statusReplicas: ["status", "replicas"], labelSelector: nil)
}

/// apiextensions.k8s.io/v1 CustomResourceDefinitions: their defaults and validation with
/// kube-apiserver's field paths and messages, the status the server gives an accepted one
/// (kube's naming and establishing controllers, which Netplane folds into the write), and the
/// resources they define.
public enum CustomResourceDefinitions {
    public static let group = "apiextensions.k8s.io"
    static let columnTypes = ["integer", "number", "string", "boolean", "date"]
    /// Groups only Kubernetes may define (kube's protected groups), unless the CRD carries
    /// this annotation naming its approval.
    static let approvalAnnotation = "api-approved.kubernetes.io"

    // MARK: Defaults

    /// kube's defaults for a CRD's spec: singular and listKind from the kind, conversion None.
    public static func applyDefaults(_ crd: inout JSONValue) {
        if let kind = crd[path: ["spec", "names", "kind"]]?.stringValue, !kind.isEmpty {
            if (crd[path: ["spec", "names", "singular"]]?.stringValue ?? "").isEmpty {
                crd[path: ["spec", "names", "singular"]] = .string(kind.lowercased())
            }
            if (crd[path: ["spec", "names", "listKind"]]?.stringValue ?? "").isEmpty {
                crd[path: ["spec", "names", "listKind"]] = .string(kind + "List")
            }
        }
        if crd[path: ["spec", "conversion", "strategy"]] == nil, crd["spec"]?.objectValue != nil {
            crd[path: ["spec", "conversion", "strategy"]] = "None"
        }
    }

    // MARK: Validation

    /// What is wrong with a CRD (`old`: the CRD before an update).
    public static func validate(_ crd: JSONValue, old: JSONValue?) -> [FieldError] {
        var errors: [FieldError] = []
        let spec = crd["spec"] ?? .null
        let group = spec["group"]?.stringValue ?? ""
        let names = spec["names"] ?? .null
        let plural = names["plural"]?.stringValue ?? ""
        let name = crd.name ?? ""

        if group.isEmpty {
            errors.append(.required("spec.group"))
        } else if let problem = NameRules.dns1123SubdomainProblem(group) {
            errors.append(.invalid("spec.group", group, problem))
        } else if !group.contains(".") {
            errors.append(.invalid("spec.group", group, "should be a domain with at least one dot"))
        } else if isProtected(group), (crd[path: ["metadata", "annotations", approvalAnnotation]]?.stringValue ?? "").isEmpty {
            errors.append(FieldError(field: "metadata.annotations[\(approvalAnnotation)]", reason: "FieldValueRequired",
                                     message: "Required value: protected groups must have approval annotation \"\(approvalAnnotation)\", see https://github.com/kubernetes/enhancements/pull/1111"))
        }
        if !plural.isEmpty, !group.isEmpty, name != "\(plural).\(group)" {
            errors.append(.invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"))
        }
        errors += validateNames(names, path: "spec.names")

        switch spec["scope"]?.stringValue {
        case nil, "": errors.append(.required("spec.scope"))
        case "Cluster", "Namespaced": break
        case let scope?: errors.append(.notSupported("spec.scope", scope, ["Cluster", "Namespaced"]))
        }
        if spec["preserveUnknownFields"]?.boolValue == true {
            errors.append(FieldError(field: "spec.preserveUnknownFields",
                                     message: "Invalid value: true: cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
        }
        switch spec[path: ["conversion", "strategy"]]?.stringValue ?? "None" {
        case "None": break
        case "Webhook":
            errors.append(FieldError(field: "spec.conversion.strategy", reason: "FieldValueNotSupported",
                                     message: "Unsupported value: \"Webhook\": supported values: \"None\" (conversion webhooks are not supported by this server)"))
        case let other: errors.append(.notSupported("spec.conversion.strategy", other, ["None", "Webhook"]))
        }

        let versions = spec["versions"]?.arrayValue ?? []
        if versions.isEmpty {
            errors.append(FieldError(field: "spec.versions", message: "Invalid value: null: must have exactly one version marked as storage version"))
        } else {
            let storage = versions.filter { $0["storage"]?.boolValue == true }
            if storage.count != 1 {
                errors.append(FieldError(field: "spec.versions",
                                         message: "Invalid value: \(storage.count): must have exactly one version marked as storage version"))
            }
            if !versions.contains(where: { $0["served"]?.boolValue == true }) {
                errors.append(FieldError(field: "spec.versions", message: "Invalid value: \(versions.count): must have at least one served version"))
            }
        }
        var seen: Set<String> = []
        for (i, version) in versions.enumerated() {
            let path = "spec.versions[\(i)]"
            let v = version["name"]?.stringValue ?? ""
            if v.isEmpty {
                errors.append(.required("\(path).name"))
            } else if let problem = NameRules.dns1123LabelProblem(v) {
                errors.append(.invalid("\(path).name", v, problem))
            } else if !seen.insert(v).inserted {
                errors.append(.duplicate("\(path).name", v))
            }
            if let schema = version[path: ["schema", "openAPIV3Schema"]], schema.objectValue != nil {
                errors += StructuralSchema.structuralErrors(schema, path: "\(path).schema.openAPIV3Schema")
            } else {
                errors.append(FieldError(field: "\(path).schema.openAPIV3Schema", reason: "FieldValueRequired",
                                         message: "Required value: schemas are required"))
            }
            for (j, column) in (version["additionalPrinterColumns"]?.arrayValue ?? []).enumerated() {
                errors += validateColumn(column, path: "\(path).additionalPrinterColumns[\(j)]")
            }
            if let scale = version[path: ["subresources", "scale"]] {
                errors += validateScale(scale, path: "\(path).subresources.scale")
            }
            for (j, field) in (version["selectableFields"]?.arrayValue ?? []).enumerated() {
                let jsonPath = field["jsonPath"]?.stringValue ?? ""
                if jsonPath.isEmpty { errors.append(.required("\(path).selectableFields[\(j)].jsonPath")) }
                else if simplePath(jsonPath) == nil {
                    errors.append(.invalid("\(path).selectableFields[\(j)].jsonPath", jsonPath, "must be a simple json path starting with ."))
                }
            }
        }

        if let old {
            for field in ["group", "scope"] where old[path: ["spec", field]] != spec[field] {
                errors.append(.invalid("spec.\(field)", spec[field]?.stringValue ?? "", "field is immutable"))
            }
            if old[path: ["spec", "names", "plural"]] != names["plural"] {
                errors.append(.invalid("spec.names.plural", plural, "field is immutable"))
            }
        }
        return errors
    }

    /// `*.k8s.io` and `*.kubernetes.io`, which Kubernetes reserves for its own APIs.
    static func isProtected(_ group: String) -> Bool {
        for suffix in ["k8s.io", "kubernetes.io"] where group == suffix || group.hasSuffix("." + suffix) { return true }
        return false
    }

    static func validateNames(_ names: JSONValue, path: String) -> [FieldError] {
        var errors: [FieldError] = []
        for field in ["plural", "singular"] {
            guard let value = names[field]?.stringValue, !value.isEmpty else {
                if field == "plural" { errors.append(.required("\(path).plural")) }
                continue
            }
            if let problem = NameRules.dns1123LabelProblem(value) { errors.append(.invalid("\(path).\(field)", value, problem)) }
        }
        for (i, short) in (names["shortNames"]?.arrayValue ?? []).enumerated() {
            let value = short.stringValue ?? ""
            if let problem = NameRules.dns1123LabelProblem(value) { errors.append(.invalid("\(path).shortNames[\(i)]", value, problem)) }
        }
        for field in ["kind", "listKind"] {
            guard let value = names[field]?.stringValue, !value.isEmpty else {
                if field == "kind" { errors.append(.required("\(path).kind")) }
                continue
            }
            if let problem = NameRules.dns1123LabelProblem(value.lowercased()) {
                errors.append(.invalid("\(path).\(field)", value, "may have mixed case, but should otherwise match: \(problem)"))
            }
        }
        if let kind = names["kind"]?.stringValue, !kind.isEmpty, names["listKind"]?.stringValue == kind {
            errors.append(.invalid("\(path).listKind", kind, "kind and listKind may not be the same"))
        }
        return errors
    }

    static func validateColumn(_ column: JSONValue, path: String) -> [FieldError] {
        var errors: [FieldError] = []
        if (column["name"]?.stringValue ?? "").isEmpty { errors.append(.required("\(path).name")) }
        let type = column["type"]?.stringValue ?? ""
        if type.isEmpty { errors.append(.required("\(path).type")) }
        else if !columnTypes.contains(type) { errors.append(.notSupported("\(path).type", type, columnTypes)) }
        let jsonPath = column["jsonPath"]?.stringValue ?? ""
        if jsonPath.isEmpty {
            errors.append(.required("\(path).jsonPath"))
        } else if !jsonPath.hasPrefix(".") || (try? JSONPath(jsonPath)) == nil {
            errors.append(.invalid("\(path).jsonPath", jsonPath, "must be a simple json path starting with ."))
        }
        if let priority = column["priority"], priority.int64Value == nil || priority.int64Value! < 0 {
            errors.append(.invalid("\(path).priority", "\(priority)", "must be a non-negative integer"))
        }
        return errors
    }

    static func validateScale(_ scale: JSONValue, path: String) -> [FieldError] {
        var errors: [FieldError] = []
        for (field, roots) in [("specReplicasPath", ["spec", "status"]), ("statusReplicasPath", ["status"]), ("labelSelectorPath", ["spec", "status"])] {
            guard let value = scale[field]?.stringValue, !value.isEmpty else {
                if field != "labelSelectorPath" { errors.append(.required("\(path).\(field)")) }
                continue
            }
            guard let steps = simplePath(value), let first = steps.first, roots.contains(first), steps.count > 1 else {
                let under = roots.count == 1 ? ".status" : "either .spec or .status"
                errors.append(.invalid("\(path).\(field)", value, "should be a json path under \(under)"))
                continue
            }
        }
        return errors
    }

    /// `.spec.replicas` as ["spec", "replicas"]; nil unless it is dotted keys only.
    public static func simplePath(_ text: String) -> [String]? {
        guard text.hasPrefix(".") else { return nil }
        let steps = text.dropFirst().split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !steps.isEmpty, steps.allSatisfy({ !$0.isEmpty && !$0.contains("[") && !$0.contains("]") }) else { return nil }
        return steps
    }

    // MARK: Status

    /// The status kube's controllers would give a CRD whose names are free: its names
    /// accepted, Established, and its storage version recorded (kept from `previous` too, so
    /// a version that once stored objects stays listed).
    public static func status(for crd: JSONValue, previous: JSONValue?, now: String) -> JSONValue {
        var status = crd["status"] ?? .emptyObject
        status["acceptedNames"] = crd[path: ["spec", "names"]] ?? .emptyObject
        let earlier = previous?[path: ["status", "conditions"]]?.arrayValue ?? []
        func condition(_ type: String, _ reason: String, _ message: String) -> JSONValue {
            let since = earlier.first { $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True" }?["lastTransitionTime"]
            return ["type": .string(type), "status": "True", "reason": .string(reason), "message": .string(message),
                    "lastTransitionTime": since ?? .string(now)]
        }
        status["conditions"] = [condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                                condition("Established", "InitialNamesAccepted", "the initial names have been accepted")]
        var stored = (previous?[path: ["status", "storedVersions"]]?.arrayValue ?? []).compactMap(\.stringValue)
        for version in crd[path: ["spec", "versions"]]?.arrayValue ?? [] where version["storage"]?.boolValue == true {
            if let name = version["name"]?.stringValue, !stored.contains(name) { stored.append(name) }
        }
        status["storedVersions"] = .array(stored.map { .string($0) })
        return status
    }

    // MARK: Resources

    /// The served versions of a valid CRD as resources (empty for one that is not Established).
    public static func resources(of crd: JSONValue) -> [CustomResource] {
        let established = (crd[path: ["status", "conditions"]]?.arrayValue ?? [])
            .contains { $0["type"]?.stringValue == "Established" && $0["status"]?.stringValue == "True" }
        guard established, crd.deletionTimestamp == nil,
              let spec = crd["spec"], let group = spec["group"]?.stringValue,
              let names = spec["names"], let plural = names["plural"]?.stringValue, let kind = names["kind"]?.stringValue,
              let versions = spec["versions"]?.arrayValue,
              let storageVersion = versions.first(where: { $0["storage"]?.boolValue == true })?["name"]?.stringValue else { return [] }
        let strings = { (key: String) in (names[key]?.arrayValue ?? []).compactMap(\.stringValue) }
        return versions.compactMap { version -> CustomResource? in
            guard version["served"]?.boolValue == true, let name = version["name"]?.stringValue,
                  let schemaJSON = version[path: ["schema", "openAPIV3Schema"]] else { return nil }
            let subresources = version["subresources"] ?? .null
            var resource = ResourceType(group: group, version: name, plural: plural,
                                        singular: names["singular"]?.stringValue ?? kind.lowercased(), kind: kind,
                                        namespaced: spec["scope"]?.stringValue == "Namespaced", shortNames: strings("shortNames"),
                                        categories: strings("categories"),
                                        subresources: Set(["status", "scale"].filter { subresources[$0] != nil }),
                                        hasGeneration: true)
            resource.isCustom = true
            resource.storageVersion = storageVersion
            resource.selectableFields = (version["selectableFields"]?.arrayValue ?? []).compactMap {
                $0["jsonPath"]?.stringValue.flatMap(simplePath)?.joined(separator: ".")
            }
            let scale = subresources["scale"].flatMap { scale -> ScalePaths? in
                guard let spec = scale["specReplicasPath"]?.stringValue.flatMap(simplePath),
                      let status = scale["statusReplicasPath"]?.stringValue.flatMap(simplePath) else { return nil }
                return ScalePaths(specReplicas: spec, statusReplicas: status,
                                  labelSelector: scale["labelSelectorPath"]?.stringValue.flatMap(simplePath))
            }
            return CustomResource(crdName: crd.name ?? "", resource: resource, schema: StructuralSchema(schemaJSON),
                                  columns: columns(version["additionalPrinterColumns"]?.arrayValue ?? []), scale: scale)
        }
    }

    /// Name, then the printer columns; Age alone when none are listed (kube serves default
    /// columns only for a version that lists none).
    static func columns(_ printerColumns: [JSONValue]) -> [TableConverter.Column] {
        let listed = printerColumns.compactMap { column -> TableConverter.Column? in
            guard let name = column["name"]?.stringValue, let type = column["type"]?.stringValue,
                  let path = column["jsonPath"]?.stringValue.flatMap({ try? JSONPath($0) }) else { return nil }
            return TableConverter.Column(name, type, format: column["format"]?.stringValue ?? "",
                                         priority: Int(column["priority"]?.int64Value ?? 0),
                                         column["description"]?.stringValue ?? "") { object, now in
                guard let value = path.evaluate(object).first else { return .null }
                return TableConverter.printerCell(type: type, value, now: now)
            }
        }
        return [TableConverter.nameColumn] + (printerColumns.isEmpty ? [TableConverter.ageColumn] : listed)
    }
}

extension TableConverter {
    /// A custom resource's cell for a printer column's value (kube's tableconvertor): a string
    /// column prints any value as text, the typed ones take only their type (null otherwise),
    /// a date column shows the age of a timestamp.
    static func printerCell(type: String, _ value: JSONValue, now: Int) -> JSONValue {
        switch (type, value) {
        case (_, .null): return .null
        case ("string", .string): return value
        case ("string", .int(let i)): return .string(String(i))
        case ("string", .double(let d)): return .string(String(d))
        case ("string", .bool(let b)): return .string(b ? "true" : "false")
        case ("string", _): return .string(String(decoding: value.jsonBytes(), as: UTF8.self))
        case ("integer", .int): return value
        case ("integer", .double(let d)): return .int(Int64(d))
        case ("number", .int(let i)): return .double(Double(i))
        case ("number", .double): return value
        case ("boolean", .bool): return value
        case ("date", .string(let s)):
            guard let time = APITime.parse(s) else { return "<invalid>" }
            return .string(APITime.age(since: time, now: now))
        default: return .null
        }
    }
}
