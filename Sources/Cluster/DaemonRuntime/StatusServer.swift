import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `--metrics-bind`: `/metrics` (Prometheus text), `/healthz` and `/readyz` (200 or 503, a
/// line per check) over plain HTTP.
enum StatusServer {
    /// Parses HOST:PORT (an IPv6 host in brackets).
    static func parse(_ bind: String) -> (host: String, port: Int)? {
        guard let colon = bind.lastIndex(of: ":"), let port = Int(bind[bind.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(bind[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// Serves until the task is cancelled.
    static func run(host: String, port: Int, observability: Observability, health: HealthChecks,
                    logger: Logger, onListening: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: observability.render())))
        }
        for (path, kind) in [("healthz", HealthChecks.Kind.liveness), ("readyz", .readiness)] {
            router.get(RouterPath(path)) { _, _ -> Response in
                let (ok, report) = health.evaluate(kind)
                return Response(status: ok ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: report)))
            }
        }
        var quiet = logger
        quiet.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port)),
                              onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
                              logger: quiet)
        // A service group of its own without signal handling: the daemon owns SIGTERM
        // (`app.runService()` would take it and stop only this server).
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        try await group.run()
    }
}
