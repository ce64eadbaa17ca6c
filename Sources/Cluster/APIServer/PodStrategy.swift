import APIMachinery
import JSON

/// Pods start Pending, and a pod bound to a node is deleted gracefully: its node agent stops
/// it, then deletes it for good.
struct PodStrategy: KindStrategy {
    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) {
        object["status"] = ["phase": "Pending", "qosClass": "BestEffort"]
    }

    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError) {
        if previous == nil { try await server.admitPriority(&object) }
    }

    func gracefulDeletion(of current: JSONValue, requested grace: Int?) -> Int? {
        let bound = current[path: ["spec", "nodeName"]]?.stringValue?.isEmpty == false
        let running = current[path: ["status", "phase"]]?.stringValue.map { !["Succeeded", "Failed"].contains($0) } ?? true
        guard bound, running, (grace ?? 1) > 0 else { return nil }
        return grace ?? current[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
    }
}
