import APIMachinery
import JSON
import Storage

/// CustomResourceDefinitions: kube's defaults and validation, the status kube's naming and
/// establishing controllers would write (here part of the write itself, so a CRD is
/// Established when its create returns), names that no other CRD of the group holds, and on
/// delete its custom objects go first (kube's customresourcecleanup finalizer).
struct CustomResourceDefinitionStrategy: KindStrategy {
    func normalize(_ object: inout JSONValue, _ resource: ResourceType) {
        CustomResourceDefinitions.applyDefaults(&object)
    }

    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) {
        var defaulted = object
        CustomResourceDefinitions.applyDefaults(&defaulted)
        object["status"] = CustomResourceDefinitions.status(for: defaulted, previous: nil, now: APITime.format(APITime.now()))
    }

    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError) {
        var defaulted = next
        CustomResourceDefinitions.applyDefaults(&defaulted)
        next["status"] = CustomResourceDefinitions.status(for: defaulted, previous: current, now: APITime.format(APITime.now()))
    }

    func validate(_ object: JSONValue, old: JSONValue?) -> [FieldError] {
        CustomResourceDefinitions.validate(object, old: old)
    }

    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError) {
        for version in object[path: ["spec", "versions"]]?.arrayValue ?? [] {
            guard let schema = version[path: ["schema", "openAPIV3Schema"]] else { continue }
            let rules = StructuralSchema.celRulePaths(schema)
            if !rules.isEmpty {
                APIServer.warnings?.add("version \(version["name"]?.stringValue ?? ""): x-kubernetes-validations rules are stored and published but not evaluated by this server (it does not run CEL): \(rules.joined(separator: ", "))")
            }
        }
        let group = object[path: ["spec", "group"]]?.stringValue ?? ""
        let kind = object[path: ["spec", "names", "kind"]]?.stringValue ?? ""
        let registry = server.registry
        var errors: [FieldError] = []
        if ResourceRegistry.builtin.resources.contains(where: { $0.group == group }) {
            errors.append(.invalid("spec.group", group, "is served by this server's built-in API"))
        }
        if let taken = registry.customResources.first(where: { $0.resource.group == group && $0.resource.kind == kind && $0.crdName != object.name }) {
            errors.append(.invalid("spec.names.kind", kind, "is already in use by customresourcedefinition \(taken.crdName)"))
        }
        if !errors.isEmpty { throw .invalid(resource, name: object.name ?? "", errors) }
    }

    /// The CRD's objects go before it does, through the store (their watchers see each
    /// DELETED), whatever versions are served.
    func beforeDelete(_ object: JSONValue, in server: APIServer) async throws(APIError) {
        guard let group = object[path: ["spec", "group"]]?.stringValue, let plural = object[path: ["spec", "names", "plural"]]?.stringValue,
              let kind = object[path: ["spec", "names", "kind"]]?.stringValue else { return }
        let namespaced = object[path: ["spec", "scope"]]?.stringValue == "Namespaced"
        let version = object[path: ["spec", "versions"]]?.arrayValue?.first?["name"]?.stringValue ?? "v1"
        var stored = ResourceType(group: group, version: version, plural: plural, singular: "", kind: kind, namespaced: namespaced)
        stored.isCustom = true
        try await server.deleteAll(stored)
    }
}

/// The objects of one custom resource version: pruned, defaulted and validated by its CRD's
/// structural schema, as kube-apiserver's apiextensions strategy does.
struct CustomResourceStrategy: KindStrategy {
    let custom: CustomResource

    func normalize(_ object: inout JSONValue, _ resource: ResourceType) {
        custom.schema.normalize(&object)
    }

    func validate(_ object: JSONValue, old: JSONValue?) -> [FieldError] {
        custom.schema.validate(object)
    }
}

extension APIServer {
    /// Deletes every object of a resource in a namespace (all of them if nil), page by page,
    /// through the store, so their watchers see each DELETED.
    func deleteAll(_ resource: ResourceType, namespace: String? = nil) async throws(APIError) {
        let items: [StoredObject]
        do { items = try await store.listAll(prefix: resource.keyPrefix(namespace: namespace)).items } catch {
            throw ObjectStore.apiError(error, resource, namespace ?? "")
        }
        for item in items {
            guard let object = try? ObjectStore.decode(item) else { continue }
            _ = try? await objects.delete(resource, namespace: object.namespace, name: object.name ?? "", ifRevision: nil)
            await strategy(for: resource).deleted(object, in: self)
        }
    }
}
