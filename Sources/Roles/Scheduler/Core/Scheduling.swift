public import APITypes
import APIMachinery
import JSON

/// The scheduler's decision for one pod over the cluster, as kube-scheduler's default
/// plugins make it. Filters, in kube-scheduler's order: NodeUnschedulable, NodeName,
/// TaintToleration, NodeAffinity (nodeSelector and required terms), NodePorts,
/// NodeResourcesFit (CPU, memory, pod count; init containers and overhead counted; room kept
/// for pods nominated to the node by preemption), PodTopologySpread (DoNotSchedule) and
/// InterPodAffinity (the pod's required terms, and existing pods' anti-affinity). Scores
/// (0–100, weighted as kube-scheduler's defaults): NodeResourcesFit LeastAllocated or
/// MostAllocated (×1), NodeResourcesBalancedAllocation (×1), InterPodAffinity (×2),
/// NodeAffinity preferred terms (×2), PodTopologySpread ScheduleAnyway (×2),
/// TaintToleration PreferNoSchedule (×3). Ties go to the node first by name. Only a part of a
/// large cluster is searched, as `percentageOfNodesToScore` says.
public enum Scheduling {
    /// What scoring counts for a pod that asks for no CPU or memory.
    public static let defaultMilliCPU: Int64 = 100
    public static let defaultMemory: Int64 = 200 << 20

    public enum ScoringStrategy: String, Sendable { case leastAllocated = "LeastAllocated", mostAllocated = "MostAllocated" }

    public struct Settings: Sendable {
        public var strategy: ScoringStrategy = .leastAllocated
        public var weights: [String: Int] = ["NodeResourcesFit": 1, "NodeResourcesBalancedAllocation": 1, "InterPodAffinity": 2,
                                             "NodeAffinity": 2, "PodTopologySpread": 2, "TaintToleration": 3]
        /// The share of nodes searched for feasible ones once there are 100 or more; nil
        /// adapts it to the cluster's size as kube-scheduler does (50% less 1% per 125
        /// nodes, at least 5%).
        public var percentageOfNodesToScore: Int?
        public init() {}
    }

    /// The outcome: a node, or why none would do (a reason per node, in kubectl's words).
    public enum Decision: Sendable, Equatable {
        case node(String)
        case unschedulable(reasons: [String: String])

        /// "0/3 nodes are available: 1 node(s) had untolerated taint {…}, 2 Insufficient cpu."
        public var message: String {
            guard case .unschedulable(let reasons) = self else { return "" }
            var counts: [String: Int] = [:]
            for reason in reasons.values { counts[reason, default: 0] += 1 }
            // Sorted as text, count first, as kube-scheduler prints them.
            let parts = counts.map { "\($0.value) \($0.key)" }.sorted()
            return "0/\(reasons.count) nodes are available" + (parts.isEmpty ? "." : ": " + parts.joined(separator: ", ") + ".")
        }
    }

    /// Why a node cannot take a pod, and whether removing pods from it could change that.
    public struct Rejection: Sendable, Equatable {
        public var reason: String
        public var resolvable: Bool
    }

    /// The node for `pod` (from a snapshot of the nodes and what they run), or why there is none.
    public static func schedule(_ pod: Pod, nodes: [NodeInfo], settings: Settings = Settings()) -> Decision {
        var cluster = Cluster()
        for info in nodes { cluster.upsert(info.node) }
        for info in nodes { for placed in info.pods.values { cluster.place(placed, on: info.name) } }
        return cluster.schedule(PodInfo(pod), settings: settings)
    }

    /// Why the node cannot take the pod, or nil when it can (the node's own filters only).
    public static func filter(_ pod: Pod, _ info: NodeInfo) -> String? {
        var cluster = Cluster()
        cluster.upsert(info.node)
        for placed in info.pods.values { cluster.place(placed, on: info.name) }
        let p = PodInfo(pod)
        let state = cluster.prepare(p)
        return cluster.filter(p, cluster.nodes[0], state)?.reason
    }

    /// The filters that look at the node alone (NodeUnschedulable, NodeName, TaintToleration,
    /// NodeAffinity, NodePorts, NodeResourcesFit), not at the rest of the cluster: what a
    /// DaemonSet asks of a node, and the first part of every scheduling filter.
    public static func nodeFilter(_ pod: PodInfo, _ node: NodeInfo, nominated: [PodInfo] = []) -> Rejection? {
        if node.unschedulable,
           !pod.tolerations.contains(where: { $0.tolerates(.init(key: "node.kubernetes.io/unschedulable", value: "", effect: "NoSchedule")) }) {
            return Rejection(reason: "node(s) were unschedulable", resolvable: false)
        }
        if !pod.nodeName.isEmpty && pod.nodeName != node.name {
            return Rejection(reason: "node(s) didn't match the requested node name", resolvable: false)
        }
        if let taint = node.untoleratedTaint(pod.tolerations) {
            return Rejection(reason: "node(s) had untolerated taint {\(taint.key): \(taint.value)}", resolvable: false)
        }
        if !matchesNodeAffinity(pod, node) {
            return Rejection(reason: "node(s) didn't match Pod's node affinity/selector", resolvable: false)
        }
        return Cluster.fits(pod, node, nominated: nominated)
    }

