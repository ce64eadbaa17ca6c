extension Scheduling {
    /// The outcome of preemption: the node the pod is nominated to and the pods to remove.
    public struct Preemption: Sendable {
        public var node: String
        public var victims: [PodInfo]
        /// How many victims their disruption budgets do not allow to go.
        public var budgetViolations: Int
    }
}

extension Scheduling.Cluster {
    /// kube-scheduler's DefaultPreemption for a pod that fits nowhere: on each node where
    /// removing pods of lower priority would make room, the fewest of them (those whose
    /// disruption budget forbids it kept first, then the most important), and of those nodes
    /// the one with the fewest budget violations, then the lowest highest victim priority,
    /// the lowest sum of priorities, the fewest victims. Nil when preemption cannot help.
    public mutating func preemption(for pod: Scheduling.PodInfo, settings: Scheduling.Settings = .init()) -> Scheduling.Preemption? {
        guard pod.preempts else { return nil }
        // A pod whose earlier preemption is still taking effect waits for it.
        if let nominatedNode = pod.nominatedNode, let node = node(nominatedNode),
           node.pods.values.contains(where: { $0.terminating && $0.priority < pod.priority }) {
            return nil
        }
        let state = prepare(pod)
        var best: Scheduling.Preemption?
        var candidates = 0
        let enough = max(100, nodes.count / 10)
        for i in nodes.indices {
            guard candidates < enough else { break }
            let node = nodes[i]
            guard let rejection = filter(pod, node, state), rejection.resolvable else { continue }
            let lower = node.pods.values.filter { $0.priority < pod.priority && !$0.terminating }
            guard !lower.isEmpty, let candidate = victims(for: pod, on: node.name, among: lower) else { continue }
            candidates += 1
            if best.map({ Self.better(candidate, than: $0) }) ?? true { best = candidate }
        }
        return best
    }

    /// The fewest pods of `lower` whose removal lets `pod` onto the node, or nil.
    func victims(for pod: Scheduling.PodInfo, on node: String, among lower: [Scheduling.PodInfo]) -> Scheduling.Preemption? {
        var simulated = self
        for victim in lower { simulated.remove(victim.key) }
        guard simulated.fitsAfterRemoval(pod, node) else { return nil }
        // Most important first: each is kept if the pod still fits with it back.
        let ordered = lower.sorted { a, b in a.priority != b.priority ? a.priority > b.priority : a.created < b.created }
        var budgets = self.budgets
        var violating: [Scheduling.PodInfo] = [], fine: [Scheduling.PodInfo] = []
        for victim in ordered {
            var violates = false
            for i in budgets.indices where budgets[i].namespace == victim.namespace && budgets[i].selector.matches(victim.labels) {
                budgets[i].disruptionsAllowed -= 1
                if budgets[i].disruptionsAllowed < 0 { violates = true }
            }
            if violates { violating.append(victim) } else { fine.append(victim) }
        }
        var victims: [Scheduling.PodInfo] = [], violations = 0
        for (group, counts) in [(violating, true), (fine, false)] {
            for victim in group {
                simulated.place(victim, on: node)
                if !simulated.fitsAfterRemoval(pod, node) {
                    simulated.remove(victim.key)
                    victims.append(victim)
                    if counts { violations += 1 }
                }
            }
        }
        return Scheduling.Preemption(node: node, victims: victims, budgetViolations: violations)
    }

    /// Whether the pod fits the node of this (simulated) cluster; prepares, and so caches,
    /// the group counts here.
    mutating func fitsAfterRemoval(_ pod: Scheduling.PodInfo, _ node: String) -> Bool {
        guard let info = self.node(node) else { return false }
        let state = prepare(pod)
        return filter(pod, info, state) == nil
    }

    static func better(_ a: Scheduling.Preemption, than b: Scheduling.Preemption) -> Bool {
        if a.budgetViolations != b.budgetViolations { return a.budgetViolations < b.budgetViolations }
        let (aTop, bTop) = (a.victims.map(\.priority).max() ?? .min, b.victims.map(\.priority).max() ?? .min)
        if aTop != bTop { return aTop < bTop }
        let (aSum, bSum) = (a.victims.reduce(0) { $0 + $1.priority }, b.victims.reduce(0) { $0 + $1.priority })
        if aSum != bSum { return aSum < bSum }
        return a.victims.count < b.victims.count
    }
}
