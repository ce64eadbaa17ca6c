import AsyncHTTPClient
import Foundation
import JSON
import NIOCore
import NIOPosix
import Synchronization

/// etcd's v3 API through the JSON gateway every etcd 3.4 member serves on its client port
/// (`POST /v3/kv/range`, `/v3/kv/txn`, `/v3/watch`, …: the gRPC messages as JSON, bytes in
/// base64, 64-bit integers as strings).
///
/// Failover: calls go to the member that answered last; when it cannot be reached, or says it
/// has no leader, the next member is tried, round the list, until `patience` runs out. A call
/// whose connection broke after it was sent may have been applied: etcd's own client has the
/// same ambiguity, and a retried create then answers "already exists".
final class EtcdClient: Sendable {
    let endpoints: [String]
    let http: HTTPClient
    /// Index (into `endpoints`) of the member to try first.
    private let preferred = Atomic<Int>(0)
    static let patience = Duration.seconds(20)

    init(endpoints: [String]) {
        self.endpoints = endpoints
        var config = HTTPClient.Configuration()
        // Enough connections that 32 concurrent API clients never queue behind each other;
        // no read timeout, since a watch may be silent for an hour.
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 96)
        config.timeout = .init(connect: .seconds(2), read: nil)
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: config)
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    /// One unary call (`method` is the gateway path after /v3/, e.g. "kv/txn").
    func call(_ method: String, _ body: JSONValue) async throws(StoreError) -> JSONValue {
        let deadline = ContinuousClock.now + Self.patience
        let payload = body.jsonBytes()
        var tried = 0
        while true {
            let index = preferred.load(ordering: .relaxed)
            let outcome = await attempt(endpoints[index], method, payload)
            switch outcome {
            case .success(let reply):
                return reply
            case .failure(let error) where !error.retryable:
                throw StoreError(.backend, "etcd \(method): \(error.message)")
            case .failure(let error):
                guard ContinuousClock.now < deadline else {
                    throw StoreError(.backend, "etcd \(method): no member answered within \(Self.patience): \(error.message)")
                }
                // Move on to the next member (unless another call already did), and once every
                // member has failed, wait a moment: an election takes about a second.
                skip(index)
                tried += 1
                if tried % endpoints.count == 0 { try? await Task.sleep(for: .milliseconds(200)) }
            }
        }
    }

    struct CallError: Error {
        var message: String
        /// Whether another member (or the same one a moment later) may succeed.
        var retryable: Bool
    }

    private func attempt(_ endpoint: String, _ method: String, _ payload: [UInt8]) async -> Result<JSONValue, CallError> {
        var request = HTTPClientRequest(url: "\(endpoint)/v3/\(method)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: payload))
        let status: UInt
        let bytes: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: .seconds(10))
            status = response.status.code
            bytes = try await response.body.collect(upTo: 512 << 20)
        } catch {
            return .failure(CallError(message: "\(endpoint): \(error)", retryable: true))
        }
        let reply = try? JSONValue.parse(bytes.readableBytesView)
        if status == 200, let reply { return .success(reply) }
        // gRPC status codes as the gateway reports them: 14 Unavailable (no leader, leader
        // changed, member stopping) and 4 DeadlineExceeded are the member's trouble, not the
        // request's.
        let code = reply?["code"]?.intValue ?? 0
        let message = reply?["message"]?.stringValue ?? String(decoding: bytes.readableBytesView, as: UTF8.self)
        return .failure(CallError(message: "\(endpoint): \(message)", retryable: code == 14 || code == 4 || status >= 500))
    }

    /// Opens a watch stream on one member; `line` gets each response message. Returns when
    /// the member ends the stream; throws when it cannot be reached or the stream breaks.
    func watchStream(_ endpoint: String, _ body: JSONValue,
                     line: (JSONValue) throws -> Void) async throws {
        var request = HTTPClientRequest(url: "\(endpoint)/v3/watch")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body.jsonBytes()))
        let response = try await http.execute(request, deadline: .distantFuture)
        guard response.status == .ok else {
            let text = try await response.body.collect(upTo: 1 << 20)
            throw CallError(message: "\(endpoint): watch: HTTP \(response.status.code) \(String(buffer: text))", retryable: true)
        }
        // The gateway writes one JSON message per line; a chunk may end mid-line.
        var pending: [UInt8] = []
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let message = pending[..<newline]
                if !message.isEmpty { try line(try JSONValue.parse(message)) }
                pending.removeSubrange(...newline)
            }
        }
    }

    /// The member to open a watch on (the preferred one), and a way to move past it.
    var watchEndpoint: (index: Int, url: String) {
        let index = preferred.load(ordering: .relaxed)
        return (index, endpoints[index])
    }

    /// Moves past member `index`, unless another call already did.
    func skip(_ index: Int) {
        _ = preferred.compareExchange(expected: index, desired: (index + 1) % endpoints.count, ordering: .relaxed)
    }
}

// MARK: - Gateway encoding

extension JSONValue {
    /// A 64-bit integer field as the gateway writes it (a string) or as a number.
    var etcdInt: Int64 {
        switch self {
        case .string(let s): Int64(s) ?? 0
        case .int(let i): i
        default: 0
        }
    }
}

enum Base64 {
    static func encode(_ bytes: some Sequence<UInt8>) -> JSONValue { .string(Data(bytes).base64EncodedString()) }
    static func encode(_ text: String) -> JSONValue { encode(Array(text.utf8)) }
    static func decode(_ value: JSONValue?) -> [UInt8] {
        guard let text = value?.stringValue, let data = Data(base64Encoded: text) else { return [] }
        return [UInt8](data)
    }
}
