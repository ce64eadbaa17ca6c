import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
@testable import APIServer
import Client
import JSON
import NetAddress
import Storage

/// A watch's lines go from the store's thread straight to the connection (WatchOutput): in
/// order, none lost before the connection attaches, and the watch ends with its connection.
@Suite struct WatchOutputTests {
    static func text(_ lines: [WatchLine]) -> [String] { lines.map { String(buffer: $0.line) } }
    static func line(_ text: String) -> WatchLine { WatchLine(Array(text.utf8)) }

    @Test func linesWaitForTheCarrierThenGoStraightToIt() async {
        let output = WatchOutput()
        let carried = Mutex<[WatchLine]>([])
        let ended = Mutex(0)
        output.whenFinished { ended.withLock { $0 += 1 } }
        output.send(Self.line("a"))
        output.send(Self.line("b"))
        #expect(carried.withLock { $0 }.isEmpty)
        #expect(output.attach { lines in carried.withLock { $0 += lines } })
        #expect(Self.text(carried.withLock { $0 }) == ["a", "b"])
        output.send(Self.line("c"))
        #expect(Self.text(carried.withLock { $0 }) == ["a", "b", "c"])
        output.finish()
        output.finish()
        output.send(Self.line("late"))
        await output.finished()
        #expect(Self.text(carried.withLock { $0 }) == ["a", "b", "c"], "nothing after the end")
        #expect(ended.withLock { $0 } == 1, "the end's actions run once")
        // One registered after the end runs at once.
        output.whenFinished { ended.withLock { $0 += 1 } }
        #expect(ended.withLock { $0 } == 2)
    }

    @Test func aLineIsFramedAsOneHTTPChunk() {
        #expect(String(buffer: Self.line("{\"type\":\"A\"}\n").chunk) == "d\r\n{\"type\":\"A\"}\n\r\n")
        let long = String(repeating: "x", count: 300)
        #expect(String(buffer: Self.line(long).chunk) == "12c\r\n" + long + "\r\n")
    }

    @Test func aWatchThatEndedBeforeItsConnectionStillHandsOverItsLastLines() {
        // A compacted start: the ERROR event is sent and the watch ends before the response starts.
        let output = WatchOutput()
        output.send(Self.line("ERROR"))
        output.finish()
        let carried = Mutex<[WatchLine]>([])
        #expect(!output.attach { lines in carried.withLock { $0 += lines } }, "finished")
        #expect(Self.text(carried.withLock { $0 }) == ["ERROR"])
    }

    @Test func aCancelledWaiterEndsTheWatch() async {
        let output = WatchOutput()
        let waiter = Task { await output.finished() }
        waiter.cancel()
        await waiter.value
        let carried = Mutex(0)
        #expect(!output.attach { _ in carried.withLock { $0 += 1 } })
    }

    @Test func anEmptyLineIsNeverSent() {
        // As a chunk it would be "0", CRLF, CRLF: the end of the response.
        let empty = WatchLine([])
        #expect(empty.chunk.readableBytes == 0)
        let output = WatchOutput()
        let carried = Mutex<[WatchLine]>([])
        output.attach { lines in carried.withLock { $0 += lines } }
        output.send(empty)
        output.send(Self.line("x"))
        #expect(Self.text(carried.withLock { $0 }) == ["x"])
    }

