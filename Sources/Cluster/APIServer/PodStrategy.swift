import APIMachinery
import JSON

/// Pods start Pending, and a pod bound to a node is deleted gracefully: its node agent stops
/// it, then deletes it for good.
struct PodStrategy: KindStrategy {
    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) {
        object["status"] = ["phase": "Pending", "qosClass": "BestEffort"]
    }

    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError) {
        guard previous == nil else { return }
        try await server.admitPriority(&object)
        Self.addDefaultTolerations(&object, notReady: server.options.defaultNotReadyTolerationSeconds,
                                   unreachable: server.options.defaultUnreachableTolerationSeconds)
    }

    /// kube-apiserver's DefaultTolerationSeconds: a pod that does not say otherwise stays on
    /// a node that turned not-ready or unreachable for this long before it is evicted.
    static func addDefaultTolerations(_ pod: inout JSONValue, notReady: Int, unreachable: Int) {
        var tolerations = pod[path: ["spec", "tolerations"]]?.arrayValue ?? []
        for (key, seconds) in [("node.kubernetes.io/not-ready", notReady), ("node.kubernetes.io/unreachable", unreachable)] {
            let covered = tolerations.contains { t in
                let effect = t["effect"]?.stringValue ?? ""
                let tKey = t["key"]?.stringValue ?? ""
                return (effect.isEmpty || effect == "NoExecute") && (tKey == key || (tKey.isEmpty && t["operator"] == "Exists"))
            }
            if !covered {
                tolerations.append(["key": .string(key), "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": .int(Int64(seconds))])
            }
        }
        pod[path: ["spec", "tolerations"]] = .array(tolerations)
    }

    func gracefulDeletion(of current: JSONValue, requested grace: Int?) -> Int? {
        let bound = current[path: ["spec", "nodeName"]]?.stringValue?.isEmpty == false
        let running = current[path: ["status", "phase"]]?.stringValue.map { !["Succeeded", "Failed"].contains($0) } ?? true
        guard bound, running, (grace ?? 1) > 0 else { return nil }
        return grace ?? current[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
    }
}
