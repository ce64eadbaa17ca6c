public import APIMachinery
@_exported public import APITypes
public import JSON

/// Typed verbs: the same calls as APIClient's, taking and giving KubernetesObject values.
extension APIClient {
    public func get<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil, name: String) async throws(ClientError) -> T {
        T(json: try await get(T.resource, namespace: namespace, name: name))
    }

    public func list<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil,
                                          options: ListOptions = .init(limit: 500)) async throws(ClientError) -> [T] {
        try await listAll(T.resource, namespace: namespace, options: options).items.map(T.init(json:))
    }

    public func create<T: KubernetesObject>(_ object: T) async throws(ClientError) -> T {
        T(json: try await create(T.resource, object.json))
    }

    public func update<T: KubernetesObject>(_ object: T) async throws(ClientError) -> T {
        T(json: try await update(T.resource, object.json))
    }

    public func updateStatus<T: KubernetesObject>(_ object: T) async throws(ClientError) -> T {
        T(json: try await update(T.resource, object.json, subresource: "status"))
    }

    public func patch<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil, name: String, _ patch: JSONValue,
                                           type patchType: PatchType = .merge) async throws(ClientError) -> T {
        T(json: try await self.patch(T.resource, namespace: namespace, name: name, patch, type: patchType))
    }

    public func delete<T: KubernetesObject>(_ type: T.Type, namespace: String? = nil, name: String,
                                            gracePeriodSeconds: Int? = nil) async throws(ClientError) {
        try await delete(T.resource, namespace: namespace, name: name, gracePeriodSeconds: gracePeriodSeconds)
    }
}

