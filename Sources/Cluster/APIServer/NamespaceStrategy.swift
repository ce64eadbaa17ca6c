import APIMachinery
import JSON

/// A namespace empties itself before it goes (the namespace controller's job in Kubernetes;
/// here the API server does it at once, so `kubectl delete namespace` returns with it gone).
struct NamespaceStrategy: KindStrategy {
    func beforeDelete(_ object: JSONValue, in server: APIServer) async throws(APIError) {
        let name = object.name ?? ""
        server.namespaceCache.forget(name)
        try await server.deleteNamespaceContents(name)
    }
}
