import APIMachinery
import JSON
import Synchronization

/// The built-in kinds' merge schemas, built once each (a write to an applied object needs its
/// kind's, and they never change).
private let builtinMergeSchemas = Mutex<[String: MergeSchema]>([:])

/// Who a write is recorded under in managedFields, and through which API version and
/// subresource (set for the length of one resource request).
struct FieldManager: Sendable {
    var name: String
    var apiVersion: String
    var subresource: String?
}

extension APIServer {
    @TaskLocal static var fieldManager: FieldManager?
    /// What the request's answer warns of (Warning headers, which kubectl prints).
    @TaskLocal static var warnings: Warnings?

    /// The manager of a write: `fieldManager`, else the first word of the User-Agent, as
    /// kube-apiserver records it (`kubectl`, `netplane`).
    static func fieldManager(_ request: APIRequest, _ view: ResourceType, subresource: String?) throws(APIError) -> FieldManager {
        let given = request.query["fieldManager"]
        if let given, given.utf8.count > 128 {
            throw APIError(code: 422, reason: "Invalid", message: "fieldManager: Too long: may not be more than 128 bytes")
        }
        if let given, given.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw APIError(code: 422, reason: "Invalid", message: "fieldManager: Invalid value: \"\(given)\": must only contain printable characters")
        }
        let agent = String(request.userAgent.prefix { $0 != "/" }.prefix(128))
        return FieldManager(name: given ?? (agent.isEmpty ? "unknown" : agent), apiVersion: view.apiVersion, subresource: subresource)
    }

    /// How the lists and maps of a resource's objects merge: a CRD's schema, or the
    /// built-in kinds' merge keys.
    func mergeSchema(_ resource: ResourceType) -> MergeSchema {
        if let custom = registry.custom(resource) { return custom.mergeSchema }
        if let built = builtinMergeSchemas.withLock({ $0[resource.kind] }) { return built }
        let schema = MergeSchema.builtin(kind: resource.kind)
        builtinMergeSchemas.withLock { $0[resource.kind] = schema }
        return schema
    }

    /// Records a non-apply write in the object's managedFields (for objects that have them:
    /// ownership is tracked from an object's first server-side apply on).
    func recordUpdate(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) {
        guard let manager = Self.fieldManager, current[path: ["metadata", "managedFields"]] != nil else { return }
        next = ServerSideApply.update(old: current, new: next, manager: manager.name, subresource: manager.subresource,
                                      apiVersion: manager.apiVersion, schema: mergeSchema(resource), now: APITime.format(APITime.now()),
                                      statusSubresource: resource.subresources.contains("status"))
    }

    /// PATCH with `application/apply-patch+yaml` (`kubectl apply --server-side`): the body is
    /// the manager's whole intent for the fields it names; merged into the live object (or
    /// creating it), with conflicts against other managers' fields refused (409) unless
    /// `force=true`.
    func serverSideApply(_ request: APIRequest, _ r: Route.ResourceRoute, name: String, resource: ResourceType,
                         present: Presenter, dryRun: Bool) async throws(APIError) -> (object: JSONValue, created: Bool) {
        let view = present.view
        guard let manager = request.query["fieldManager"], !manager.isEmpty else {
            throw APIError(code: 422, reason: "Invalid",
                           message: "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        }
        let force: Bool
        switch request.query["force"] {
        case nil, "false": force = false
        case "true": force = true
        case let other?: throw .badRequest("force=\(other): expected true or false")
        }
        var applied: JSONValue
        do { applied = try JSONValue.parse(request.body) } catch {
            // Not JSON: YAML, as kubectl sends it (the text is made only then).
            do { applied = try JSONValue.parse(yaml: String(decoding: request.body, as: UTF8.self)) } catch {
                throw .badRequest("the body of the request could not be decoded as YAML: \(error)")
            }
        }
        guard case .object = applied else { throw .badRequest("an apply patch must be an object") }
        guard applied["apiVersion"]?.stringValue != nil, applied["kind"]?.stringValue != nil else {
            throw .badRequest("apiVersion and kind must be set in an apply patch")
        }
        try checkKind(applied, view)
        if let given = applied.name, given != name {
            throw .badRequest("the name of the object (\(given)) does not match the name on the URL (\(name))")
        }
        applied.name = name
        try FieldValidation.check(applied, view, request, schema: registry.custom(view)?.schema)
        var scoped = applied
        try setNamespace(&scoped, r.namespace, resource)
        applied = scoped
        let schema = mergeSchema(view)
        let now = APITime.format(APITime.now())
        func merge(_ live: JSONValue?) throws(APIError) -> JSONValue {
            try ServerSideApply.apply(live: live, applied: applied, manager: manager, force: force, subresource: r.subresource,
                                      apiVersion: view.apiVersion, schema: schema, now: now,
                                      statusSubresource: view.subresources.contains("status"))
        }
        for _ in 0..<2 {
            do {
                // The apply records its own ownership; what defaulting adds next is nobody's.
                let updated = try await modify(resource, namespace: r.namespace, name: name, precondition: applied.resourceVersion,
                                               dryRun: dryRun, recordsUpdate: false) { object throws(APIError) in
                    let merged = present.stored(try merge(present.object(object)))
                    if r.subresource == "status" {
                        object["status"] = merged["status"]
                        object[path: ["metadata", "managedFields"]] = merged[path: ["metadata", "managedFields"]]
                    } else {
                        var next = merged
                        if resource.subresources.contains("status") { next["status"] = object["status"] }
                        object = next
                    }
                }
                return (updated, false)
            } catch let error where error.code == 404 && r.subresource == nil {
                // Nothing there yet: the apply creates it.
                do {
                    let created = try await create(resource, namespace: r.namespace, present.stored(try merge(nil)), dryRun: dryRun,
                                                   user: request.user, keepsManagedFields: true)
                    return (created, true)
                } catch let error where error.code == 409 && error.reason == "AlreadyExists" {
                    continue   // created meanwhile: apply onto it
                }
            }
        }
        throw .conflict(resource, name: name, "the object was created and deleted concurrently, try again")
    }
}
