public import JSON

// MARK: - Merge schema

/// How lists and maps merge (kube's x-kubernetes-list-type / list-map-keys / map-type), the
/// part of a type's schema that server-side apply needs. Where a node says nothing, objects
/// merge key by key and lists are atomic, as SMD deduces for untyped values.
public struct MergeSchema: Sendable {
    public enum ListType: Sendable, Equatable { case atomic, set, map(keys: [String]) }

    /// For an array node; nil = atomic.
    public var list: ListType?
    /// x-kubernetes-map-type: atomic (granular otherwise).
    public var atomicMap: Bool
    /// The declared fields of an object node.
    public var fields: [String: MergeSchema]
    /// The schema of a list's elements.
    public var items: MergeSchema? {
        get { itemsBox.first }
        set { itemsBox = newValue.map { [$0] } ?? [] }
    }
    /// The schema of a map's values (additionalProperties): keys not in `fields` are map entries.
    public var values: MergeSchema? {
        get { valuesBox.first }
        set { valuesBox = newValue.map { [$0] } ?? [] }
    }
    /// The field's default, which fills a missing key field of a keyed list's element (a
    /// container port without `protocol` is keyed with "TCP").
    public var defaultValue: JSONValue?

    // Arrays, so the struct can hold itself.
    private var itemsBox: [MergeSchema] = []
    private var valuesBox: [MergeSchema] = []

    public init(list: ListType? = nil, atomicMap: Bool = false, fields: [String: MergeSchema] = [:],
                items: MergeSchema? = nil, values: MergeSchema? = nil, defaultValue: JSONValue? = nil) {
        self.list = list
        self.atomicMap = atomicMap
        self.fields = fields
        self.defaultValue = defaultValue
        self.items = items
        self.values = values
    }

    static let deduced = MergeSchema()

    /// The schema of an object's field (a declared field, else a map value).
    func field(_ name: String) -> MergeSchema { fields[name] ?? values ?? .deduced }
    var element: MergeSchema { items ?? .deduced }
    /// A declared (struct) field rather than a map entry. Fields of an object that declares no
    /// `values` count as declared: the built-in schemas name only the fields that merge.
    func isNamedField(_ name: String) -> Bool { fields[name] != nil || values == nil }
    var isAtomicList: Bool {
        switch list {
        case nil, .atomic?: true
        case .set?, .map?: false
        }
    }

    /// ObjectMeta: labels and annotations are maps, finalizers a set, ownerReferences keyed by uid.
    public static let objectMeta = MergeSchema(fields: [
        "labels": MergeSchema(values: MergeSchema()), "annotations": MergeSchema(values: MergeSchema()),
        "finalizers": MergeSchema(list: .set), "ownerReferences": MergeSchema(list: .map(keys: ["uid"])),
    ])

