public import JSON

/// What a strategic merge patch needs to know about a type: which lists merge (by which key,
/// or as sets of primitives) instead of being replaced. Maps always merge; every list not
/// named here is atomic. These are the `patchStrategy`/`patchMergeKey` tags of the
/// Kubernetes Go types, for the kinds Netplane serves.
public struct PatchSchema: Sendable {
    public enum ListMerge: Sendable { case byKey(String), primitives }
    public var listMerge: ListMerge?
    public var fields: [String: PatchSchema]

    public init(_ listMerge: ListMerge? = nil, _ fields: [String: PatchSchema] = [:]) {
        self.listMerge = listMerge
        self.fields = fields
    }

    static let opaque = PatchSchema()

    static let conditions = PatchSchema(.byKey("type"))
    static let objectMeta = PatchSchema(nil, ["finalizers": PatchSchema(.primitives),
                                              "ownerReferences": PatchSchema(.byKey("uid"))])
    static let container = PatchSchema(.byKey("name"), [
        "ports": PatchSchema(.byKey("containerPort")), "env": PatchSchema(.byKey("name")),
        "volumeMounts": PatchSchema(.byKey("mountPath")), "volumeDevices": PatchSchema(.byKey("devicePath")),
        "resizePolicy": PatchSchema(.byKey("resourceName")),
    ])
    static let podSpec = PatchSchema(nil, [
        "containers": container, "initContainers": container, "ephemeralContainers": container,
        "volumes": PatchSchema(.byKey("name")), "imagePullSecrets": PatchSchema(.byKey("name")),
        "hostAliases": PatchSchema(.byKey("ip")), "topologySpreadConstraints": PatchSchema(.byKey("topologyKey")),
        "resourceClaims": PatchSchema(.byKey("name")), "schedulingGates": PatchSchema(.byKey("name")),
    ])
    static let podTemplate = PatchSchema(nil, ["metadata": objectMeta, "spec": podSpec])
    static let workloadStatus = PatchSchema(nil, ["conditions": conditions])

    static func object(spec: PatchSchema = opaque, status: PatchSchema = opaque) -> PatchSchema {
        PatchSchema(nil, ["metadata": objectMeta, "spec": spec, "status": status])
    }

    /// The schema of a kind ("Pod", "Deployment", …); metadata only for kinds without merging lists.
    public static func forKind(_ kind: String) -> PatchSchema {
        switch kind {
        case "Pod":
            return object(spec: podSpec, status: PatchSchema(nil, [
                "conditions": conditions, "podIPs": PatchSchema(.byKey("ip")), "hostIPs": PatchSchema(.byKey("ip")),
                "resourceClaimStatuses": PatchSchema(.byKey("name")),
            ]))
        case "Service":
            return object(spec: PatchSchema(nil, ["ports": PatchSchema(.byKey("port"))]),
                          status: PatchSchema(nil, ["conditions": conditions]))
        case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job":
            return object(spec: PatchSchema(nil, ["template": podTemplate]), status: workloadStatus)
        case "CronJob":
            return object(spec: PatchSchema(nil, ["jobTemplate": PatchSchema(nil, [
                "metadata": objectMeta, "spec": PatchSchema(nil, ["template": podTemplate]),
            ])]))
        case "Node":
            return object(spec: PatchSchema(nil, ["podCIDRs": PatchSchema(.primitives)]),
                          status: PatchSchema(nil, ["conditions": conditions, "addresses": PatchSchema(.byKey("type"))]))
        case "Namespace":
            return object(status: PatchSchema(nil, ["conditions": conditions]))
        case "Ingress", "NetworkPolicy":
            return object()
        default:
            return PatchSchema(nil, ["metadata": objectMeta])
        }
    }
}

/// Applies a Kubernetes strategic merge patch: maps merge, `null` deletes, lists with a merge
/// key merge element by element, and the directives `$patch` (replace/delete/merge),
/// `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` do what
/// `kubectl apply` expects of them.
public func strategicMergePatch(_ target: JSONValue, _ patch: JSONValue, schema: PatchSchema) throws(APIError) -> JSONValue {
    guard case .object(let patchFields) = patch else {
        throw .badRequest("a strategic merge patch must be a JSON object")
    }
    return try mergeMap(target.objectValue ?? [:], patchFields, schema) ?? .null
}

