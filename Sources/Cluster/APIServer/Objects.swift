import JSON
import APIMachinery
import Storage

/// API objects over the key-value store: stored as JSON without `resourceVersion`, which is
/// the store's mod revision and is put back on every read.
struct ObjectStore: Sendable {
    let store: any Store

    static func decode(_ stored: StoredObject) throws(APIError) -> JSONValue {
        var object: JSONValue
        do {
            object = try JSONValue.parse(stored.value)
        } catch {
            throw .internalError("stored object \(stored.key) is not JSON: \(error)")
        }
        object.resourceVersion = String(stored.modRevision)
        return object
    }

    static func encode(_ object: JSONValue) -> [UInt8] {
        var copy = object
        copy[path: ["metadata", "resourceVersion"]] = nil
        return copy.jsonBytes()
    }

    func get(_ resource: ResourceType, namespace: String?, name: String) async throws(APIError) -> (JSONValue, Int64) {
        let stored: StoredObject
        do { stored = try await store.get(resource.key(namespace: namespace, name: name)) } catch {
            throw Self.apiError(error, resource, name)
        }
        return (try Self.decode(stored), stored.modRevision)
    }

    func create(_ resource: ResourceType, _ object: JSONValue) async throws(APIError) -> JSONValue {
        let name = object.name ?? ""
        do {
            let stored = try await store.create(resource.key(namespace: object.namespace, name: name), value: Self.encode(object))
            var created = object
            created.resourceVersion = String(stored.modRevision)
            return created
        } catch {
            throw Self.apiError(error, resource, name)
        }
    }

    /// Writes `object` if the stored one is still at `revision`.
    func update(_ resource: ResourceType, _ object: JSONValue, ifRevision revision: Int64) async throws(APIError) -> JSONValue {
        let name = object.name ?? ""
        do {
            let stored = try await store.update(resource.key(namespace: object.namespace, name: name),
                                                value: Self.encode(object), ifRevision: revision)
            var updated = object
            updated.resourceVersion = String(stored.modRevision)
            return updated
        } catch {
            throw Self.apiError(error, resource, name)
        }
    }

    /// Removes the object if still at `revision`; returns it with the deletion's revision.
    func delete(_ resource: ResourceType, namespace: String?, name: String, ifRevision revision: Int64?) async throws(APIError) -> JSONValue {
        let stored: StoredObject
        do { stored = try await store.delete(resource.key(namespace: namespace, name: name), ifRevision: revision) } catch {
            throw Self.apiError(error, resource, name)
        }
        return try Self.decode(stored)
    }

    static func apiError(_ error: StoreError, _ resource: ResourceType, _ name: String) -> APIError {
        switch error.kind {
        case .notFound: .notFound(resource, name: name)
        case .alreadyExists: .alreadyExists(resource, name: name)
        case .conflict: .conflict(resource, name: name, "the object has been modified; please apply your changes to the latest version and try again")
        case .compacted: .gone(error.message)
        case .backend: .internalError(error.message)
        }
    }
}