    /// An API server over HTTPS in this process (a port of its own, no signal handlers), and a
    /// client configuration for it; the server is stopped and its files removed after `body`.
    func withServer(stalledWatchTimeout: Duration = .seconds(30), _ body: (APIServer, ClientConfig) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-watch-output-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = APIServer.Options(serviceClusterIPRange: try IPPrefix("10.96.0.0/16"))
        options.stalledWatchTimeout = stalledWatchTimeout
        let api = APIServer(store: try SQLiteStore(path: dir + "/state.db"), options: options)
        try await api.bootstrap()
        let pki = try PKI.loadOrCreate(directory: dir + "/pki", hosts: ["127.0.0.1"])
        let token = TokenAuthenticator.generateToken()
        let tokens = TokenAuthenticator(users: [token: .init(name: "admin", uid: "admin", groups: ["system:masters"])])
        let (ports, listening) = AsyncStream<Int>.makeStream()
        let server = Task {
            try await APIHTTPServer.run(api: api, tokens: tokens, host: "127.0.0.1", port: 0, tls: try pki.tlsConfiguration(),
                                        logger: Logger(label: "test"), handleSignals: false) { listening.yield($0) }
        }
        var portIterator = ports.makeAsyncIterator()
        guard let port = await portIterator.next() else {
            Issue.record("the server did not start: \(String(describing: await server.result))")
            return
        }
        do {
            try await body(api, ClientConfig(server: "https://127.0.0.1:\(port)", token: token, insecureSkipTLSVerify: true))
        } catch {
            server.cancel()
            _ = await server.result
            throw error
        }
        server.cancel()
        _ = await server.result
    }

    /// Whether `condition` holds within two minutes (generous: the whole suite runs in one
    /// process on 2 cores, and its busiest minutes starve every test's tasks).
    func eventually(_ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }

    /// Over HTTPS, in process: two watchers get every event in order; when one client's
    /// connection closes, the server's watch for it ends (no store watch left behind), and the
    /// other keeps getting events.
    @Test func aWatchEndsWithItsConnection() async throws {
        try await withServer { api, config in
            let writer = try APIClient(config), staying = try APIClient(config), leaving = try APIClient(config)
            let from = try await writer.list(ConfigMap.resource, namespace: "default").resourceVersion

            /// The names of the ConfigMaps a client's watch sees ADDED, in order, until `count`.
            func watch(_ client: APIClient, count: Int, seen: Names) -> Task<Void, any Error> {
                Task {
                    for try await event in client.watch(ConfigMap.resource, namespace: "default", resourceVersion: from)
                    where event.kind == .added {
                        let done = seen.value.withLock { seen in
                            seen.append(event.object.name ?? "")
                            return seen.count == count
                        }
                        if done { return }
                    }
                }
            }
            let stayingSaw = Names(), leavingSaw = Names()
            let stayingWatch = watch(staying, count: 40, seen: stayingSaw)
            let leavingWatch = watch(leaving, count: 20, seen: leavingSaw)
            #expect(await eventually { api.openWatches == 2 }, "\(api.openWatches) watches open")
            let names = (0..<40).map { String(format: "cm-%02d", $0) }
            for name in names.prefix(20) { _ = try await writer.create(ConfigMap(name: name, namespace: "default")) }
            try await leavingWatch.value
            #expect(leavingSaw.value.withLock { $0 } == Array(names.prefix(20)))

            // The leaving client closes its connection: the server's watch for it ends.
            await leaving.shutdown()
            #expect(await eventually { api.openWatches == 1 }, "\(api.openWatches) watches open after a client left")
            for name in names.suffix(20) { _ = try await writer.create(ConfigMap(name: name, namespace: "default")) }
            try await stayingWatch.value
            #expect(stayingSaw.value.withLock { $0 } == names)
            await staying.shutdown()
            #expect(await eventually { api.openWatches == 0 }, "\(api.openWatches) watches open after both left")
            await writer.shutdown()
        }
    }

    /// A watch from the current state (its ADDED events queued before the response starts)
    /// that ends by its timeout ends its response cleanly: the client sees the events and the
    /// end, and its connection serves the next request.
    @Test func aWatchThatEndsLeavesItsConnectionReady() async throws {
        try await withServer { api, config in
            let client = try APIClient(config, maxConnections: 1)
            let names = ["a", "b", "c"]
            for name in names { _ = try await client.create(ConfigMap(name: name, namespace: "default")) }
            var added: [String] = []
            for try await event in client.watch(ConfigMap.resource, namespace: "default", resourceVersion: "", timeoutSeconds: 1)
            where event.kind == .added {
                added.append(event.object.name ?? "")
            }
            #expect(added.sorted() == names)
            #expect(await eventually { api.openWatches == 0 }, "\(api.openWatches) watches open")
            // One connection in the pool: the list goes over the watch's connection.
            #expect(try await client.list(ConfigMap.resource, namespace: "default").items.count == 3)
            await client.shutdown()
        }
    }
}

