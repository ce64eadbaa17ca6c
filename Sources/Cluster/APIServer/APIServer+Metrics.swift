import APIMachinery
import AsyncHTTPClient
import Foundation
import JSON
import NIOCore

/// `metrics.k8s.io/v1beta1` (what `kubectl top node|pod` reads), served by the API server
/// itself from the node agents' `/stats/summary` (CPU as a rate the agent keeps from its
/// cgroup samples, memory as the working set), asked of every node at the time of the request.
/// Nothing is stored: a node whose agent does not answer is left out, as metrics-server does.
extension APIServer {
    func metricsRequest(_ request: APIRequest, _ r: Route.ResourceRoute, _ present: Presenter) async throws(APIError) -> APIResponse {
        guard request.method == "GET" else { throw .methodNotAllowed("metrics.k8s.io is read-only") }
        for key in request.query.keys where !["labelSelector", "fieldSelector", "pretty", "limit"].contains(key) {
            throw .badRequest("unknown query parameter \"\(key)\" for metrics.k8s.io")
        }
        if request.flag("watch") || r.watchPath { throw .methodNotAllowed("metrics.k8s.io cannot be watched") }
        let summaries = await nodeSummaries()
        let selector: LabelSelector?
        if let text = request.query["labelSelector"], !text.isEmpty {
            selector = try LabelSelector(parsing: text)
        } else {
            selector = nil
        }
        let isNodes = r.resource.kind == "NodeMetrics"
        var items: [JSONValue] = []
        if isNodes {
            guard let nodes = registry.resource(group: "", version: "v1", plural: "nodes") else { throw .notFound(path: request.path) }
            for (node, summary) in summaries {
                if let name = r.name, name != node { continue }
                if let selector {
                    guard let object = try? await objects.get(nodes, namespace: nil, name: node).0, selector.matches(object.labels) else { continue }
                }
                let usage = summary["node"] ?? .emptyObject
                items.append(["metadata": ["name": .string(node), "labels": .emptyObject], "timestamp": usage[path: ["cpu", "time"]] ?? .null,
                              "window": "10s", "usage": Self.usage(usage)])
            }
        } else {
            guard let pods = registry.resource(group: "", version: "v1", plural: "pods") else { throw .notFound(path: request.path) }
            for (_, summary) in summaries {
                for pod in summary["pods"]?.arrayValue ?? [] {
                    let name = pod[path: ["podRef", "name"]]?.stringValue ?? ""
                    let namespace = pod[path: ["podRef", "namespace"]]?.stringValue ?? ""
                    if let ns = r.namespace, ns != namespace { continue }
                    if let wanted = r.name, wanted != name { continue }
                    if let selector {
                        guard let object = try? await objects.get(pods, namespace: namespace, name: name).0,
                              selector.matches(object.labels) else { continue }
                    }
                    let containers: [JSONValue] = (pod["containers"]?.arrayValue ?? []).map { c in
                        ["name": c["name"] ?? "", "usage": Self.usage(c)]
                    }
                    items.append(["metadata": ["name": .string(name), "namespace": .string(namespace), "labels": .emptyObject],
                                  "timestamp": pod[path: ["cpu", "time"]] ?? .null, "window": "10s", "containers": .array(containers)])
                }
            }
        }
        items.sort { ($0[path: ["metadata", "namespace"]]?.stringValue ?? "", $0.name ?? "") < ($1[path: ["metadata", "namespace"]]?.stringValue ?? "", $1.name ?? "") }
        if let name = r.name {
            guard var item = items.first else {
                throw APIError(code: 404, reason: "NotFound",
                               message: "\(isNodes ? "nodemetrics" : "podmetrics").metrics.k8s.io \"\(name)\" not found")
            }
            item["kind"] = .string(isNodes ? "NodeMetrics" : "PodMetrics")
            item["apiVersion"] = "metrics.k8s.io/v1beta1"
            return present.encoded(200, item)
        }
        // JSON or protobuf, as the client asks (kubectl top asks for protobuf first).
        return present.encoded(200, ["kind": .string(isNodes ? "NodeMetricsList" : "PodMetricsList"), "apiVersion": "metrics.k8s.io/v1beta1",
                                   "metadata": .emptyObject, "items": .array(items)])
    }

    /// A summary entry's CPU rate and working set as quantities.
    static func usage(_ entry: JSONValue) -> JSONValue {
        let nanoCores = entry[path: ["cpu", "usageNanoCores"]]?.int64Value ?? 0
        let bytes = entry[path: ["memory", "workingSetBytes"]]?.int64Value ?? 0
        return ["cpu": .string("\(nanoCores)n"), "memory": .string("\(bytes / 1024)Ki")]
    }

    /// Every node agent's summary, asked concurrently (two seconds each at most).
    func nodeSummaries() async -> [(String, JSONValue)] {
        guard let nodes = registry.resource(group: "", version: "v1", plural: "nodes") else { return [] }
        let items = (try? await store.listAll(prefix: nodes.keyPrefix(namespace: nil)).items) ?? []
        let targets: [(String, String)] = items.compactMap { item in
            guard let node = try? ObjectStore.decode(item), let name = node.name, let agent = try? Self.nodeAgentAddress(node) else { return nil }
            return (name, agent)
        }
        let token = kubeletClientToken
        return await withTaskGroup(of: (String, JSONValue)?.self) { group in
            for (name, agent) in targets {
                group.addTask {
                    var request = HTTPClientRequest(url: "http://\(agent)/stats/summary")
                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                    guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok,
                          let body = try? await response.body.collect(upTo: 16 << 20),
                          let json = try? JSONValue.parse(Array(body.readableBytesView)) else { return nil }
                    return (name, json)
                }
            }
            var all: [(String, JSONValue)] = []
            for await result in group { if let result { all.append(result) } }
            return all.sorted { $0.0 < $1.0 }
        }
    }
}
