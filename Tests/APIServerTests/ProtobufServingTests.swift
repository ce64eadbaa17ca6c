import APIMachinery
import Foundation
import JSON
import NetplaneTestSupport
import Testing

/// Protobuf on the wire, as client-go's typed clients speak it: request bodies, single objects,
/// lists and watch streams (length-prefixed WatchEvent frames), a clear 415 for a type the
/// server has no schema for, and 406 when the only acceptable encoding cannot carry an answer.
@Suite(.serialized) struct ProtobufServingTests {
    static let protobufFirst = "application/vnd.kubernetes.protobuf, application/json"

    /// A request with curl, the body from a file (bytes), the answer's bytes, type and status.
    func request(_ api: RunningAPIServer, _ method: String, _ path: String, accept: String,
                 contentType: String? = nil, body: [UInt8]? = nil) throws -> (status: Int, type: String, body: [UInt8]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-pb-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var args = ["curl", "-sS", "-k", "-X", method, "-H", "Authorization: Bearer \(api.token)", "-H", "Accept: \(accept)",
                    "-o", dir + "/out", "-w", "%{http_code} %{content_type}", api.server + path]
        if let body {
            FileManager.default.createFile(atPath: dir + "/in", contents: Data(body))
            args += ["-H", "Content-Type: \(contentType ?? ProtobufCodec.mediaType)", "--data-binary", "@" + dir + "/in"]
        }
        let result = try Command.check(args)
        let parts = result.split(separator: " ", maxSplits: 1).map(String.init)
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: dir + "/out"))).map(Array.init) ?? []
        return (Int(parts[0]) ?? 0, parts.count > 1 ? parts[1] : "", bytes)
    }

    @Test func bodiesListsAndWatchesInProtobuf() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        let base = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies"

        // A NetworkPolicy sent as protobuf, answered in protobuf.
        let policy = try JSONValue.parse(#"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny","namespace":"default"},"spec":{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],"ports":[{"protocol":"TCP","port":80,"endPort":90}]}],"policyTypes":["Ingress"]}}"#)
        let created = try request(api, "POST", base, accept: Self.protobufFirst, body: try ProtobufCodec.encodeDocument(policy))
        #expect(created.status == 201 && created.type == ProtobufCodec.mediaType, "\(created.status) \(created.type)")
        let back = try ProtobufCodec.decodeDocument(created.body)
        #expect(back["spec"] == policy["spec"] && back.uid != nil, "\(back.jsonString)")

        // The list, in protobuf: a NetworkPolicyList whose items are the policies.
        _ = try api.kubectlOK(["create", "-f", "-"], stdin: #"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"allow"},"spec":{"podSelector":{}}}"#)
        let list = try request(api, "GET", base, accept: Self.protobufFirst)
        #expect(list.status == 200 && list.type == ProtobufCodec.mediaType)
        let decoded = try ProtobufCodec.decodeDocument(list.body)
        #expect(decoded["kind"] == "NetworkPolicyList")
        #expect(decoded["items"]?.arrayValue?.compactMap(\.name) == ["allow", "deny"])
        #expect(decoded[path: ["metadata", "resourceVersion"]]?.stringValue?.isEmpty == false)

        // A watch: the current objects as ADDED frames, then what changes while it runs.
        let watcher = Thread.detachedResult { [self] in
            try request(api, "GET", base + "?watch=1&timeoutSeconds=3", accept: Self.protobufFirst)
        }
        Thread.sleep(forTimeInterval: 1)
        _ = try api.kubectlOK(["label", "networkpolicy", "allow", "stage=prod"])
        let watched = try watcher()
        #expect(watched.type == ProtobufCodec.watchMediaType, "\(watched.type)")
        let events = try ProtobufCodec.decodeWatchEvents(watched.body)
        #expect(events.map { "\($0.type) \($0.object.name ?? "")" } == ["ADDED allow", "ADDED deny", "MODIFIED allow"])
        #expect(events.last?.object[path: ["metadata", "labels", "stage"]] == "prod")

        // events.k8s.io/v1 over protobuf: the same Event as core/v1's, in its own form.
        _ = try api.kubectlOK(["create", "-f", "-"], stdin: #"{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},"involvedObject":{"kind":"Pod","name":"p"},"reason":"Seen","message":"hello","type":"Normal"}"#)
        let event = try request(api, "GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1", accept: Self.protobufFirst)
        let eventObject = try ProtobufCodec.decodeDocument(event.body)
        #expect(eventObject["apiVersion"] == "events.k8s.io/v1" && eventObject["note"] == "hello" && eventObject[path: ["regarding", "name"]] == "p")
    }

    @Test func whatProtobufCannotCarryIsRefusedClearly() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        // A type the server has no schema for: 415 naming it.
        func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(bytes.count)] + bytes }
        let typeMeta = field(1, Array("example.com/v1".utf8)) + field(2, Array("Widget".utf8))
        let widget = try request(api, "POST", "/api/v1/namespaces/default/configmaps", accept: "application/json",
                                 body: ProtobufCodec.magic + field(1, typeMeta) + field(2, []))
        let status = try JSONValue.parse(widget.body)
        #expect(widget.status == 415 && (status["message"]?.stringValue ?? "").contains("Widget has no protobuf schema"), "\(status.jsonString)")

        // An object holding a field the schema lacks (stored as sent without strict validation):
        // JSON for a client that takes JSON too, 406 naming the field for one that takes only protobuf.
        let odd = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"odd"},"colour":"blue"}"#
        let made = try request(api, "POST", "/api/v1/namespaces/default/configmaps", accept: "application/json",
                               contentType: "application/json", body: Array(odd.utf8))
        #expect(made.status == 201)
        let either = try request(api, "GET", "/api/v1/namespaces/default/configmaps/odd", accept: Self.protobufFirst)
        #expect(either.status == 200 && either.type == "application/json")
        let only = try request(api, "GET", "/api/v1/namespaces/default/configmaps/odd", accept: ProtobufCodec.mediaType)
        let refusal = try JSONValue.parse(only.body)
        #expect(only.status == 406 && (refusal["message"]?.stringValue ?? "").contains("colour"), "\(refusal.jsonString)")
    }
}

extension Thread {
    /// Runs `body` on a new thread; the returned function waits for its result.
    static func detachedResult<T: Sendable>(_ body: @escaping @Sendable () throws -> T) -> () throws -> T {
        let box = ThrowingBox<T>()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.result = Result { try body() }
            done.signal()
        }.start()
        return {
            done.wait()
            return try box.result!.get()
        }
    }
}

final class ThrowingBox<T>: @unchecked Sendable { var result: Result<T, any Error>? }