extension WatchOutputTests {
    /// A watcher that sends its request and never reads: once its connection has refused its
    /// data for the stalled-watch timeout, the server closes it and its watch ends, instead of
    /// buffering its events without bound.
    @Test func aWatcherThatStopsReadingIsDropped() async throws {
        try await withServer(stalledWatchTimeout: .seconds(1)) { api, config in
            let client = try APIClient(config)
            let from = try await client.list(ConfigMap.resource, namespace: "default").resourceVersion
            let stuck = Process()
            stuck.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            stuck.arguments = ["-c", """
                import socket, ssl, sys, time
                port, token, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
                raw = socket.socket()
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                raw.connect(("127.0.0.1", port))
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
                s.sendall(("GET %s HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nAuthorization: Bearer %s\\r\\n\\r\\n" % (path, token)).encode())
                sys.stdin.read()
                """, String(config.server.split(separator: ":").last!), config.token!,
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=\(from)"]
            // It lives until its stdin closes (with this test, or this process), and leaves
            // the test runner's output alone.
            let stdin = Pipe()
            stuck.standardInput = stdin
            stuck.standardOutput = FileHandle.nullDevice
            stuck.standardError = FileHandle.nullDevice
            try stuck.run()
            defer {
                try? stdin.fileHandleForWriting.close()
                stuck.terminate()
            }
            #expect(await eventually { api.openWatches == 1 }, "the stuck watcher's watch did not start")
            // 8 MiB of events: more than the kernel's socket buffers take.
            let value = String(repeating: "x", count: 512 * 1024)
            for i in 0..<16 {
                var cm = ConfigMap(name: "big-\(i)", namespace: "default")
                cm.data = ["v": value]
                _ = try await client.create(cm)
            }
            #expect(await eventually { api.openWatches == 0 }, "\(api.openWatches) watches open: the stuck one was kept")
            await client.shutdown()
        }
    }
}

/// A watch through EncryptingStore whose event cannot be decrypted (a key this server does
/// not have) ends with the error, and the store keeps taking writes: the end used to be
/// delivered from inside the store's delivery, whose receiver then stopped the watch under
/// the store's own lock (with SQLite on GRDB's writer queue: every later write stuck).
@Suite struct EncryptedWatchTests {
    static func transformers(_ key: String) throws -> [String: ValueTransformer] {
        let secret = Data(repeating: UInt8(ascii: key.unicodeScalars.first!), count: 32).base64EncodedString()
        let config: JSONValue = ["kind": "EncryptionConfiguration", "apiVersion": "apiserver.config.k8s.io/v1",
                                 "resources": [["resources": ["secrets"],
                                                "providers": [["aescbc": ["keys": [["name": .string(key), "secret": .string(secret)]]]]]]]]
        return try EncryptionConfiguration(json: config).transformers()
    }

    @Test func anUndecryptableEventEndsTheWatchAndWritesGoOn() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-encrypted-watch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try SQLiteStore(path: dir + "/state.db")
        let writer = EncryptingStore(base: base, transformers: try Self.transformers("a"))
        let reader = EncryptingStore(base: base, transformers: try Self.transformers("b"))
        let key = "/registry/core/secrets/default/"
        let events = try await reader.watch(prefix: key, after: try await base.currentRevision())
        _ = try await writer.create(key + "s1", value: Array(#"{"data":{}}"#.utf8))
        await #expect(throws: StoreError.self) { for try await _ in events {} }
        // The store still writes (and its other watchers are not stuck).
        _ = try await writer.create(key + "s2", value: Array(#"{"data":{}}"#.utf8))
        #expect(try await writer.get(key + "s2").key == key + "s2")
    }
}

private final class Names: Sendable {
    let value = Mutex<[String]>([])
}