/// Merges one map; nil when the patch deletes it (`$patch: delete`).
private func mergeMap(_ original: [String: JSONValue], _ patch: [String: JSONValue],
                      _ schema: PatchSchema) throws(APIError) -> JSONValue? {
    var patch = patch
    if let directive = patch.removeValue(forKey: "$patch")?.stringValue {
        switch directive {
        case "replace": return .object(stripDirectives(patch))
        case "delete": return nil
        case "merge": break
        default: throw .badRequest("unknown patch directive $patch: \(directive)")
        }
    }
    let retainKeys = patch.removeValue(forKey: "$retainKeys")?.arrayValue?.compactMap(\.stringValue)
    var result = original
    var orders: [String: [JSONValue]] = [:]
    for (key, value) in patch {
        if key.hasPrefix("$setElementOrder/") {
            orders[String(key.dropFirst("$setElementOrder/".count))] = value.arrayValue ?? []
            continue
        }
        if key.hasPrefix("$deleteFromPrimitiveList/") {
            let field = String(key.dropFirst("$deleteFromPrimitiveList/".count))
            let remove = value.arrayValue ?? []
            if let list = result[field]?.arrayValue { result[field] = .array(list.filter { !remove.contains($0) }) }
            continue
        }
        if key.hasPrefix("$") { throw .badRequest("unknown patch directive \(key)") }
        let fieldSchema = schema.fields[key] ?? .opaque
        switch value {
        case .null:
            result[key] = nil
        case .object(let sub):
            if case .object(let existing)? = result[key] {
                result[key] = try mergeMap(existing, sub, fieldSchema)
            } else {
                result[key] = try mergeMap([:], sub, fieldSchema)
            }
        case .array(let items):
            result[key] = try mergeList(result[key]?.arrayValue ?? [], items, fieldSchema)
        default:
            result[key] = value
        }
    }
    for (field, order) in orders {
        if let list = result[field]?.arrayValue {
            result[field] = .array(reorder(list, by: order, schema: schema.fields[field] ?? .opaque))
        }
    }
    if let retainKeys {
        result = result.filter { retainKeys.contains($0.key) }
    }
    return .object(result)
}

private func mergeList(_ original: [JSONValue], _ patch: [JSONValue], _ schema: PatchSchema) throws(APIError) -> JSONValue {
    switch schema.listMerge {
    case nil:
        return .array(patch.map { $0.objectValue.map { .object(stripDirectives($0)) } ?? $0 })
    case .primitives:
        var result = original
        for item in patch where !result.contains(item) { result.append(item) }
        return .array(result)
    case .byKey(let mergeKey):
        // An element {"$patch": "replace"} means: the list is exactly the other elements.
        if patch.contains(where: { $0["$patch"]?.stringValue == "replace" }) {
            return .array(patch.filter { $0["$patch"] == nil }.map { $0.objectValue.map { .object(stripDirectives($0)) } ?? $0 })
        }
        var result = original
        for item in patch {
            guard case .object(var fields) = item else { throw .badRequest("list element \(item) is not an object") }
            guard let keyValue = fields[mergeKey] else {
                throw .badRequest("map: \(item) does not contain declared merge key: \(mergeKey)")
            }
            let index = result.firstIndex { $0[mergeKey] == keyValue }
            if fields["$patch"]?.stringValue == "delete" {
                if let index { result.remove(at: index) }
                continue
            }
            if let index, case .object(let existing) = result[index] {
                if let merged = try mergeMap(existing, fields, schema) { result[index] = merged } else { result.remove(at: index) }
            } else {
                fields["$patch"] = nil
                if let merged = try mergeMap([:], fields, schema) { result.append(merged) }
            }
        }
        return .array(result)
    }
}

/// Orders a merged list as `$setElementOrder` lists it; elements it does not name keep their
/// relative order after the named ones.
private func reorder(_ list: [JSONValue], by order: [JSONValue], schema: PatchSchema) -> [JSONValue] {
    func identity(_ element: JSONValue) -> JSONValue {
        if case .byKey(let key) = schema.listMerge { return element[key] ?? element }
        return element
    }
    let wanted = order.map(identity)
    var placed: [JSONValue] = []
    var rest: [JSONValue] = []
    for element in list {
        if wanted.contains(identity(element)) { placed.append(element) } else { rest.append(element) }
    }
    placed.sort { a, b in (wanted.firstIndex(of: identity(a)) ?? 0) < (wanted.firstIndex(of: identity(b)) ?? 0) }
    return placed + rest
}

private func stripDirectives(_ fields: [String: JSONValue]) -> [String: JSONValue] {
    fields.filter { !$0.key.hasPrefix("$") }.mapValues { value in
        if case .object(let sub) = value { return .object(stripDirectives(sub)) }
        return value
    }
}
