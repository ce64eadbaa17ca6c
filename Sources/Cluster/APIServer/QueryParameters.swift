import APIMachinery
import JSON

/// The query parameters of the resource API: every one the server understands, and a 400
/// naming any other, or a value asking for what the server does not do. Never ignored: an
/// API server that ignored `dryRun` on PATCH made `kubectl diff` write to the cluster.
enum QueryParameters {
    /// What each parameter means here.
    static let known: [String: String] = [
        "pretty": "output formatting only",
        "dryRun": "All: run every check and allocation, store nothing",
        "fieldManager": "the manager a write is recorded under in managedFields",
        "fieldValidation": "Strict, Warn or Ignore",
        "labelSelector": "", "fieldSelector": "", "limit": "", "continue": "",
        "resourceVersion": "", "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "", "watch": "",
        "allowWatchBookmarks": "", "sendInitialEvents": "",
        "gracePeriodSeconds": "", "propagationPolicy": "Background, Foreground or Orphan", "orphanDependents": "",
        "includeObject": "",
        "force": "server-side apply: take the conflicting fields from their managers",
    ]

    /// Refuses what the server would otherwise have to ignore.
    static func check(_ request: APIRequest) throws(APIError) {
        for name in request.query.keys.sorted() where known[name] == nil {
            throw .badRequest("unknown query parameter \"\(name)\": this server does not implement it")
        }
        _ = try dryRun(request.query["dryRun"])
        if let match = request.query["resourceVersionMatch"], match != "NotOlderThan" {
            throw .badRequest("resourceVersionMatch=\(match) is not supported: this server lists the latest state only (NotOlderThan)")
        }
        if let validation = request.query["fieldValidation"], !["Strict", "Warn", "Ignore"].contains(validation) {
            throw .badRequest("fieldValidation=\(validation): expected Strict, Warn or Ignore")
        }
        _ = try propagation(request.query["propagationPolicy"])
    }

    /// `dryRun=All` (the one value Kubernetes defines); absent: a real write.
    static func dryRun(_ value: String?) throws(APIError) -> Bool {
        guard let value else { return false }
        guard value == "All" else { throw .badRequest("dryRun=\(value): the only supported value is All") }
        return true
    }

    /// DeleteOptions' dryRun list (`["All"]`), which kubectl also sends in the body.
    static func dryRun(options: JSONValue) throws(APIError) -> Bool {
        guard let list = options["dryRun"]?.arrayValue else { return false }
        var all = false
        for item in list {
            guard item.stringValue == "All" else { throw .badRequest("dryRun: the only supported value is All, got \(item)") }
            all = true
        }
        return all
    }

    /// How a deletion treats the object's dependents (Background when not given): checked here,
    /// carried out by the garbage collector of `netplane controllers`.
    enum Propagation: String {
        case background = "Background", foreground = "Foreground", orphan = "Orphan"

        /// The finalizer that holds the object until the garbage collector has dealt with its
        /// dependents (deleted them first, or released them), as in Kubernetes.
        var finalizer: String? {
            switch self {
            case .background: nil
            case .foreground: "foregroundDeletion"
            case .orphan: "orphan"
            }
        }
    }

    static func propagation(_ policy: String?) throws(APIError) -> Propagation {
        guard let policy else { return .background }
        guard let known = Propagation(rawValue: policy) else {
            throw .badRequest("propagationPolicy=\(policy): expected Background, Foreground or Orphan")
        }
        return known
    }

    /// The policy of a DELETE: DeleteOptions' propagationPolicy, else its deprecated
    /// orphanDependents, else the query's.
    static func propagation(options: JSONValue, query: [String: String]) throws(APIError) -> Propagation {
        if let policy = options["propagationPolicy"]?.stringValue { return try propagation(policy) }
        if let orphan = options["orphanDependents"]?.boolValue ?? query["orphanDependents"].map({ $0 == "true" }) {
            return orphan ? .orphan : .background
        }
        return try propagation(query["propagationPolicy"])
    }
}