    /// A CRD's OpenAPI v3 schema node: x-kubernetes-list-type (lists without one are atomic),
    /// x-kubernetes-list-map-keys, x-kubernetes-map-type, properties, items, additionalProperties
    /// and defaults.
    public init(openAPIV3 json: JSONValue) {
        let o = json.objectValue ?? [:]
        self.init()
        switch o["x-kubernetes-list-type"]?.stringValue {
        case "set": list = .set
        case "map": list = .map(keys: o["x-kubernetes-list-map-keys"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        case "atomic": list = .atomic
        default: list = nil
        }
        atomicMap = o["x-kubernetes-map-type"]?.stringValue == "atomic"
        fields = (o["properties"]?.objectValue ?? [:]).mapValues(MergeSchema.init(openAPIV3:))
        if let itemsJSON = o["items"], case .object = itemsJSON { items = MergeSchema(openAPIV3: itemsJSON) }
        switch o["additionalProperties"] {
        case .bool(true)?: values = MergeSchema()
        case let schema? where schema.objectValue != nil: values = MergeSchema(openAPIV3: schema)
        default: break
        }
        defaultValue = o["default"]
    }

    /// From a strategic-merge-patch schema: a merge key makes a keyed list, a primitive merge a
    /// set, as kube-openapi falls back to the patch strategy where a type has no list type.
    init(patch: PatchSchema) {
        let fields = patch.fields.mapValues(MergeSchema.init(patch:))
        switch patch.listMerge {
        case nil: self.init(fields: fields)
        case .primitives: self.init(list: .set)
        case .byKey(let key): self.init(list: .map(keys: [key]), items: MergeSchema(fields: fields))
        }
    }

    /// Changes the node at a path of field names ("[]" steps into list elements), creating nodes.
    mutating func edit(_ path: ArraySlice<String>, _ body: (inout MergeSchema) -> Void) {
        guard let first = path.first else { return body(&self) }
        if first == "[]" {
            var element = items ?? MergeSchema()
            element.edit(path.dropFirst(), body)
            items = element
        } else {
            var child = fields[first] ?? MergeSchema()
            child.edit(path.dropFirst(), body)
            fields[first] = child
        }
    }

    /// A built-in kind's schema: PatchSchema.forKind's lists (a merge key becomes a keyed list,
    /// primitives a set, the rest atomic; objects granular), ObjectMeta's, and what the Go
    /// types' markers say differently from their patch tags: container and Service ports are
    /// keyed by port and protocol (defaulting to TCP), topology spread constraints by
    /// topologyKey and whenUnsatisfiable, label selectors of workloads and NetworkPolicies,
    /// Service selectors and pod node selectors are atomic.
    public static func builtin(kind: String) -> MergeSchema {
        var schema = MergeSchema(patch: PatchSchema.forKind(kind))
        schema.fields["metadata"] = .objectMeta
        func keyedByPortAndProtocol(_ path: [String], port: String) {
            schema.edit(path[...]) { ports in
                ports.list = .map(keys: [port, "protocol"])
                ports.edit(["[]", "protocol"]) { protocolField in protocolField.defaultValue = "TCP" }
            }
        }
        func podSpec(_ path: [String]) {
            schema.edit((path + ["nodeSelector"])[...]) { $0.atomicMap = true }
            for containers in ["containers", "initContainers", "ephemeralContainers"] {
                keyedByPortAndProtocol(path + [containers, "[]", "ports"], port: "containerPort")
            }
            schema.edit((path + ["topologySpreadConstraints"])[...]) { $0.list = .map(keys: ["topologyKey", "whenUnsatisfiable"]) }
        }
        func podTemplate(_ path: [String]) {
            schema.edit((path + ["metadata"])[...]) { $0 = .objectMeta }
            podSpec(path + ["spec"])
        }
        switch kind {
        case "Pod":
            podSpec(["spec"])
        case "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job":
            schema.edit(["spec", "selector"]) { $0.atomicMap = true }
            podTemplate(["spec", "template"])
        case "CronJob":
            schema.edit(["spec", "jobTemplate", "metadata"]) { $0 = .objectMeta }
            schema.edit(["spec", "jobTemplate", "spec", "selector"]) { $0.atomicMap = true }
            podTemplate(["spec", "jobTemplate", "spec", "template"])
        case "Service":
            keyedByPortAndProtocol(["spec", "ports"], port: "port")
            schema.edit(["spec", "selector"]) { $0.atomicMap = true }
        case "NetworkPolicy":
            schema.edit(["spec", "podSelector"]) { $0.atomicMap = true }
        default:
            break
        }
        return schema
    }
}

extension StructuralSchema {
    /// How this CRD version's lists and maps merge under server-side apply, with ObjectMeta's
    /// merge rules at `metadata` (as kube merges every custom resource's metadata).
    public var mergeSchema: MergeSchema {
        var schema = MergeSchema(openAPIV3: json)
        schema.fields["metadata"] = .objectMeta
        return schema
    }
}

// MARK: - Server-side apply

/// Kubernetes server-side apply over JSON trees: SMD's merge of an applied configuration into a
/// live object, field ownership recorded in `metadata.managedFields`, conflicts between
/// managers (409) and the removal of fields an applier stopped applying.
///
/// Tracked are the fields of an object except apiVersion, kind and metadata other than labels,
/// annotations, finalizers and ownerReferences; the main resource leaves `status` alone and
/// the status subresource tracks and applies only `status`. Field sets are version-agnostic
/// (no conversion between an entry's apiVersion and the request's).
public enum ServerSideApply {
    static let beforeFirstApply = "before-first-apply"
    static let ancientChanges = "ancient-changes"
    static let maxUpdateManagers = 10

    /// Applies `applied` (a partial object from a `kubectl apply --server-side`, already JSON) as `manager`
    /// onto `live` (nil when the object does not exist yet; then the result is the applied object + managedFields).
    /// Returns the merged object with metadata.managedFields set. Throws a 409 APIError on conflicts unless `force`.
    /// `subresource` is nil for the main resource, "status" for the status subresource.
    /// `now`: RFC3339 time for the entries' `time`. `apiVersion`: the request's group/version (e.g. "apps/v1").
    /// `statusSubresource`: whether the kind has a status subresource (the main resource then
    /// neither applies nor tracks `status`); for other kinds `status` is an ordinary field.
    public static func apply(live: JSONValue?, applied: JSONValue, manager: String, force: Bool, subresource: String?,
                             apiVersion: String, schema: MergeSchema, now: String,
                             statusSubresource: Bool = true) throws(APIError) -> JSONValue {
        guard case .object(let appliedFields) = applied else { throw .badRequest("an apply patch must be a JSON object") }
        if let given = applied[path: ["metadata", "managedFields"]], !given.isNull {
            throw .badRequest("metadata.managedFields must be nil")
        }
        let tracking = Tracking(subresource: subresource, statusSubresource: statusSubresource)
        let config = withoutManagedFields(.object(tracking.restrict(appliedFields)))
        let name = manager.isEmpty ? "unknown" : manager

        var entries = live.flatMap { ManagedEntry.decode($0[path: ["metadata", "managedFields"]]) } ?? []
        let liveObject = live.map(withoutManagedFields) ?? .emptyObject
        if entries.isEmpty, live != nil {
            // Ownership starts here: what the object already has belongs to before-first-apply.
            let existing = Structured.compare(.emptyObject, liveObject, schema)
            let owned = tracking.filter(existing.added.union(existing.modified))
            if !owned.isEmpty {
                entries.append(ManagedEntry(manager: beforeFirstApply, operation: .update, apiVersion: apiVersion,
                                            time: now, subresource: subresource, fields: owned))
            }
        }

        let appliedSet: FieldSet
        do throws(Structured.SchemaError) {
            appliedSet = try Structured.fieldSet(config, schema, strict: true)
        } catch {
            throw typedPatchError(error, applied, apiVersion)
        }
        let merged = Structured.merge(liveObject, config, schema) ?? config
        let ownSet = tracking.filter(appliedSet)
        let mine = ManagedEntry.ID(manager: name, operation: .apply, apiVersion: "", subresource: subresource ?? "")
        let lastSet: FieldSet?
        let me: Int
        if let index = entries.firstIndex(where: { $0.id == mine }) {
            lastSet = entries[index].fields
            entries[index].fields = ownSet
            entries[index].apiVersion = apiVersion
            me = index
        } else {
            lastSet = nil
            entries.append(ManagedEntry(manager: name, operation: .apply, apiVersion: apiVersion, time: nil,
                                        subresource: subresource, fields: ownSet))
            me = entries.count - 1
        }

        var result = merged
        if let lastSet, !lastSet.subtracting(ownSet).isEmpty {
            // Whatever is still applied, owned by someone, or the object's identity stays.
            var owned = appliedSet.union(identityPaths(merged))
            for entry in entries { owned = owned.union(entry.fields) }
            result = Structured.prune(merged, last: lastSet, owned: owned, schema)
        }

        let diff = tracking.filter(Structured.compare(liveObject, result, schema))
        let changed = diff.added.union(diff.modified)
        var conflicts: [(index: Int, paths: FieldSet)] = []
        if !changed.isEmpty {
            for index in entries.indices where index != me {
                let paths = entries[index].fields.intersection(changed)
                if !paths.isEmpty { conflicts.append((index, paths)) }
            }
        }
        if !conflicts.isEmpty, !force {
            throw conflictError(conflicts.map { (entries[$0.index], $0.paths) })
        }
        for conflict in conflicts {
            entries[conflict.index].fields = entries[conflict.index].fields.subtracting(conflict.paths)
        }
        if !diff.removed.isEmpty {
            for index in entries.indices where index != me {
                entries[index].fields = entries[index].fields.subtracting(diff.removed)
            }
        }
        if entries[me].time == nil || live == nil || !Structured.same(liveObject, result) {
            entries[me].time = now
        }
        entries.removeAll { $0.fields.isEmpty }
        return withManagedFields(result, entries)
    }

    /// A non-apply write (PUT, JSON/merge/strategic patch, scale, status) by `manager`: returns `new` with
    /// managedFields updated. When the object has no managedFields (it was never applied) it returns `new`
    /// unchanged (Netplane tracks field ownership from an object's first apply on). As kube: on
    /// the main resource a non-empty `metadata.managedFields` in `new` is taken as the client's
    /// (`[]` or `[{}]` resets them, here to untracked), a missing or invalid one falls back to
    /// old's; subresource writes always start from old's.
    public static func update(old: JSONValue, new: JSONValue, manager: String, subresource: String?,
                              apiVersion: String, schema: MergeSchema, now: String,
                              statusSubresource: Bool = true) -> JSONValue {
        let path = ["metadata", "managedFields"]
        let given = new[path: path]
        var entries: [ManagedEntry]
        if subresource != nil {
            entries = ManagedEntry.decode(old[path: path]) ?? []
        } else if let given, ManagedEntry.isReset(given) {
            entries = []
        } else if let given, let decoded = ManagedEntry.decode(given), !decoded.isEmpty {
            entries = decoded
        } else {
            entries = ManagedEntry.decode(old[path: path]) ?? []
        }
        let result = withoutManagedFields(new)
        if entries.isEmpty {
            return given == nil ? new : result
        }

        let tracking = Tracking(subresource: subresource, statusSubresource: statusSubresource)
        let diff = tracking.filter(Structured.compare(withoutManagedFields(old), result, schema))
        let changed = diff.added.union(diff.modified)
        let taken = changed.union(diff.removed)
        if !taken.isEmpty {
            for index in entries.indices {
                entries[index].fields = entries[index].fields.subtracting(taken)
            }
        }
        if !changed.isEmpty {
            let name = manager.isEmpty ? "unknown" : manager
            let mine = ManagedEntry.ID(manager: name, operation: .update, apiVersion: apiVersion, subresource: subresource ?? "")
            if let index = entries.firstIndex(where: { $0.id == mine }) {
                entries[index].fields = entries[index].fields.union(changed)
                entries[index].time = now
            } else {
                entries.append(ManagedEntry(manager: name, operation: .update, apiVersion: apiVersion, time: now,
                                            subresource: subresource, fields: changed))
            }
        }
        entries.removeAll { $0.fields.isEmpty }
        capUpdateManagers(&entries)
        return withManagedFields(result, entries)
    }

    // MARK: managedFields

    static func withoutManagedFields(_ object: JSONValue) -> JSONValue {
        guard object[path: ["metadata", "managedFields"]] != nil else { return object }
        var copy = object
        copy[path: ["metadata", "managedFields"]] = nil
        return copy
    }

    static func withManagedFields(_ object: JSONValue, _ entries: [ManagedEntry]) -> JSONValue {
        if entries.isEmpty { return withoutManagedFields(object) }
        var copy = object
        copy[path: ["metadata", "managedFields"]] = ManagedEntry.encode(entries)
        return copy
    }

    /// kube's capManagersManager: past ten Update entries, the oldest merge into an
    /// "ancient-changes" entry per API version.
    static func capUpdateManagers(_ entries: inout [ManagedEntry]) {
        let updaters = entries.filter { $0.operation == .update }
        guard updaters.count > maxUpdateManagers else { return }
        let oldestFirst = updaters.sorted { a, b in
            let (ta, tb) = (a.seconds, b.seconds)
            return ta != tb ? ta < tb : PathElement.byteOrder(a.identifier, b.identifier)
        }
        var firstOfVersion: [String: ManagedEntry.ID] = [:]
        var length = updaters.count
        for updater in oldestFirst where length > maxUpdateManagers {
            let version = updater.apiVersion
            let bucket = ManagedEntry.ID(manager: ancientChanges, operation: .update, apiVersion: version, subresource: "")
            guard let first = firstOfVersion[version] else {
                firstOfVersion[version] = updater.id
                continue
            }
            if !entries.contains(where: { $0.id == bucket }), let index = entries.firstIndex(where: { $0.id == first }) {
                entries[index].manager = ancientChanges
                entries[index].subresource = nil
            }
            guard let index = entries.firstIndex(where: { $0.id == bucket }),
                  let merged = entries.firstIndex(where: { $0.id == updater.id }) else { continue }
            entries[index].fields = entries[index].fields.union(updater.fields)
            entries[index].time = updater.time
            entries.remove(at: merged)
            length -= 1
        }
    }

    // MARK: errors

    /// kube's conflict error: grouped by manager (sorted by their identifiers) in the message,
    /// one FieldManagerConflict cause per path.
    static func conflictError(_ conflicts: [(ManagedEntry, FieldSet)]) -> APIError {
        let sorted = conflicts.sorted { PathElement.byteOrder($0.0.identifier, $1.0.identifier) }
        var causes: [JSONValue] = []
        var lines: [String] = []
        var single = ""
        for (entry, set) in sorted {
            let manager = entry.printed
            lines.append("conflicts with \(manager):")
            for path in set.paths {
                let field = FieldSet.string(path)
                causes.append(["reason": "FieldManagerConflict", "message": .string("conflict with \(manager)"), "field": .string(field)])
                lines.append("- \(field)")
                single = "conflict with \(manager): \(field)"
            }
        }
        let message = causes.count == 1
            ? "Apply failed with 1 conflict: \(single)"
            : "Apply failed with \(causes.count) conflicts: " + lines.joined(separator: "\n")
        return APIError(code: 409, reason: "Conflict", message: message, details: ["causes": .array(causes)])
    }

    /// An applied object SMD cannot type (a keyed list with duplicate keys or an element without
    /// them, a set of objects): kube reports it as an unclassified error (500).
    static func typedPatchError(_ error: Structured.SchemaError, _ applied: JSONValue, _ apiVersion: String) -> APIError {
        let namespace = applied[path: ["metadata", "namespace"]]?.stringValue ?? ""
        let name = applied[path: ["metadata", "name"]]?.stringValue ?? ""
        let kind = applied["kind"]?.stringValue ?? ""
        let groupVersion = apiVersion.contains("/") ? apiVersion : "/" + apiVersion
        return APIError(code: 500, reason: "",
                        message: "failed to create typed patch object (\(namespace)/\(name); \(groupVersion), Kind=\(kind)): \(error.text)")
    }

    /// apiVersion, kind and metadata other than what is tracked: never pruned.
    static func identityPaths(_ object: JSONValue) -> FieldSet {
        var set = FieldSet([[.field("apiVersion")], [.field("kind")], [.field("metadata")]])
        for key in (object["metadata"]?.objectValue ?? [:]).keys where !Tracking.metadataKept.contains(key) {
            set.insert([.field("metadata"), .field(key)])
        }
        return set
    }
}

// MARK: - Tracked fields

/// Which fields a request's managedFields track: kube's reset fields (status on the main
/// resource, all but status on the status subresource) and stripped metadata.
struct Tracking {
    var subresource: String?
    var statusSubresource: Bool

    static let metadataKept: Set<String> = ["labels", "annotations", "finalizers", "ownerReferences"]

    var onlyStatus: Bool { subresource == "status" }
    var dropsStatus: Bool { subresource != "status" && statusSubresource }

    func filter(_ set: FieldSet) -> FieldSet {
        let status = PathElement.field("status")
        if onlyStatus {
            var out = FieldSet()
            if set.members.contains(status) { out.members.insert(status) }
            if let below = set.children[status] { out.children[status] = below }
            return out
        }
        var out = set
        for name in ["apiVersion", "kind", "metadata"] {
            out.members.remove(.field(name))
        }
        out.children[.field("apiVersion")] = nil
        out.children[.field("kind")] = nil
        if dropsStatus {
            out.members.remove(status)
            out.children[status] = nil
        }
        if var metadata = out.children[.field("metadata")] {
            func kept(_ element: PathElement) -> Bool {
                if case .field(let name) = element { Self.metadataKept.contains(name) } else { false }
            }
            metadata.members = metadata.members.filter(kept)
            metadata.children = metadata.children.filter { kept($0.key) }
            out.children[.field("metadata")] = metadata.isEmpty ? nil : metadata
        }
        return out
    }

    func filter(_ comparison: Structured.Comparison) -> Structured.Comparison {
        Structured.Comparison(added: filter(comparison.added), modified: filter(comparison.modified),
                              removed: filter(comparison.removed))
    }

    /// What of an applied object is applied: its status alone on the status subresource, all
    /// but its status on the main resource of a kind with a status subresource.
    func restrict(_ applied: [String: JSONValue]) -> [String: JSONValue] {
        if onlyStatus { return applied["status"].map { ["status": $0] } ?? [:] }
        var out = applied
        if dropsStatus { out["status"] = nil }
        return out
    }
}

// MARK: - managedFields entries

/// One entry of `metadata.managedFields`.
struct ManagedEntry {
    enum Operation: String { case apply = "Apply", update = "Update" }

    var manager: String
    var operation: Operation
    var apiVersion: String
    var time: String?
    var subresource: String?
    var fields: FieldSet

    /// kube's manager identity: manager, operation, subresource, and for updates apiVersion.
    struct ID: Hashable {
        var manager: String
        var operation: Operation
        var apiVersion: String
        var subresource: String
    }

    var id: ID {
        ID(manager: manager, operation: operation, apiVersion: operation == .apply ? "" : apiVersion, subresource: subresource ?? "")
    }

    /// kube's BuildManagerIdentifier: the entry's identity as JSON, in ManagedFieldsEntry's field
    /// order, which orders conflicting managers in messages.
    var identifier: String {
        var out = "{"
        var first = true
        func add(_ key: String, _ value: String) {
            guard !value.isEmpty else { return }
            if !first { out += "," }
            first = false
            GoJSON.writeString(key, into: &out)
            out += ":"
            GoJSON.writeString(value, into: &out)
        }
        add("manager", manager)
        add("operation", operation.rawValue)
        if operation == .update { add("apiVersion", apiVersion) }
        add("subresource", subresource ?? "")
        return out + "}"
    }

    /// kube's printManager: `"m"`, `"m" with subresource "status"`, `"m" using apps/v1`.
    var printed: String {
        var out = GoText.quote(manager)
        if let subresource, !subresource.isEmpty { out += " with subresource \(GoText.quote(subresource))" }
        if operation == .update { out += " using \(apiVersion)" }
        return out
    }

    var seconds: Int { time.flatMap(APITime.parse) ?? 0 }

    /// `[]`, or one empty entry: a client resetting managedFields.
    static func isReset(_ value: JSONValue) -> Bool {
        guard case .array(let items) = value else { return false }
        return items.isEmpty || (items.count == 1 && items[0] == .emptyObject)
    }

    /// Entries of kube's wire form; nil when one is invalid (kube's DecodeManagedFields). A
    /// repeated identity keeps the last entry's fields, in the first one's place.
    static func decode(_ value: JSONValue?) -> [ManagedEntry]? {
        guard let value, !value.isNull else { return [] }
        guard case .array(let items) = value else { return nil }
        var entries: [ManagedEntry] = []
        var positions: [ID: Int] = [:]
        for item in items {
            guard case .object(let o) = item,
                  let operation = o["operation"]?.stringValue.flatMap(Operation.init(rawValue:)),
                  let apiVersion = o["apiVersion"]?.stringValue, !apiVersion.isEmpty,
                  o["fieldsType"]?.stringValue == "FieldsV1"
            else { return nil }
            let fields: FieldSet
            if let raw = o["fieldsV1"], !raw.isNull {
                guard let parsed = FieldSet(fieldsV1: raw) else { return nil }
                fields = parsed
            } else {
                fields = FieldSet()
            }
            let subresource = o["subresource"]?.stringValue ?? ""
            let entry = ManagedEntry(manager: o["manager"]?.stringValue ?? "", operation: operation, apiVersion: apiVersion,
                                     time: o["time"]?.stringValue, subresource: subresource.isEmpty ? nil : subresource,
                                     fields: fields)
            if let index = positions[entry.id] {
                entries[index] = entry
            } else {
                positions[entry.id] = entries.count
                entries.append(entry)
            }
        }
        return entries
    }

    /// The wire form, in kube's order: Apply entries before Update ones, then by time, manager,
    /// apiVersion and subresource.
    static func encode(_ entries: [ManagedEntry]) -> JSONValue {
        let sorted = entries.sorted { a, b in
            if a.operation != b.operation { return a.operation == .apply }
            if a.seconds != b.seconds { return a.seconds < b.seconds }
            if a.manager != b.manager { return PathElement.byteOrder(a.manager, b.manager) }
            if a.apiVersion != b.apiVersion { return PathElement.byteOrder(a.apiVersion, b.apiVersion) }
            return PathElement.byteOrder(a.subresource ?? "", b.subresource ?? "")
        }
        return .array(sorted.map(\.json))
    }

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "operation": .string(operation.rawValue), "apiVersion": .string(apiVersion),
            "fieldsType": "FieldsV1", "fieldsV1": fields.fieldsV1,
        ]
        if !manager.isEmpty { o["manager"] = .string(manager) }
        if let time { o["time"] = .string(time) }
        if let subresource, !subresource.isEmpty { o["subresource"] = .string(subresource) }
        return .object(o)
    }
}

