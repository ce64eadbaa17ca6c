import APIMachinery
import JSON

/// PriorityClasses as kube-apiserver keeps them: the two system classes always exist, user
/// classes stay at or below one billion and may not take the `system-` prefix, a class's
/// value and preemption policy never change (pods already carry them), and at most one class
/// is the global default.
struct PriorityClassStrategy: KindStrategy {
    /// The classes kube-apiserver creates at start, and their values.
    static let systemClasses: [(name: String, value: Int, description: String)] = [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ]
    static let highestUserPriority = 1_000_000_000

    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError) {
        let name = object.name ?? ""
        var errors: [FieldError] = []
        let value = object["value"]?.intValue
        if value == nil { errors.append(.required("value")) }
        if let system = Self.systemClasses.first(where: { $0.name == name }) {
            if let value, value != system.value {
                errors.append(.forbidden("value", "the value of the system priority class \(name) must be \(system.value)"))
            }
        } else if name.hasPrefix("system-") {
            errors.append(.forbidden("metadata.name", "priority class names with 'system-' prefix are reserved"))
        } else if let value, value > Self.highestUserPriority {
            errors.append(.forbidden("value", "maximum allowed value of a user defined priority is \(Self.highestUserPriority)"))
        }
        if let policy = object["preemptionPolicy"]?.stringValue, !["PreemptLowerPriority", "Never"].contains(policy) {
            errors.append(.notSupported("preemptionPolicy", policy, ["Never", "PreemptLowerPriority"]))
        }
        if object["preemptionPolicy"] == nil { object["preemptionPolicy"] = "PreemptLowerPriority" }
        if let previous {
            if previous["value"] != object["value"] { errors.append(.forbidden("value", "may not be changed in an update.")) }
            if previous["preemptionPolicy"] != object["preemptionPolicy"] {
                errors.append(.forbidden("preemptionPolicy", "may not be changed in an update."))
            }
        }
        if object["globalDefault"]?.boolValue == true {
            for other in try await server.storedObjects(resource, namespace: nil)
            where other.name != name && other["globalDefault"]?.boolValue == true {
                errors.append(.invalid("globalDefault", "true", "PriorityClass \(other.name ?? "") is already marked as default. Only one default can exist"))
            }
        }
        if !errors.isEmpty { throw .invalid(resource, name: name, errors) }
    }
}
