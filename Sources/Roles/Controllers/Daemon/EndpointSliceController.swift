import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The EndpointSlice and Endpoints controllers of `netplane controllers`: for every Service
/// with a selector, the slices (and the legacy Endpoints object) `EndpointSlices` computes
/// from the pods it selects. Only slices labelled as this controller's are touched (a user's
/// slice for a Service without a selector is never), and only Endpoints labelled as the
/// endpoint controller's are deleted.
public final class EndpointSliceController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let services: Informer<Service>
    let pods: Informer<Pod>
    let slices: Informer<EndpointSlice>
    let endpoints: Informer<Endpoints>
    let nodes: Informer<Node>
    let maxPerSlice: Int
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    public init(daemon: Daemon, resyncPeriod: Duration, maxEndpointsPerSlice: Int = 100) {
        self.daemon = daemon
        self.maxPerSlice = maxEndpointsPerSlice
        let work = work
        let byNamespace: [String: Informer<Service>.IndexFunction] = [Self.namespaceIndex: { [$0.namespace ?? ""] }]
        services = daemon.informer(Service.self, indexers: byNamespace) { event in work.mark(event.object.cacheKey) }
        // A pod change concerns the Services of its namespace that select it (before or after).
        let services = services
        pods = daemon.informer(Pod.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            var versions = [event.object]
            if case .updated(let old, _) = event { versions.append(old) }
            for service in services.byIndex(Self.namespaceIndex, event.object.namespace ?? "")
            where versions.contains(where: { Self.matches(service, $0) }) {
                work.mark(service.cacheKey)
            }
        }
        slices = daemon.informer(EndpointSlice.self,
                                 options: ListOptions(labelSelector: "\(EndpointSlices.managedByLabel)=\(EndpointSlices.managedBy)")) { event in
            if let name = event.object.serviceName { work.mark("\(event.object.namespace ?? "")/\(name)") }
        }
        endpoints = daemon.informer(Endpoints.self) { event in work.mark(event.object.cacheKey) }
        // Zones come from the nodes' topology label: a change there is a change for every Service.
        nodes = daemon.informer(Node.self) { event in
            if case .updated(let old, let new) = event, old.labels[Self.zoneLabel] == new.labels[Self.zoneLabel] { return }
            work.markFull()
        }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "endpointslice"))
    }

    static let zoneLabel = "topology.kubernetes.io/zone"
    static let namespaceIndex = "namespace"

    static func matches(_ service: Service, _ pod: Pod) -> Bool {
        let selector = service.selector
        return !selector.isEmpty && pod.namespace == service.namespace && selector.allSatisfy { pod.labels[$0.key] == $0.value }
    }

    public func run() async throws {
        guard await daemon.cachesSynced() else { return }
        try await loop.run(setup: {}) { _, pass in
            var keys = pass.dirty
            if pass.full {
                keys.formUnion(services.list().map(\.cacheKey))
                keys.formUnion(slices.list().compactMap { slice in slice.serviceName.map { "\(slice.namespace ?? "")/\($0)" } })
                keys.formUnion(endpoints.list().filter { $0.labels[EndpointSlices.endpointsManagedByLabel] != nil }.map(\.cacheKey))
            }
            // Every Service of the pass reads the same node zones.
            var zones: [String: String] = [:]
            for node in nodes.list() { if let zone = node.labels[Self.zoneLabel] { zones[node.name] = zone } }
            try await reconcile(keys, work, "endpoint slices") { key throws(ClientError) in try await sync(key, zones: zones) }
        }
    }

    /// Brings one Service's slices and Endpoints to what its pods say.
    func sync(_ key: String, zones: [String: String]) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key) else { return }
        let owned = slices.list().filter { $0.namespace == namespace && $0.serviceName == name }
        guard let service = services.get(namespace: namespace, name: name), !service.selector.isEmpty,
              service.deletionTimestamp == nil else {
            // No Service, or one whose endpoints its users write: nothing of ours stays.
            for slice in owned { try await deleteIfPresent(EndpointSlice.resource, namespace, slice.name) }
            if let mine = endpoints.get(namespace: namespace, name: name), mine.labels[EndpointSlices.endpointsManagedByLabel] != nil {
                try await deleteIfPresent(Endpoints.resource, namespace, name)
            }
            return
        }
        let selected = EndpointSlices.selected(service, from: pods.byIndex(Self.namespaceIndex, namespace))
        let desired = EndpointSlices.desired(service, pods: selected, zones: zones, maxPerSlice: maxPerSlice)
        for change in EndpointSlices.changes(service, desired: desired, existing: owned) {
            switch change {
            case .create(let body):
                _ = try await client.create(EndpointSlice.resource, body)
            case .update(let body):
                _ = try await client.update(EndpointSlice.resource, body)
            case .delete(let sliceName):
                try await deleteIfPresent(EndpointSlice.resource, namespace, sliceName)
            }
        }
        try await syncEndpoints(service, selected)
    }

    /// The legacy Endpoints object: written when it differs; a user's object of the same name
    /// (without our label) is taken over only when the Service has a selector, as Kubernetes does.
    func syncEndpoints(_ service: Service, _ selected: [Pod]) async throws(ClientError) {
        var wanted = EndpointSlices.endpoints(service, pods: selected)
        if let current = endpoints.get(namespace: service.namespace, name: service.name) {
            if current.json["subsets"] == wanted["subsets"], current.labels == wanted.labels,
               current.annotations[EndpointSlices.overCapacityAnnotation] == wanted.annotations[EndpointSlices.overCapacityAnnotation] {
                return
            }
            // Keep the user's other annotations; ours is set or cleared.
            var annotations = current.annotations
            annotations[EndpointSlices.overCapacityAnnotation] = wanted.annotations[EndpointSlices.overCapacityAnnotation]
            wanted[path: ["metadata", "annotations"]] = annotations.isEmpty ? nil : .object(annotations.mapValues(JSONValue.string))
            wanted.resourceVersion = current.resourceVersion
            _ = try await client.update(Endpoints.resource, wanted)
        } else {
            _ = try await client.create(Endpoints.resource, wanted)
        }
    }

    func deleteIfPresent(_ resource: ResourceType, _ namespace: String, _ name: String) async throws(ClientError) {
        do { try await client.delete(resource, namespace: namespace, name: name) } catch { if !error.isNotFound { throw error } }
    }
}
