public import APIMachinery
import JSON
public import NetAddress

/// The `kubernetes` Service in `default`, as kube-apiserver keeps it: ClusterIP the first
/// address of the service range, port 443 (`https`) to the API server's own port, and an
/// EndpointSlice (and the legacy Endpoints object) naming the address the API server
/// advertises. In-cluster clients (the official clients' in-cluster config, a pod's
/// `KUBERNETES_SERVICE_HOST`) reach the API through it and the node's service proxy.
extension APIServer {
    /// Labels kube-apiserver puts on the Service.
    static let kubernetesServiceLabels: JSONValue = ["component": "apiserver", "provider": "kubernetes"]

    /// The Service's ClusterIP: the first address of the service range.
    public var kubernetesServiceIP: IPAddress { options.serviceClusterIPRange.network.address.next }

    /// Creates or repairs the Service (its ClusterIP is allocated like any other, so no other
    /// Service can hold it once this ran) and points its endpoints at `advertise:port`. With
    /// no address to advertise (a server listening on loopback only), the slice stays empty.
    /// Run at every start: the port and the address may have changed.
    public func reconcileKubernetesService(advertise: IPAddress?, port: Int) async throws(APIError) {
        guard let services = registry.resource(group: "", version: "v1", plural: "services"),
              let slices = registry.resource(group: "discovery.k8s.io", version: "v1", plural: "endpointslices"),
              let endpoints = registry.resource(group: "", version: "v1", plural: "endpoints") else { return }
        let ip = JSONValue.string(kubernetesServiceIP.description)
        let servicePorts: JSONValue = [["name": "https", "port": 443, "protocol": "TCP", "targetPort": .int(Int64(port))]]
        let service: JSONValue = [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": "kubernetes", "namespace": "default", "labels": Self.kubernetesServiceLabels],
            "spec": ["type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "ports": servicePorts, "sessionAffinity": "None"],
        ]
        try await createOrChange(services, service) { $0[path: ["spec", "ports"]] = servicePorts }

        let family = kubernetesServiceIP.isIPv4 ? "IPv4" : "IPv6"
        let addresses: [String] = advertise.map { $0.isIPv4 == kubernetesServiceIP.isIPv4 ? [$0.description] : [] } ?? []
        let endpointPorts: JSONValue = [["name": "https", "port": .int(Int64(port)), "protocol": "TCP"]]
        let sliceEndpoints: JSONValue = .array(addresses.map { ["addresses": [.string($0)], "conditions": ["ready": true]] })
        let slice: JSONValue = [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": ["name": "kubernetes", "namespace": "default",
                         "labels": ["kubernetes.io/service-name": "kubernetes",
                                    "endpointslice.kubernetes.io/managed-by": "netplane-apiserver"]],
            "addressType": .string(family), "endpoints": sliceEndpoints, "ports": endpointPorts,
        ]
        try await createOrChange(slices, slice) { object in
            object["addressType"] = .string(family)
            object["endpoints"] = sliceEndpoints
            object["ports"] = endpointPorts
        }

        let subsets: JSONValue = addresses.isEmpty ? [] : [["addresses": .array(addresses.map { ["ip": .string($0)] }),
                                                           "ports": endpointPorts]]
        let legacy: JSONValue = [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": ["name": "kubernetes", "namespace": "default", "labels": Self.kubernetesServiceLabels],
            "subsets": subsets,
        ]
        try await createOrChange(endpoints, legacy) { $0["subsets"] = subsets }
    }

    /// Applies `change` to the object there, or creates `object` (changing first: a create
    /// would allocate the Service's ClusterIP before finding that the Service exists).
    func createOrChange(_ resource: ResourceType, _ object: JSONValue,
                        _ change: @escaping (inout JSONValue) -> Void) async throws(APIError) {
        do {
            _ = try await modify(resource, namespace: object.namespace, name: object.name ?? "", precondition: nil) { change(&$0) }
        } catch {
            guard error.code == 404 else { throw error }
            _ = try await create(resource, namespace: object.namespace, object)
        }
    }
}
