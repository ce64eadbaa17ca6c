import APIMachinery
import JSON

/// Pods start Pending, a pod's spec is fixed once made (but for what Kubernetes lets change),
/// and a pod bound to a node is deleted gracefully: its node agent stops it, then deletes it
/// for good.
struct PodStrategy: KindStrategy {
    /// Kubernetes' pod update rule: only images, activeDeadlineSeconds, added tolerations and
    /// removed scheduling gates may change (spec.nodeName only through pods/binding). Anything
    /// else would let a writer swap what a running pod mounts or runs as under its node.
    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError) {
        var proposed = next
        ObjectDefaults.apply(&proposed, resource)
        let before = current["spec"] ?? .null, after = proposed["spec"] ?? .null
        if before == after { return }
        func fixedPart(_ spec: JSONValue) -> JSONValue {
            var s = spec
            for field in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] { s[field] = nil }
            // Binding sets the node once, from nothing.
            if (before["nodeName"]?.stringValue ?? "").isEmpty { s["nodeName"] = nil }
            for list in ["containers", "initContainers"] {
                guard var containers = s[list]?.arrayValue else { continue }
                for i in containers.indices { containers[i]["image"] = nil }
                s[list] = .array(containers)
            }
            return s
        }
        let kept = (before["tolerations"]?.arrayValue ?? []).allSatisfy { (after["tolerations"]?.arrayValue ?? []).contains($0) }
        let gates = after["schedulingGates"]?.arrayValue ?? []
        let gatesOnlyRemoved = gates.allSatisfy { (before["schedulingGates"]?.arrayValue ?? []).contains($0) }
        guard fixedPart(before) != fixedPart(after) || !kept || !gatesOnlyRemoved else { return }
        throw .invalid(resource, name: current.name ?? "", [.forbidden("spec",
            "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.schedulingGates` (only removals)")])
    }

    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) {
        object["status"] = ["phase": "Pending", "qosClass": "BestEffort"]
    }

    func admit(_ object: inout JSONValue, previous: JSONValue?, _ resource: ResourceType, in server: APIServer) async throws(APIError) {
        guard previous == nil else { return }
        try await server.admitServiceAccount(&object)
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
