import Synchronization

/// The checks behind `/healthz` (liveness: is the process doing its job, or should it be
/// restarted?) and `/readyz` (readiness: has it caught up with the cluster?). Parts of a daemon
/// register checks; nobody writes a health endpoint of their own.
public final class HealthChecks: Sendable {
    public enum Kind: Sendable { case liveness, readiness }

    /// A check's verdict: nil when it passes, else why it does not.
    public typealias Check = @Sendable () -> String?

    struct Entry {
        var name: String
        var kind: Kind
        var check: Check
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    public func register(_ name: String, _ kind: Kind, _ check: @escaping Check) {
        entries.withLock { $0.append(Entry(name: name, kind: kind, check: check)) }
    }

    /// Whether every check of `kind` passes, and the report Kubernetes' components print for
    /// `?verbose`: a line per check, `[+]name ok` or `[-]name failed: reason`.
    public func evaluate(_ kind: Kind) -> (ok: Bool, report: String) {
        let checks = entries.withLock { $0.filter { $0.kind == kind } }
        var ok = true
        var lines: [String] = []
        for entry in checks {
            if let reason = entry.check() {
                ok = false
                lines.append("[-]\(entry.name) failed: \(reason)")
            } else {
                lines.append("[+]\(entry.name) ok")
            }
        }
        lines.append(ok ? "\(kind == .liveness ? "healthz" : "readyz") check passed"
                        : "\(kind == .liveness ? "healthz" : "readyz") check failed")
        return (ok, lines.joined(separator: "\n") + "\n")
    }
}
