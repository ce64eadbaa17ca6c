public import APIMachinery
import AsyncHTTPClient
import Foundation
import JSON
import NIOCore
import NIOHTTP1

/// What the API server asks of node agents: a pod's container logs (`kubectl logs`, with
/// `-f`, `--previous`, `--tail`, `--limit-bytes`), read from the agent of the pod's node at
/// its InternalIP and the port the Node's status names, as kube-apiserver proxies them to the
/// kubelet. The agent accepts only the token the API server keeps in the Secret
/// kube-system/netplane-kubelet-client (made anew at every start).
extension APIServer {
    static let kubeletClientSecret = (namespace: "kube-system", name: "netplane-kubelet-client")
    static let logParameters: Set<String> = ["container", "follow", "previous", "tailLines", "limitBytes", "timestamps",
                                             "sinceSeconds", "sinceTime", "pretty", "insecureSkipTLSVerifyBackend"]

    /// Writes the Secret the node agents read the API server's token from.
    public func reconcileKubeletClientSecret() async throws(APIError) {
        guard let secrets = registry.resource(group: "", version: "v1", plural: "secrets") else { return }
        let data: JSONValue = ["token": .string(Base64.encode(ArraySlice(kubeletClientToken.utf8)))]
        let secret: JSONValue = [
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": ["name": .string(Self.kubeletClientSecret.name), "namespace": .string(Self.kubeletClientSecret.namespace)],
            "data": data,
        ]
        try await createOrChange(secrets, secret) { $0["data"] = data }
    }

    /// GET pods/NAME/log.
    func podLog(_ request: APIRequest, namespace: String, name: String) async throws(APIError) -> APIResponse {
        for key in request.query.keys.sorted() where !Self.logParameters.contains(key) {
            throw .badRequest("unknown query parameter \"\(key)\" for pods/log")
        }
        guard let pods = registry.resource(group: "", version: "v1", plural: "pods") else { throw .notFound(path: request.path) }
        let (pod, _) = try await objects.get(pods, namespace: namespace, name: name)
        let container = try Self.podContainer(of: pod, named: name, asked: request.query["container"] ?? "")
        let (nodeName, agent) = try await nodeAgent(of: pod, named: name)
        var query: [String] = []
        for key in ["follow", "previous", "tailLines", "limitBytes", "timestamps", "sinceSeconds", "sinceTime"] {
            if let value = request.query[key] {
                query.append("\(key)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)")
            }
        }
        let url = "http://\(agent)/containerLogs/\(namespace)/\(name)/\(container)"
            + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        var outbound = HTTPClientRequest(url: url)
        outbound.headers.add(name: "Authorization", value: "Bearer \(kubeletClientToken)")
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(outbound, timeout: .seconds(3600 * 24))
        } catch {
            throw .serviceUnavailable("cannot reach the node agent of \(nodeName) at \(agent): \(error)")
        }
        guard response.status == .ok else {
            var body = ""
            if let bytes = try? await response.body.collect(upTo: 65536) { body = String(buffer: bytes) }
            let message = body.trimmingCharacters(in: .whitespacesAndNewlines)
            throw response.status == .notFound ? .notFound(path: request.path) : .badRequest(message.isEmpty ? "node agent answered \(response.status)" : message)
        }
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream()
        let relay = Task {
            do {
                for try await chunk in response.body { continuation.yield(Array(chunk.readableBytesView)) }
            } catch {}
            continuation.finish()
        }
        continuation.onTermination = { _ in relay.cancel() }
        return .stream(contentType: "text/plain", stream)
    }

    /// The node a pod is bound to and its agent's address (kube-apiserver's message for a pod
    /// that has none).
    func nodeAgent(of pod: JSONValue, named name: String) async throws(APIError) -> (node: String, agent: String) {
        guard let nodeName = pod[path: ["spec", "nodeName"]]?.stringValue, !nodeName.isEmpty else {
            throw .badRequest("pod \(name) does not have a host assigned")
        }
        guard let nodes = registry.resource(group: "", version: "v1", plural: "nodes") else { throw .notFound(path: "/api/v1/nodes") }
        let (node, _) = try await objects.get(nodes, namespace: nil, name: nodeName)
        return (nodeName, try Self.nodeAgentAddress(node))
    }

    /// The container a log or exec request is for: the one asked for (any container of the pod, init and
    /// ephemeral ones included), else the pod's only container (kube-apiserver's
    /// streamLocation, its messages).
    static func podContainer(of pod: JSONValue, named name: String, asked: String) throws(APIError) -> String {
        func names(_ key: String) -> [String] {
            (pod[path: ["spec", key]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        }
        let regular = names("containers")
        let initContainers = names("initContainers")
        if asked.isEmpty {
            if regular.count == 1 { return regular[0] }
            guard !regular.isEmpty else { throw .badRequest("a container name must be specified for pod \(name)") }
            var message = "a container name must be specified for pod \(name), choose one of: [\(regular.joined(separator: " "))]"
            if !initContainers.isEmpty { message += " or one of the init containers: [\(initContainers.joined(separator: " "))]" }
            throw .badRequest(message)
        }
        guard (regular + initContainers + names("ephemeralContainers")).contains(asked) else {
            throw .badRequest("container \(asked) is not valid for pod \(name)")
        }
        return asked
    }

    /// A node agent's address, HOST:PORT (an IPv6 host in brackets): the Node's InternalIP
    /// (else its ExternalIP) and the port in status.daemonEndpoints.kubeletEndpoint.
    static func nodeAgentAddress(_ node: JSONValue) throws(APIError) -> String {
        let addresses = node[path: ["status", "addresses"]]?.arrayValue ?? []
        let preferred = addresses.first { $0["type"]?.stringValue == "InternalIP" } ?? addresses.first { $0["type"]?.stringValue == "ExternalIP" }
        guard let host = preferred?["address"]?.stringValue else {
            throw .badRequest("node \(node.name ?? "") has no InternalIP: no node agent to ask")
        }
        guard let port = node[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]]?.intValue, port > 0 else {
            throw .badRequest("node \(node.name ?? "") has no node agent (status.daemonEndpoints.kubeletEndpoint.Port is unset)")
        }
        return "\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}
