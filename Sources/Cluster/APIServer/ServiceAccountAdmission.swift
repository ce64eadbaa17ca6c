public import APIMachinery
import JSON
import Storage
import Synchronization

/// What kube-apiserver's ServiceAccount admission and kube-controller-manager's root CA
/// publisher give every pod: a service account (`default` unless it names one, which must
/// exist) and, unless automounting is off, the `kube-api-access-*` projected volume (a bound
/// token, the cluster CA from the `kube-root-ca.crt` ConfigMap, the namespace) mounted at
/// /var/run/secrets/kubernetes.io/serviceaccount in every container, which is where in-cluster
/// clients look. Every namespace gets its `default` ServiceAccount and `kube-root-ca.crt` when
/// it is made (here, not by controllers, so a pod made right after its namespace finds both).
extension APIServer {
    static let serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
    static let rootCAConfigMap = "kube-root-ca.crt"

    /// The PEM of the CA that signed this server's certificate, published into every
    /// namespace; until it is known (the HTTPS listener made it), nothing is published.
    public func publishRootCA(_ pem: String) async throws(APIError) {
        rootCA.withLock { $0 = pem }
        let namespaces = registry.resource(group: "", version: "v1", plural: "namespaces")!
        let items: [StoredObject]
        do { items = try await store.listAll(prefix: namespaces.keyPrefix).items } catch {
            throw ObjectStore.apiError(error, namespaces, "")
        }
        for item in items {
            guard let namespace = try? ObjectStore.decode(item), namespace.deletionTimestamp == nil, let name = namespace.name else { continue }
            try await populateNamespace(name)
        }
    }

    /// A new namespace's `default` ServiceAccount and CA ConfigMap (each made only if missing).
    func populateNamespace(_ namespace: String) async throws(APIError) {
        let accounts = registry.resource(group: "", version: "v1", plural: "serviceaccounts")!
        do {
            _ = try await create(accounts, namespace: namespace,
                                 ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "default", "namespace": .string(namespace)]])
        } catch where error.code == 409 {}
        guard let pem = rootCA.withLock({ $0 }) else { return }
        let configMaps = registry.resource(group: "", version: "v1", plural: "configmaps")!
        let data: JSONValue = ["ca.crt": .string(pem)]
        try await createOrChange(configMaps, [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": .string(Self.rootCAConfigMap), "namespace": .string(namespace),
                         "annotations": ["kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."]],
            "data": data,
        ]) { $0["data"] = data }
    }

    /// On a pod's create: its service account, which must exist, and the token volume.
    func admitServiceAccount(_ pod: inout JSONValue) async throws(APIError) {
        // A node's static pod (its mirror) runs without API credentials, as in Kubernetes.
        if pod[path: ["metadata", "annotations", "kubernetes.io/config.mirror"]] != nil { return }
        let namespace = pod.namespace ?? "default"
        let name = pod[path: ["spec", "serviceAccountName"]]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            ?? pod[path: ["spec", "serviceAccount"]]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        pod[path: ["spec", "serviceAccountName"]] = .string(name)
        pod[path: ["spec", "serviceAccount"]] = .string(name)
        // The account's automount setting: from the server's watch when it has the account,
        // else read (one made a moment ago on another server is not taken for missing).
        let accountAutomount: Bool?
        if let cached = serviceAccountCache.value("\(namespace)/\(name)") {
            accountAutomount = cached
        } else {
            let accounts = registry.resource(group: "", version: "v1", plural: "serviceaccounts")!
            do { accountAutomount = try await objects.get(accounts, namespace: namespace, name: name).0["automountServiceAccountToken"]?.boolValue } catch {
                guard error.code == 404 else { throw error }
                throw .forbidden("pods \"\(pod.name ?? "")\" is forbidden: error looking up service account \(namespace)/\(name): serviceaccount \"\(name)\" not found")
            }
        }
        let automount = pod[path: ["spec", "automountServiceAccountToken"]]?.boolValue ?? accountAutomount ?? true
        guard automount else { return }
        let lists = ["containers", "initContainers", "ephemeralContainers"]
        let mounted = lists.contains { list in
            (pod[path: ["spec", list]]?.arrayValue ?? []).contains { container in
                (container["volumeMounts"]?.arrayValue ?? []).contains { $0["mountPath"]?.stringValue == Self.serviceAccountMountPath }
            }
        }
        guard !mounted else { return }
        let volume = "kube-api-access-" + String(UIDGenerator.nameSuffix().prefix(5))
        var volumes = pod[path: ["spec", "volumes"]]?.arrayValue ?? []
        volumes.append([
            "name": .string(volume),
            "projected": [
                "defaultMode": 420,
                "sources": [
                    ["serviceAccountToken": ["expirationSeconds": 3607, "path": "token"]],
                    ["configMap": ["name": .string(Self.rootCAConfigMap), "items": [["key": "ca.crt", "path": "ca.crt"]]]],
                    ["downwardAPI": ["items": [["path": "namespace", "fieldRef": ["apiVersion": "v1", "fieldPath": "metadata.namespace"]]]]],
                ],
            ],
        ])
        pod[path: ["spec", "volumes"]] = .array(volumes)
        for list in lists {
            guard var containers = pod[path: ["spec", list]]?.arrayValue else { continue }
            for i in containers.indices {
                var mounts = containers[i]["volumeMounts"]?.arrayValue ?? []
                mounts.append(["name": .string(volume), "readOnly": true, "mountPath": .string(Self.serviceAccountMountPath)])
                containers[i]["volumeMounts"] = .array(mounts)
            }
            pod[path: ["spec", list]] = .array(containers)
        }
    }
}
