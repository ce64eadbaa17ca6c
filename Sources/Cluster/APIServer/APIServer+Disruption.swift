public import APIMachinery
import Storage
import JSON

/// Pod priority and voluntary disruption, as kube-apiserver serves them: a pod's priority
/// comes from its PriorityClass (or the global default) at create; `pods/eviction` deletes a
/// pod only when the PodDisruptionBudget that covers it allows one more disruption, and
/// counts it there (what `kubectl drain` relies on).
extension APIServer {
    /// Every stored object of a resource (in one namespace, or all).
    func storedObjects(_ resource: ResourceType, namespace: String?) async throws(APIError) -> [JSONValue] {
        let page: ListPage
        do { page = try await store.list(prefix: resource.keyPrefix(namespace: namespace), after: nil, limit: nil) } catch {
            throw ObjectStore.apiError(error, resource, "")
        }
        return page.items.compactMap { try? ObjectStore.decode($0) }
    }

    var priorityClasses: ResourceType { registry.resource(group: "scheduling.k8s.io", version: "v1", plural: "priorityclasses")! }
    var disruptionBudgets: ResourceType { registry.resource(group: "policy", version: "v1", plural: "poddisruptionbudgets")! }

    /// Creates the two system PriorityClasses if they are missing (run at every start).
    public func ensureSystemPriorityClasses() async throws(APIError) {
        for system in PriorityClassStrategy.systemClasses {
            do {
                _ = try await objects.get(priorityClasses, namespace: nil, name: system.name)
            } catch {
                guard error.code == 404 else { throw error }
                let object: JSONValue = ["apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                         "metadata": ["name": .string(system.name)], "value": .int(Int64(system.value)),
                                         "description": .string(system.description), "preemptionPolicy": "PreemptLowerPriority"]
                do { _ = try await create(priorityClasses, namespace: nil, object) } catch { if error.code != 409 { throw error } }
            }
        }
    }

    /// Sets a new pod's priority and preemption policy from its PriorityClass (kube-apiserver's
    /// Priority admission): the named class, else the global default, else 0.
    func admitPriority(_ pod: inout JSONValue) async throws(APIError) {
        let name = pod.name ?? ""
        let className = pod[path: ["spec", "priorityClassName"]]?.stringValue ?? ""
        var value = 0, policy = "PreemptLowerPriority"
        if className.isEmpty {
            if let global = try await storedObjects(priorityClasses, namespace: nil).first(where: { $0["globalDefault"]?.boolValue == true }) {
                pod[path: ["spec", "priorityClassName"]] = global.metadata["name"]
                value = global["value"]?.intValue ?? 0
                policy = global["preemptionPolicy"]?.stringValue ?? policy
            }
        } else {
            let found: JSONValue
            do { (found, _) = try await objects.get(priorityClasses, namespace: nil, name: className) } catch {
                if error.code == 404 { throw .forbidden("pods \"\(name)\" is forbidden: no PriorityClass with name \(className) was found") }
                throw error
            }
            value = found["value"]?.intValue ?? 0
            policy = found["preemptionPolicy"]?.stringValue ?? policy
        }
        if let given = pod[path: ["spec", "priority"]]?.intValue, given != value {
            throw .forbidden("pods \"\(name)\" is forbidden: the integer value of priority (\(given)) must not be provided in pod spec; priority admission controller computed \(value) from the given PriorityClass name")
        }
        if let given = pod[path: ["spec", "preemptionPolicy"]]?.stringValue, given != policy {
            throw .forbidden("pods \"\(name)\" is forbidden: the string value of PreemptionPolicy (\(given)) must not be provided in pod spec; priority admission controller computed \(policy) from the given PriorityClass name")
        }
        pod[path: ["spec", "priority"]] = .int(Int64(value))
        pod[path: ["spec", "preemptionPolicy"]] = .string(policy)
    }

    /// POST pods/NAME/eviction.
    func evict(_ eviction: JSONValue, pod name: String, namespace: String, dryRun: Bool) async throws(APIError) -> JSONValue {
        let pods = registry.resource(group: "", version: "v1", plural: "pods")!
        if let named = eviction.name, named != name {
            throw .badRequest("name in URL does not match name in Eviction object")
        }
        let options = eviction["deleteOptions"] ?? .emptyObject
        let success: JSONValue = ["kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Success", "code": 201]
        for _ in 0..<5 {
            let (pod, _) = try await objects.get(pods, namespace: namespace, name: name)
            func deletePod() async throws(APIError) -> JSONValue {
                _ = try await delete(pods, namespace: namespace, name: name, options: options, gracePeriod: nil, dryRun: dryRun)
                return success
            }
            // Pods that are finished, not started or already going need no budget.
            let phase = pod[path: ["status", "phase"]]?.stringValue ?? "Pending"
            if ["Succeeded", "Failed", "Pending"].contains(phase) || pod.deletionTimestamp != nil { return try await deletePod() }
            let labels = stringMap(pod.metadata["labels"])
            let budgets = try await storedObjects(disruptionBudgets, namespace: namespace).filter { pdb in
                (try? LabelSelector(json: pdb[path: ["spec", "selector"]] ?? .null))?.matches(labels) ?? false
            }
            guard var budget = budgets.first else { return try await deletePod() }
            guard budgets.count == 1 else {
                throw .internalError("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
            }
            let budgetName = budget.name ?? ""
            let status = budget["status"] ?? .emptyObject
            let healthy = status["currentHealthy"]?.intValue ?? 0, desired = status["desiredHealthy"]?.intValue ?? 0
            let ready = (pod[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"] == "Ready" && $0["status"] == "True" }
            if !ready {
                // An unhealthy pod does not make the budget worse when the budget is met anyway.
                let policy = budget[path: ["spec", "unhealthyPodEvictionPolicy"]]?.stringValue ?? "IfHealthyBudget"
                if policy == "AlwaysAllow" || (healthy >= desired && desired > 0) { return try await deletePod() }
            }
            if (status["observedGeneration"]?.intValue ?? 0) < (budget.metadata["generation"]?.intValue ?? 0) {
                throw Self.tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.",
                                           cause: "The disruption budget \(budgetName) is still being processed by the server.")
            }
            let allowed = status["disruptionsAllowed"]?.intValue ?? 0
            guard allowed > 0 else {
                throw Self.tooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.",
                                           cause: "The disruption budget \(budgetName) needs \(desired) healthy pods and has \(healthy) currently")
            }
            if dryRun { return success }
            // Count the disruption first (so two evictions never spend the same one), then delete.
            budget[path: ["status", "disruptionsAllowed"]] = .int(Int64(allowed - 1))
            budget[path: ["status", "disruptedPods", name]] = .string(APITime.format(APITime.now()))
            do {
                _ = try await objects.update(disruptionBudgets, budget, ifRevision: Int64(budget.resourceVersion ?? "") ?? 0)
            } catch {
                if error.code == 409 { continue }
                throw error
            }
            return try await deletePod()
        }
        throw .conflict(pods, name: name, "the disruption budget kept changing; try again")
    }

    static func tooManyRequests(_ message: String, cause: String) -> APIError {
        APIError(code: 429, reason: "TooManyRequests", message: message,
                 details: ["causes": [["reason": "DisruptionBudget", "message": .string(cause)]]])
    }
}