// MARK: - Walks over typed values

/// SMD's typed-value operations over JSON trees and a MergeSchema: the field set of a value,
/// the merge of two, their comparison, and the removal of paths.
enum Structured {
    /// A value SMD cannot type (an applied configuration's bad keyed list or set).
    struct SchemaError: Error {
        var path: [PathElement]
        var message: String
        var text: String { path.isEmpty ? message : FieldSet.string(path) + ": " + message }
    }

    struct Comparison {
        var added = FieldSet()
        var modified = FieldSet()
        var removed = FieldSet()
    }

    enum Change { case added, modified, removed }

    // MARK: list elements

    /// The path element of each list element. Strictly (an applied object) a keyed element
    /// without its keys, a set's object, list or null element is an error; otherwise such an
    /// element is named by its index.
    static func elements(_ items: [JSONValue], _ schema: MergeSchema, strict: Bool,
                         path: [PathElement]) throws(SchemaError) -> [PathElement] {
        var out: [PathElement] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            switch element(item, schema) {
            case .success(let element): out.append(element)
            case .failure(let problem):
                if strict { throw SchemaError(path: path, message: "element \(i): \(problem.message)") }
                out.append(.index(i))
            }
        }
        return out
    }

    struct Problem: Error { var message: String }

    static func element(_ item: JSONValue, _ schema: MergeSchema) -> Result<PathElement, Problem> {
        switch schema.list {
        case .map(let keys)?:
            guard case .object(let o) = item else {
                return .failure(Problem(message: item.isNull ? "associative list with keys may not have a null element"
                                                             : "associative list with keys may not have non-map elements"))
            }
            var fields: [PathElement.KeyField] = []
            for key in keys {
                if let value = o[key] {
                    fields.append(.init(key, value))
                } else if let value = schema.items?.fields[key]?.defaultValue {
                    fields.append(.init(key, value))
                }
            }
            if fields.isEmpty, !keys.isEmpty {
                let quoted = "[" + keys.map(GoText.quote).joined(separator: " ") + "]"
                return .failure(Problem(message: "associative list with keys has an element that omits all key fields \(quoted) (and doesn't have default values for any key fields)"))
            }
            if fields.count > 1 { fields.sort { PathElement.byteOrder($0.name, $1.name) } }
            return .success(.key(fields))
        default:
            switch item {
            case .object: return .failure(Problem(message: "associative list without keys has an element that's a map type"))
            case .array: return .failure(Problem(message: "not supported: associative list with lists as elements"))
            case .null: return .failure(Problem(message: "associative list without keys has an element that's an explicit null"))
            default: return .success(.value(PathElement.canonical(item)))
            }
        }
    }

    // MARK: field sets

    /// SMD's ToFieldSet: leaves (scalars, atomic lists and maps, nulls, empty objects), list
    /// elements, and map entries that are not declared fields. Strict: an applied object, whose
    /// keyed lists must be valid and without duplicates.
    static func fieldSet(_ value: JSONValue, _ schema: MergeSchema, strict: Bool) throws(SchemaError) -> FieldSet {
        var path: [PathElement] = []
        return try fieldSet(value, schema, strict: strict, &path).set
    }

    static func lenientFieldSet(_ value: JSONValue, _ schema: MergeSchema) -> FieldSet {
        (try? fieldSet(value, schema, strict: false)) ?? FieldSet()
    }

    private static func fieldSet(_ value: JSONValue, _ schema: MergeSchema, strict: Bool,
                                 _ path: inout [PathElement]) throws(SchemaError) -> (set: FieldSet, leaf: Bool) {
        switch value {
        case .object(let o):
            if schema.atomicMap { return (FieldSet(), true) }
            var set = FieldSet()
            for (key, child) in o {
                let element = PathElement.field(key)
                path.append(element)
                let (below, leaf) = try fieldSet(child, schema.field(key), strict: strict, &path)
                path.removeLast()
                if leaf || child.isNull || child == .emptyObject || !schema.isNamedField(key) {
                    set.members.insert(element)
                }
                if !below.isEmpty { set.children[element] = below }
            }
            return (set, false)
        case .array(let items):
            if schema.isAtomicList { return (FieldSet(), true) }
            let names = try elements(items, schema, strict: strict, path: path)
            var seen = Set<PathElement>()
            var duplicated = Set<PathElement>()
            for element in names where !seen.insert(element).inserted {
                if strict { throw SchemaError(path: path, message: "duplicate entries for key \(element)") }
                duplicated.insert(element)
            }
            var set = FieldSet()
            let itemSchema = schema.element
            for (i, element) in names.enumerated() {
                set.members.insert(element)
                if duplicated.contains(element) { continue }
                path.append(element)
                let (below, _) = try fieldSet(items[i], itemSchema, strict: strict, &path)
                path.removeLast()
                if !below.isEmpty { set.children[element] = below }
            }
            return (set, false)
        default:
            return (FieldSet(), true)
        }
    }

    /// SMD's EnsureNamedFieldsAreMembers: a declared field with paths below it is a member too.
    static func ensureNamedFieldsAreMembers(_ set: FieldSet, _ schema: MergeSchema) -> FieldSet {
        if set.children.isEmpty { return set }
        var out = set
        for (element, below) in set.children {
            let childSchema: MergeSchema
            if case .field(let name) = element {
                childSchema = schema.field(name)
                if schema.isNamedField(name) { out.members.insert(element) }
            } else {
                childSchema = schema.element
            }
            out.children[element] = ensureNamedFieldsAreMembers(below, childSchema)
        }
        return out
    }

    // MARK: merge

    /// SMD's Merge with the applied value winning: objects merge key by key (atomic maps are
    /// replaced), keyed lists and sets element by element in SMD's order, everything else is
    /// replaced. `rhs` must be valid (see `fieldSet(strict:)`).
    static func merge(_ lhs: JSONValue?, _ rhs: JSONValue?, _ schema: MergeSchema) -> JSONValue? {
        guard let rhs else { return lhs }
        guard let lhs else { return rhs }
        switch (lhs, rhs) {
        case (.object(let l), .object(let r)):
            if schema.atomicMap || (l.isEmpty && r.isEmpty) { return rhs }
            var out = l
            for (key, value) in r {
                out[key] = merge(l[key], value, schema.field(key))
            }
            return .object(out)
        case (.array(let l), .array(let r)):
            if schema.isAtomicList || (l.isEmpty && r.isEmpty) { return rhs }
            return .array(mergeList(l, r, schema))
        default:
            return rhs
        }
    }

    /// SMD's list merge: the live order, except that elements both lists have come in the
    /// applied order, and new elements are placed where the applied list has them.
    private static func mergeList(_ lhs: [JSONValue], _ rhs: [JSONValue], _ schema: MergeSchema) -> [JSONValue] {
        let lElements = (try? elements(lhs, schema, strict: false, path: [])) ?? []
        let rElements = (try? elements(rhs, schema, strict: false, path: [])) ?? []
        var observedL: [PathElement: Int] = [:]   // -1: duplicated, merged with nothing
        observedL.reserveCapacity(lhs.count)
        for (i, element) in lElements.enumerated() {
            observedL[element] = observedL[element] == nil ? i : -1
        }
        var observedR: [PathElement: Int] = [:]
        observedR.reserveCapacity(rhs.count)
        for (i, element) in rElements.enumerated() where observedR[element] == nil {
            observedR[element] = i
        }
        let shared = rElements.filter { observedL[$0] != nil }
        var sharedIndex = 0
        var nextShared: PathElement? = shared.first
        func advanceShared() {
            sharedIndex += 1
            nextShared = sharedIndex < shared.count ? shared[sharedIndex] : nil
        }
        func liveElement(_ element: PathElement) -> JSONValue? {
            guard let i = observedL[element], i >= 0 else { return nil }
            return lhs[i]
        }
        let element = schema.element
        var mergedR = Set<PathElement>()
        var out: [JSONValue] = []
        out.reserveCapacity(max(lhs.count, rhs.count))
        var (lI, rI) = (0, 0)
        while lI < lhs.count || rI < rhs.count {
            if lI < lhs.count, rI < rhs.count {
                let pe = lElements[lI]
                if pe == rElements[rI] {
                    mergedR.insert(pe)
                    if let merged = merge(liveElement(pe), rhs[observedR[pe]!], element) { out.append(merged) }
                    lI += 1
                    rI += 1
                    advanceShared()
                    continue
                }
                if observedR[pe] != nil, let next = nextShared, next != pe {
                    lI += 1   // shared, but not the one wanted now
                    continue
                }
            }
            if lI < lhs.count {
                let pe = lElements[lI]
                if observedR[pe] == nil {
                    out.append(lhs[lI])
                    lI += 1
                    continue
                } else if mergedR.contains(pe) {
                    lI += 1
                }
            }
            if rI < rhs.count {
                let pe = rElements[rI]
                mergedR.insert(pe)
                if let merged = merge(liveElement(pe), rhs[observedR[pe]!], element) { out.append(merged) }
                rI += 1
                if nextShared == pe { advanceShared() }
            }
        }
        return out
    }

    // MARK: compare

    /// SMD's Compare: the leaves (and atomic lists and maps) added, modified or removed between
    /// two values, with the lists' elements and the objects added or removed as a whole.
    static func compare(_ lhs: JSONValue, _ rhs: JSONValue, _ schema: MergeSchema) -> Comparison {
        walk(lhs, rhs, schema).comparison
    }

    private static func walk(_ lhs: JSONValue?, _ rhs: JSONValue?,
                                _ schema: MergeSchema) -> (comparison: Comparison, change: Change?) {
        func absentOrNull(_ v: JSONValue?) -> Bool { v == nil || v == .null }
        let (lObject, rObject) = (lhs?.objectValue, rhs?.objectValue)
        let (lArray, rArray) = (lhs?.arrayValue, rhs?.arrayValue)
        let wholeSelf: Change? = lhs == nil ? .added : rhs == nil ? .removed : nil
        if lObject != nil || rObject != nil, lObject != nil || absentOrNull(lhs), rObject != nil || absentOrNull(rhs) {
            if schema.atomicMap || ((lObject?.isEmpty ?? true) && (rObject?.isEmpty ?? true)) {
                return (Comparison(), leafChange(lhs, rhs))
            }
            let (l, r) = (lObject ?? [:], rObject ?? [:])
            var comparison = Comparison()
            for (key, value) in l {
                let (below, change) = walk(value, r[key], schema.field(key))
                attach(&comparison, .field(key), below, change)
            }
            for (key, value) in r where l[key] == nil {
                let (below, change) = walk(nil, value, schema.field(key))
                attach(&comparison, .field(key), below, change)
            }
            return (comparison, wholeSelf)
        }
        if lArray != nil || rArray != nil, lArray != nil || absentOrNull(lhs), rArray != nil || absentOrNull(rhs) {
            if schema.isAtomicList || ((lArray?.isEmpty ?? true) && (rArray?.isEmpty ?? true)) {
                return (Comparison(), leafChange(lhs, rhs))
            }
            return (compareLists(lArray ?? [], rArray ?? [], schema), wholeSelf)
        }
        return (Comparison(), leafChange(lhs, rhs))
    }

    private static func leafChange(_ lhs: JSONValue?, _ rhs: JSONValue?) -> Change? {
        guard let lhs else { return .added }
        guard let rhs else { return .removed }
        return same(lhs, rhs) ? nil : .modified
    }

    private static func compareLists(_ lhs: [JSONValue], _ rhs: [JSONValue], _ schema: MergeSchema) -> Comparison {
        let lElements = (try? elements(lhs, schema, strict: false, path: [])) ?? []
        let rElements = (try? elements(rhs, schema, strict: false, path: [])) ?? []
        var order: [PathElement] = []
        var lGroups: [PathElement: [Int]] = [:]
        var rGroups: [PathElement: [Int]] = [:]
        for (i, element) in lElements.enumerated() {
            if lGroups[element] == nil { order.append(element) }
            lGroups[element, default: []].append(i)
        }
        for (i, element) in rElements.enumerated() {
            if rGroups[element] == nil, lGroups[element] == nil { order.append(element) }
            rGroups[element, default: []].append(i)
        }
        let itemSchema = schema.element
        var comparison = Comparison()
        for element in order {
            let l = lGroups[element] ?? [], r = rGroups[element] ?? []
            switch (l.count, r.count) {
            case (0...1, 0...1):
                let (below, change) = walk(l.first.map { lhs[$0] }, r.first.map { rhs[$0] }, itemSchema)
                attach(&comparison, element, below, change)
            case (2..., 2...):
                // Duplicates on both sides compare as one atomic value.
                if l.count != r.count || zip(l, r).contains(where: { !same(lhs[$0.0], rhs[$0.1]) }) {
                    comparison.modified.members.insert(element)
                }
            case (2..., _):
                if let first = r.first {
                    let (below, change) = walk(nil, rhs[first], itemSchema)
                    attach(&comparison, element, below, change)
                }
                comparison.removed.members.insert(element)
            default:
                if let first = l.first {
                    let (below, change) = walk(lhs[first], nil, itemSchema)
                    attach(&comparison, element, below, change)
                }
                comparison.added.members.insert(element)
            }
        }
        return comparison
    }

    private static func attach(_ comparison: inout Comparison, _ element: PathElement, _ below: Comparison, _ change: Change?) {
        if !below.added.isEmpty { comparison.added.children[element] = below.added }
        if !below.modified.isEmpty { comparison.modified.children[element] = below.modified }
        if !below.removed.isEmpty { comparison.removed.children[element] = below.removed }
        switch change {
        case .added?: comparison.added.members.insert(element)
        case .modified?: comparison.modified.members.insert(element)
        case .removed?: comparison.removed.members.insert(element)
        case nil: break
        }
    }

    /// Value equality with an integral float equal to the integer, as SMD compares values.
    static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { same(value, $0) } ?? false }
        default: return a == b
        }
    }

    // MARK: removal

    /// SMD's RemoveItems: the value without the paths of `set` (a member path goes with all
    /// below it). An object or list emptied by the removal goes too (nil).
    static func remove(_ value: JSONValue, _ set: FieldSet, _ schema: MergeSchema) -> JSONValue? {
        if set.isEmpty { return value }
        switch value {
        case .object(let o):
            if schema.atomicMap || o.isEmpty { return value }
            var out = o
            for element in set.members {
                if case .field(let key) = element { out[key] = nil }
            }
            for (element, below) in set.children {
                guard case .field(let key) = element, !set.members.contains(element), let child = out[key] else { continue }
                out[key] = remove(child, below, schema.field(key))
            }
            return out.isEmpty ? nil : .object(out)
        case .array(let items):
            if schema.isAtomicList || items.isEmpty { return value }
            let names = (try? elements(items, schema, strict: false, path: [])) ?? []
            let itemSchema = schema.element
            var out: [JSONValue] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() {
                let element = names[i]
                if set.members.contains(element) { continue }
                if let below = set.children[element] {
                    out.append(remove(item, below, itemSchema) ?? .emptyObject)
                } else {
                    out.append(item)
                }
            }
            return out.isEmpty ? nil : .array(out)
        default:
            return value
        }
    }

    /// SMD's prune on apply: removes from `merged` what the applier applied last time (`last`)
    /// and no longer does, unless someone still owns it (`owned`: every manager's fields and
    /// what this apply names). Three removals, as SMD: everything last applied, then put back
    /// what is owned or was not removed because of `last`, then remove from the merged object
    /// only what that left removed and `last` had.
    static func prune(_ merged: JSONValue, last: FieldSet, owned: FieldSet, _ schema: MergeSchema) -> JSONValue {
        let lastNamed = ensureNamedFieldsAreMembers(last, schema)
        let ownedNamed = ensureNamedFieldsAreMembers(owned, schema)
        let mergedSet = ensureNamedFieldsAreMembers(lenientFieldSet(merged, schema), schema)

        let pruned = remove(merged, lastNamed, schema) ?? .emptyObject
        let prunedSet = ensureNamedFieldsAreMembers(lenientFieldSet(pruned, schema), schema)
        let ownedBack = remove(merged, mergedSet.subtracting(prunedSet.union(ownedNamed)), schema) ?? .emptyObject
        let ownedBackSet = ensureNamedFieldsAreMembers(lenientFieldSet(ownedBack, schema), schema)
        return remove(merged, mergedSet.subtracting(ownedBackSet).intersection(lastNamed), schema) ?? .emptyObject
    }
}
