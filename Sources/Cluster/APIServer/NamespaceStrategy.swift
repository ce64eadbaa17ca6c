import APIMachinery
import JSON

/// A namespace is born with its `default` ServiceAccount and CA ConfigMap, and empties
/// itself before it goes (the service account, root CA publisher and namespace controllers'
/// jobs in Kubernetes; here the API server does them at once, so `kubectl delete namespace`
/// returns with it gone).
struct NamespaceStrategy: KindStrategy {
    /// Its `default` ServiceAccount and `kube-root-ca.crt`, so its first pod finds both.
    func created(_ object: JSONValue, in server: APIServer) async {
        guard let name = object.name else { return }
        try? await server.populateNamespace(name)
    }

    func beforeDelete(_ object: JSONValue, in server: APIServer) async throws(APIError) {
        let name = object.name ?? ""
        server.namespaceCache.forget(name)
        try await server.deleteNamespaceContents(name)
    }
}