    /// How many feasible nodes to find before scoring (kube-scheduler's numFeasibleNodesToFind).
    static func feasibleToFind(_ total: Int, _ percentage: Int?) -> Int {
        if total < 100 { return total }
        let adaptive = max(5, 50 - total / 125)
        let share = min(100, max(1, percentage ?? adaptive))
        return min(total, max(100, total * share / 100))
    }

    /// spec.nodeSelector and the required node affinity terms (any term; every expression of it).
    static func matchesNodeAffinity(_ pod: PodInfo, _ node: NodeInfo) -> Bool {
        guard pod.nodeSelector.allSatisfy({ node.labels[$0.key] == $0.value }) else { return false }
        return pod.requiredNodeTerms.isEmpty || pod.requiredNodeTerms.contains { $0.matches(node) }
    }
}

extension Scheduling.Cluster {
    public typealias PodInfo = Scheduling.PodInfo
    public typealias NodeInfo = Scheduling.NodeInfo
    public typealias Rejection = Scheduling.Rejection

    /// What one scheduling attempt computes once for all nodes (kube-scheduler's PreFilter
    /// and PreScore state). Spread constraints and pod (anti-)affinity come down to rules on
    /// a node's domain of a topology key, so a filter is a label lookup and a set lookup.
    struct CycleState {
        /// A node passes when its domain of `key` is in `domains` (`inside`) or is not.
        struct DomainRule {
            var key: String
            var domains: Set<String>
            var inside: Bool
            var reason: String
            var resolvable: Bool
            /// The reason when the node lacks the key (nil: a node without it passes).
            var missing: String?
        }
        var rules: [DomainRule] = []
        /// ScheduleAnyway constraints: matching pods per domain, and the constraint's weight.
        var softSpread: [(key: String, counts: [String: Int], weight: Double)] = []
        /// Score terms: weight per domain of a topology key.
        var affinityScores: [(key: String, weights: [String: Int])] = []
        /// Pods nominated to a node with a priority at least this pod's: they keep their room.
        var nominated: [String: [PodInfo]] = [:]
    }

    mutating func prepare(_ pod: PodInfo) -> CycleState {
        var state = CycleState()
        let spreadReason = "node(s) didn't match pod topology spread constraints"
        for constraint in pod.spread {
            let counts = count(constraint.group, for: pod)
            if constraint.hard {
                var minCount = counts.domains.count < constraint.minDomains ? 0 : Int.max
                if minCount != 0 { for domain in counts.domains { minCount = min(minCount, counts.counts[domain] ?? 0) } }
                if minCount == Int.max { minCount = 0 }
                let selfMatch = constraint.group.contains(pod, namespaceLabels: namespaceLabels) ? 1 : 0
                // Domains where one more pod keeps the skew within bounds.
                let allowed = Set(counts.domains.filter { (counts.counts[$0] ?? 0) + selfMatch - minCount <= constraint.maxSkew })
                state.rules.append(.init(key: constraint.group.topologyKey, domains: allowed, inside: true, reason: spreadReason,
                                         resolvable: true, missing: spreadReason + " (missing required label)"))
            } else {
                state.softSpread.append((constraint.group.topologyKey, counts.counts, log(Double(counts.domains.count + 2))))
            }
        }
        // The pod's own terms: affinity needs a matching pod in the domain (unless none exists
        // anywhere and the pod matches its terms itself: the first of a group), anti-affinity
        // none.
        let affinity = pod.affinity.map { count($0) }
        let bootstrap = !affinity.isEmpty && affinity.allSatisfy { $0.counts.values.allSatisfy { $0 == 0 } }
            && pod.affinity.allSatisfy { $0.contains(pod, namespaceLabels: namespaceLabels) }
        for counts in affinity {
            let occupied = bootstrap ? nil : Set(counts.counts.filter { $0.value > 0 }.keys)
            state.rules.append(.init(key: counts.group.topologyKey, domains: occupied ?? [], inside: occupied != nil,
                                     reason: "node(s) didn't match pod affinity rules", resolvable: false,
                                     missing: "node(s) didn't match pod affinity rules"))
        }
        for counts in pod.antiAffinity.map({ count($0) }) {
            state.rules.append(.init(key: counts.group.topologyKey, domains: Set(counts.counts.filter { $0.value > 0 }.keys), inside: false,
                                     reason: "node(s) didn't match pod anti-affinity rules", resolvable: true, missing: nil))
        }
        var scores: [String: [String: Int]] = [:]
        for term in terms().values where term.group.contains(pod, namespaceLabels: namespaceLabels) {
            if term.weight == 0 {
                state.rules.append(.init(key: term.group.topologyKey, domains: Set(term.owners.filter { $0.value > 0 }.keys), inside: false,
                                         reason: "node(s) didn't satisfy existing pods anti-affinity rules", resolvable: true, missing: nil))
            } else {
                for (domain, owners) in term.owners { scores[term.group.topologyKey, default: [:]][domain, default: 0] += term.weight * owners }
            }
        }
        for (weighted, sign) in pod.preferredAffinity.map({ ($0, 1) }) + pod.preferredAntiAffinity.map({ ($0, -1) }) {
            for (domain, n) in count(weighted.group).counts {
                scores[weighted.group.topologyKey, default: [:]][domain, default: 0] += sign * weighted.weight * n
            }
        }
        state.affinityScores = scores.map { ($0.key, $0.value) }
        for other in nominated.values where other.key != pod.key && other.priority >= pod.priority {
            state.nominated[other.nominatedNode ?? "", default: []].append(other)
        }
        return state
    }

