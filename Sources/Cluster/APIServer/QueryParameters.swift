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
        "fieldManager": "recorded nowhere yet (no managedFields): accepted for kubectl",
        "fieldValidation": "Strict, Warn or Ignore",
        "labelSelector": "", "fieldSelector": "", "limit": "", "continue": "",
        "resourceVersion": "", "resourceVersionMatch": "NotOlderThan", "timeoutSeconds": "", "watch": "",
        "allowWatchBookmarks": "", "sendInitialEvents": "",
        "gracePeriodSeconds": "", "propagationPolicy": "Background or Orphan", "orphanDependents": "",
        "includeObject": "",
        "force": "for server-side apply, which is refused anyway",
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
        try propagation(request.query["propagationPolicy"])
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

    /// There is no garbage collector yet, so nothing deletes dependents: Background and Orphan
    /// leave them alike; Foreground (wait for the dependents to go first) cannot be honoured.
    static func propagation(_ policy: String?) throws(APIError) {
        guard let policy, policy != "Background", policy != "Orphan" else { return }
        if policy == "Foreground" {
            throw .badRequest("propagationPolicy=Foreground is not supported: this server has no garbage collector to delete dependents first (use Background or Orphan)")
        }
        throw .badRequest("propagationPolicy=\(policy): expected Background, Foreground or Orphan")
    }
}
