import ArgumentParser
import Client
import DaemonRuntime
import Logging

/// The flags every node and control-plane daemon shares, and what they make: the API client
/// and the daemon runtime with its logging, metrics and status server.
struct DaemonFlags: ParsableArguments {
    @Option(help: "kubeconfig of the API server.") var kubeconfig: String
    @Option(help: "Where /metrics, /healthz and /readyz are served (HOST:PORT; empty: nowhere). Default: the daemon's own port on 127.0.0.1.")
    var metricsBind: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"

    func validate() throws {
        guard Logger.Level(flag: logLevel) != nil else {
            throw ValidationError("--log-level: expected trace, debug, info, notice, warning, error or critical, got \(logLevel)")
        }
        if let metricsBind, !metricsBind.isEmpty {
            do { _ = try Daemon.statusAddress(metricsBind) } catch { throw ValidationError(error.message) }
        }
    }

    /// The daemon runtime for `name`, its status server on `--metrics-bind` or `defaultBind`.
    func daemon(_ name: String, defaultBind: String) throws -> Daemon {
        let observability = Observability.bootstrap(logLevel: Logger.Level(flag: logLevel) ?? .info)
        let config: ClientConfig
        do { config = try ClientConfig.kubeconfig(kubeconfig) } catch { throw ValidationError("--kubeconfig: \(error)") }
        let bind = metricsBind ?? defaultBind
        // Every informer's watch holds a connection for as long as it runs (`netplane
        // controllers` runs about fifty), and writes need their own beside them.
        return Daemon(.init(name: name, statusBind: bind.isEmpty ? nil : bind), client: try APIClient(config, maxConnections: 256),
                      observability: observability)
    }
}