    /// Why `node` cannot take `pod`, or nil when it can.
    func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Rejection? {
        if let rejection = Scheduling.nodeFilter(pod, node, nominated: state.nominated[node.name] ?? []) { return rejection }
        if state.rules.isEmpty { return nil }
        let labels = node.labels
        for i in state.rules.indices {
            guard let domain = labels[state.rules[i].key] else {
                if let missing = state.rules[i].missing { return Rejection(reason: missing, resolvable: false) }
                continue
            }
            if state.rules[i].domains.contains(domain) != state.rules[i].inside {
                return Rejection(reason: state.rules[i].reason, resolvable: state.rules[i].resolvable)
            }
        }
        return nil
    }

    /// NodePorts and NodeResourcesFit, counting pods nominated to the node.
    static func fits(_ pod: PodInfo, _ node: NodeInfo, nominated: [PodInfo]) -> Rejection? {
        var requested = node.requested, count = node.pods.count
        var used = node.usedPorts
        for other in nominated {
            requested = requested + other.request
            count += 1
            used.append(contentsOf: other.hostPorts)
        }
        if pod.hostPorts.contains(where: { mine in used.contains { $0.conflicts(with: mine) } }) {
            return Rejection(reason: "node(s) didn't have free ports for the requested pod ports", resolvable: true)
        }
        if count + 1 > node.allocatablePods { return Rejection(reason: "Too many pods", resolvable: true) }
        if pod.request.milliCPU > 0, requested.milliCPU + pod.request.milliCPU > node.allocatable.milliCPU {
            return Rejection(reason: "Insufficient cpu", resolvable: true)
        }
        if pod.request.memory > 0, requested.memory + pod.request.memory > node.allocatable.memory {
            return Rejection(reason: "Insufficient memory", resolvable: true)
        }
        return nil
    }

    /// The node for the pod, or why there is none.
    public mutating func schedule(_ pod: PodInfo, settings: Scheduling.Settings = .init()) -> Scheduling.Decision {
        guard !nodes.isEmpty else { return .unschedulable(reasons: [:]) }
        let state = prepare(pod)
        let want = Scheduling.feasibleToFind(nodes.count, settings.percentageOfNodesToScore)
        var feasible: [Int] = []
        var reasons: [String: String] = [:]
        var looked = 0
        // A pod that names its node or was nominated to one tries that node first.
        if let preferred = pod.nominatedNode ?? (pod.nodeName.isEmpty ? nil : pod.nodeName), let i = index[preferred],
           filter(pod, nodes[i], state) == nil {
            return .node(preferred)
        }
        // Through the buffer: each node is borrowed, not copied, for its filters.
        nodes.withUnsafeBufferPointer { nodes in
            while looked < nodes.count && feasible.count < want {
                let i = (nextStart + looked) % nodes.count
                looked += 1
                if let rejection = filter(pod, nodes[i], state) { reasons[nodes[i].name] = rejection.reason } else { feasible.append(i) }
            }
        }
        nextStart = (nextStart + looked) % nodes.count
        guard !feasible.isEmpty else { return .unschedulable(reasons: reasons) }
        feasible.sort()
        if feasible.count == 1 { return .node(nodes[feasible[0]].name) }
        let totals = score(pod, feasible, state, settings)
        var best = 0
        for i in totals.indices where totals[i] > totals[best] + 1e-9 { best = i }
        return .node(nodes[feasible[best]].name)
    }

