import APIMachinery
import Client
import Foundation
import Hummingbird
import HummingbirdWebSocket
import JSON
import NIOCore
import ServiceLifecycle

/// The agent's own API, what the API server proxies `kubectl logs`, `kubectl exec` and
/// `kubectl top` to:
///
///     GET /containerLogs/NAMESPACE/POD/CONTAINER?follow=&previous=&tailLines=&limitBytes=
///     GET /exec/NAMESPACE/POD/CONTAINER?command=…&stdin=&stdout=&stderr=&tty=  (WebSocket: NodeAgentExec.swift)
///     GET /stats/summary
///     GET /healthz
///
/// Every request but /healthz carries the bearer token the API server keeps in the Secret
/// kube-system/netplane-kubelet-client (read by the agent); anything else gets 401.
extension NodeAgentDaemon {
    static let clientSecret = (namespace: "kube-system", name: "netplane-kubelet-client")

    func serve() async {
        while !Task.isCancelled {
            do {
                try await runServer()
            } catch {
                if Task.isCancelled { return }
                daemon.logger.error("the agent's API cannot serve; trying again in 5 s",
                                    metadata: ["address": "\(settings.address):\(settings.port)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(5))
        }
    }

    /// Whether `request` carries the API server's token (re-read once if it does not match,
    /// so a restarted API server's new token is taken).
    func authorized(_ request: Request) async -> Bool {
        let header = request.headers[.authorization] ?? ""
        guard header.hasPrefix("Bearer ") else { return false }
        let presented = String(header.dropFirst(7))
        if let known = serverToken.withLock({ $0 }), known == presented { return true }
        let secret = try? await context.client.get(Secret.resource, namespace: Self.clientSecret.namespace, name: Self.clientSecret.name)
        let token = secret?[path: ["data", "token"]]?.stringValue.flatMap(Base64.decode).map { String(decoding: $0, as: UTF8.self) }
        serverToken.withLock { $0 = token }
        return token == presented && token != nil
    }

    func runServer() async throws {
        let router = Router()
        router.get("healthz") { _, _ in "ok" }
        router.get("containerLogs/:namespace/:pod/:container") { request, context -> Response in
            guard await self.authorized(request) else { return Self.plain(.unauthorized, "Unauthorized") }
            let namespace = context.parameters.get("namespace") ?? ""
            let name = context.parameters.get("pod") ?? ""
            let container = context.parameters.get("container") ?? ""
            let query = request.uri.queryParameters
            let flag = { (key: String) in query[key[...]].map { $0 == "true" || $0 == "1" } ?? false }
            for unsupported in ["timestamps", "sinceSeconds", "sinceTime"] where query[unsupported[...]] != nil && query[unsupported[...]] != "false" {
                return Self.plain(.badRequest, "\(unsupported) is not supported by netplane kubelet: container logs are kept without timestamps")
            }
            guard let worker = self.worker(namespace: namespace, name: name) else {
                return Self.plain(.notFound, "pod \(namespace)/\(name) is not running on node \(self.settings.nodeName)")
            }
            let previous = flag("previous")
            guard let path = await worker.logPath(container: container, previous: previous) else {
                let message = previous ? "previous terminated container \"\(container)\" in pod \"\(name)\" not found"
                                       : "container \"\(container)\" in pod \"\(name)\" is waiting to start"
                return Self.plain(.badRequest, message)
            }
            let tail = query["tailLines"].flatMap { Int($0) }
            let limit = query["limitBytes"].flatMap { Int($0) }
            let follow = flag("follow") && !previous
            let stream = Self.logStream(path: path, tail: tail, limit: limit, follow: follow) {
                await worker.isRunning(container: container) && !Task.isCancelled
            }
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody(asyncSequence: stream))
        }
        router.get("stats/summary") { request, _ -> Response in
            guard await self.authorized(request) else { return Self.plain(.unauthorized, "Unauthorized") }
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: await self.summary().jsonBytes())))
        }
        var quiet = daemon.logger
        quiet.logLevel = .warning
        // HTTP/1 with WebSocket upgrades for exec (execRouter); every other request goes to `router`.
        let app = Application(router: router,
                              server: .http1WebSocketUpgrade(webSocketRouter: execRouter(), configuration: Self.execChannelConfiguration),
                              configuration: .init(address: .hostname(settings.address, port: settings.port)), logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        try await group.run()
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    /// The file's contents (its last `tail` lines, at most `limit` bytes), then, when
    /// following, what is appended until the container ends.
    static func logStream(path: String, tail: Int?, limit: Int?, follow: Bool,
                          running: @escaping @Sendable () async -> Bool) -> AsyncStream<ByteBuffer> {
        AsyncStream { continuation in
            let task = Task {
                defer { continuation.finish() }
                guard let handle = FileHandle(forReadingAtPath: path) else { return }
                defer { try? handle.close() }
                var data = (try? handle.readToEnd()) ?? Data()
                if let tail { data = lastLines(data, tail) }
                var budget = LogBudget(limit: limit)
                guard budget.send(data, continuation), follow else { return }
                while !Task.isCancelled {
                    let more = (try? handle.readToEnd()) ?? Data()
                    if !more.isEmpty {
                        guard budget.send(more, continuation) else { return }
                        continue
                    }
                    guard await running() else {
                        // One last read: what the container wrote as it ended.
                        _ = budget.send((try? handle.readToEnd()) ?? Data(), continuation)
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The last `count` lines of `data`.
    static func lastLines(_ data: Data, _ count: Int) -> Data {
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let trailing = lines.last?.isEmpty == true ? 1 : 0
        let kept = lines.dropLast(trailing).suffix(max(0, count))
        return kept.isEmpty ? Data() : Data(kept.joined(separator: [UInt8(ascii: "\n")])) + Data([UInt8(ascii: "\n")])
    }

    /// limitBytes: what may still be sent.
    struct LogBudget {
        var limit: Int?
        var sent = 0

        /// Sends what the budget allows; false once it is spent.
        mutating func send(_ chunk: Data, _ continuation: AsyncStream<ByteBuffer>.Continuation) -> Bool {
            var chunk = chunk
            if let limit { chunk = chunk.prefix(max(0, limit - sent)) }
            if !chunk.isEmpty {
                sent += chunk.count
                continuation.yield(ByteBuffer(bytes: chunk))
            }
            return limit.map { sent < $0 } ?? true
        }
    }

    /// The summary the metrics API reads: the node's, each pod's and each container's CPU
    /// (cumulative, and a rate since the previous reading at least a second old) and working set.
    func summary() async -> JSONValue {
        let now = APITime.format(APITime.now())
        // Readings of cgroups that are gone (their pods ended) are not kept: the agent takes
        // one of every live cgroup every 10 s.
        let cutoff = Date().timeIntervalSince1970 - 120
        cpuSamples.withLock { $0 = $0.filter { $0.value.time >= cutoff } }
        func stats(_ path: String) -> (cpu: JSONValue, memory: JSONValue)? {
            guard let usage = AgentContext.usage(path) else { return nil }
            return (["time": .string(now), "usageCoreNanoSeconds": .int(Int64(usage.cpuNanos)),
                     "usageNanoCores": .int(Int64(cpuRate(path, usage.cpuNanos)))],
                    ["time": .string(now), "workingSetBytes": .int(Int64(usage.memoryBytes))])
        }
        var podStats: [JSONValue] = []
        for running in workers.withLock({ Array($0.values) }) {
            let worker = running.worker
            let uid = worker.uid
            guard let pod = stats(context.cgroupPath(uid)) else { continue }
            let parts = running.key.split(separator: "/", maxSplits: 1).map(String.init)
            var containerStats: [JSONValue] = []
            for (name, path) in await worker.containerCgroups().sorted(by: { $0.0 < $1.0 }) {
                guard let c = stats(path) else { continue }
                containerStats.append(["name": .string(name), "cpu": c.cpu, "memory": c.memory])
            }
            podStats.append(["podRef": ["name": .string(parts.last ?? ""), "namespace": .string(parts.first ?? ""), "uid": .string(uid)],
                             "cpu": pod.cpu, "memory": pod.memory, "containers": .array(containerStats)])
        }
        // The node's figure is what its pods use (the agent's cgroup parent): several test
        // nodes share one machine, whose own totals would say nothing about any of them.
        let node = stats(context.settings.cgroupParent) ?? (["time": .string(now)], ["time": .string(now)])
        return ["node": ["nodeName": .string(settings.nodeName), "cpu": node.cpu, "memory": node.memory], "pods": .array(podStats)]
    }

    /// Nanocores used by the cgroup at `path` since its previous reading (kept when the
    /// previous one is less than a second old, so frequent callers do not see noise).
    func cpuRate(_ path: String, _ nanos: UInt64) -> UInt64 {
        let now = Date().timeIntervalSince1970
        return cpuSamples.withLock { samples in
            guard let previous = samples[path] else {
                samples[path] = CPUSample(time: now, nanos: nanos, rate: 0)
                return 0
            }
            guard now - previous.time >= 1 else { return previous.rate }
            let rate = nanos >= previous.nanos ? UInt64(Double(nanos - previous.nanos) / (now - previous.time)) : 0
            samples[path] = CPUSample(time: now, nanos: nanos, rate: rate)
            return rate
        }
    }
}