    /// Each feasible node's weighted score.
    func score(_ pod: PodInfo, _ feasible: [Int], _ state: CycleState, _ settings: Scheduling.Settings) -> [Double] {
        func weight(_ plugin: String) -> Double { Double(settings.weights[plugin] ?? 0) }
        var totals = [Double](repeating: 0, count: feasible.count)
        var affinity = [Double](repeating: 0, count: feasible.count)
        var taints = [Double](repeating: 0, count: feasible.count)
        var spread = [Double](repeating: 0, count: feasible.count)
        var interPod = [Double](repeating: 0, count: feasible.count)
        let (fitWeight, balancedWeight) = (weight("NodeResourcesFit"), weight("NodeResourcesBalancedAllocation"))
        nodes.withUnsafeBufferPointer { nodes in
            for (n, i) in feasible.enumerated() {
                let node = nodes[i].facts
                let requested = nodes[i].nonZeroRequested
                let cpu = node.allocatable.milliCPU, memory = node.allocatable.memory
                let cpuFraction = cpu > 0 ? min(1, Double(requested.milliCPU + pod.nonZeroRequest.milliCPU) / Double(cpu)) : 1
                let memFraction = memory > 0 ? min(1, Double(requested.memory + pod.nonZeroRequest.memory) / Double(memory)) : 1
                let fit = switch settings.strategy {
                case .leastAllocated: ((1 - cpuFraction) + (1 - memFraction)) / 2 * 100
                case .mostAllocated: (cpuFraction + memFraction) / 2 * 100
                }
                // BalancedAllocation weighs what pods really request (kube-scheduler's useRequested),
                // not the non-zero defaults the fit score counts.
                let actual = nodes[i].requested
                let cpuUsed = cpu > 0 ? min(1, Double(actual.milliCPU + pod.request.milliCPU) / Double(cpu)) : 1
                let memUsed = memory > 0 ? min(1, Double(actual.memory + pod.request.memory) / Double(memory)) : 1
                totals[n] = fitWeight * fit + balancedWeight * (1 - abs(cpuUsed - memUsed)) * 100
                for (w, term) in pod.preferredNodeTerms where term.matches(nodes[i]) { affinity[n] += Double(w) }
                if !node.taints.isEmpty {
                    taints[n] = Double(node.taints.filter { t in t.effect == "PreferNoSchedule" && !pod.tolerations.contains { $0.tolerates(t) } }.count)
                }
                for (key, counts, weight) in state.softSpread {
                    if let domain = node.labels[key] { spread[n] += Double(counts[domain] ?? 0) * weight }
                }
                for (key, weights) in state.affinityScores {
                    if let domain = node.labels[key] { interPod[n] += Double(weights[domain] ?? 0) }
                }
            }
        }
        // Normalized as the plugins do: node affinity scaled to the best, taints reversed
        // against the worst, spread reversed (fewer matching pods is better), inter-pod
        // affinity scaled between the lowest and the highest.
        let maxAffinity = affinity.max() ?? 0, maxTaints = taints.max() ?? 0
        let (minSpread, maxSpread) = (spread.min() ?? 0, spread.max() ?? 0)
        let (minInter, maxInter) = (interPod.min() ?? 0, interPod.max() ?? 0)
        let (affinityWeight, taintWeight) = (weight("NodeAffinity"), weight("TaintToleration"))
        let (spreadWeight, interWeight) = (weight("PodTopologySpread"), weight("InterPodAffinity"))
        for n in totals.indices {
            totals[n] += affinityWeight * (maxAffinity > 0 ? affinity[n] / maxAffinity * 100 : 0)
            totals[n] += taintWeight * (maxTaints > 0 ? (1 - taints[n] / maxTaints) * 100 : 100)
            if !state.softSpread.isEmpty {
                totals[n] += spreadWeight * (maxSpread > 0 ? 100 * (maxSpread + minSpread - spread[n]) / maxSpread : 100)
            }
            if maxInter > minInter { totals[n] += interWeight * (interPod[n] - minInter) / (maxInter - minInter) * 100 }
        }
        return totals
    }
}

/// The natural logarithm, written out so the core needs no C math module.
func log(_ x: Double) -> Double {
    // ln(x) = 2·atanh((x-1)/(x+1)), exact enough for the weights it sets (x ≥ 2).
    guard x > 0 else { return -.infinity }
    var m = x, e = 0.0
    while m > 2 { m /= 2; e += 1 }
    let y = (m - 1) / (m + 1), y2 = y * y
    var term = y, sum = 0.0
    for k in stride(from: 1.0, through: 41, by: 2) { sum += term / k; term *= y2 }
    return 2 * sum + e * 0.6931471805599453
}
