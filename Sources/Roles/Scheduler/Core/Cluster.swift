public import APITypes
public import APIMachinery
import JSON

extension Scheduling {
    /// A PodDisruptionBudget as preemption weighs it: the pods it covers and how many of them
    /// may go now.
    public struct Budget: Sendable {
        public var namespace: String
        public var selector: LabelSelector
        public var disruptionsAllowed: Int

        public init(namespace: String, selector: LabelSelector, disruptionsAllowed: Int) {
            self.namespace = namespace
            self.selector = selector
            self.disruptionsAllowed = disruptionsAllowed
        }
    }

    /// The scheduler's view of the cluster: every node with the pods placed on it, kept up to
    /// date one change at a time (a node, a pod bound or assumed, a pod gone), so a decision
    /// never rebuilds it. Counts of the pods in each pod group (an affinity term, a spread
    /// constraint) per topology domain are built when first asked for and then kept current as
    /// pods come and go; a node change drops them (domains may have moved).
    public struct Cluster: Sendable {
        /// In name order (ties in scoring go to the first).
        public private(set) var nodes: [NodeInfo] = []
        var index: [String: Int] = [:]
        /// Pod key -> node, for every placed pod.
        public private(set) var placement: [String: String] = [:]
        /// Pods waiting for a node their preemption freed: key -> pod (its nominatedNode set).
        public private(set) var nominated: [String: PodInfo] = [:]
        public var budgets: [Budget] = []
        /// Labels of each namespace (for namespaceSelector in affinity terms).
        public var namespaceLabels: [String: [String: String]] = [:] { didSet { groupCounts = [:]; existingTerms = nil } }
        /// Where the next search for feasible nodes starts (so pods spread over the nodes
        /// when only a part of them is looked at).
        var nextStart = 0

        /// Pods of a group per domain of its topology key, for spread constraints limited to
        /// the nodes that count for the pod that asked (`template`).
        struct GroupCount {
            var group: PodGroup
            var template: PodInfo?
            var topologyKeys: [String]
            var counts: [String: Int] = [:]
            var domains: Set<String> = []
        }
        var groupCounts: [String: GroupCount] = [:]

        /// The (anti-)affinity terms of placed pods, merged by group, with the number of owning
        /// pods per domain and the weight (0 for required anti-affinity).
        struct ExistingTerm {
            var group: PodGroup
            var weight: Int
            var owners: [String: Int] = [:]
        }
        var existingTerms: [String: ExistingTerm]?

        public init() {}

        public init(nodes: [Node], pods: [Pod] = []) {
            for node in nodes { upsert(node) }
            for pod in pods { if let node = pod.nodeName, !node.isEmpty { place(PodInfo(pod), on: node) } }
        }

        public func node(_ name: String) -> NodeInfo? { index[name].map { nodes[$0] } }

        // MARK: Changes

        public mutating func upsert(_ node: Node) {
            if let i = index[node.name] {
                let old = nodes[i]
                nodes[i] = old.replacingNode(node)
                if old.labels != node.labels { groupCounts = [:]; existingTerms = nil }
                return
            }
            var info = NodeInfo(node: node)
            // Pods placed before their node appeared.
            for (key, pod) in orphans where placement[key] == node.name {
                orphans[key] = nil
                info.add(pod)
            }
            // Nodes mostly arrive in name order: appending keeps the index as it is.
            let at = nodes.last.map { $0.name < node.name } ?? true ? nodes.count : nodes.firstIndex { $0.name > node.name } ?? nodes.count
            nodes.insert(info, at: at)
            reindex(from: at)
            groupCounts = [:]
            existingTerms = nil
        }

        public mutating func removeNode(_ name: String) {
            guard let i = index[name] else { return }
            for pod in nodes[i].pods.values { orphans[pod.key] = pod }
            index[name] = nil
            nodes.remove(at: i)
            reindex(from: i)
            groupCounts = [:]
            existingTerms = nil
        }

        /// Pods whose node is unknown (gone, or not seen yet): kept so they count when it comes.
        var orphans: [String: PodInfo] = [:]

        mutating func reindex(from start: Int) {
            for i in start..<nodes.count { index[nodes[i].name] = i }
        }

        /// Counts a pod on a node (bound, or assumed while its binding is on the way).
        public mutating func place(_ pod: PodInfo, on nodeName: String) {
            remove(pod.key)
            placement[pod.key] = nodeName
            nominated[pod.key] = nil
            guard let i = index[nodeName] else { orphans[pod.key] = pod; return }
            nodes[i].add(pod)
            account(pod, on: nodes[i], +1)
        }

        /// Forgets a pod (deleted, finished, or an assumption undone).
        public mutating func remove(_ key: String) {
            nominated[key] = nil
            orphans[key] = nil
            guard let nodeName = placement.removeValue(forKey: key), let i = index[nodeName],
                  let pod = nodes[i].pods[key] else { return }
            nodes[i].remove(key)
            account(pod, on: nodes[i], -1)
        }

        /// Records (or clears) the node a pending pod's preemption freed for it.
        public mutating func nominate(_ pod: PodInfo) {
            nominated[pod.key] = pod.nominatedNode == nil || placement[pod.key] != nil ? nil : pod
        }

        /// Keeps the group counts and existing terms current for a pod placed or removed.
        mutating func account(_ pod: PodInfo, on node: NodeInfo, _ delta: Int) {
            for id in Array(groupCounts.keys) {
                guard let entry = groupCounts[id], counts(pod, on: node, in: entry),
                      let domain = node.labels[entry.group.topologyKey] else { continue }
                // In place: a copy of the entry would copy its counts for every pod placed.
                groupCounts[id]?.counts[domain, default: 0] += delta
            }
            if existingTerms != nil { addTerms(of: pod, on: node, delta) }
        }

        func counts(_ pod: PodInfo, on node: NodeInfo, in entry: GroupCount) -> Bool {
            if let template = entry.template {
                // Spread counts leave out pods on their way out and nodes that do not count.
                if pod.terminating || !eligible(node, for: template, keys: entry.topologyKeys) { return false }
            }
            return entry.group.contains(pod, namespaceLabels: namespaceLabels)
        }

        /// Whether a node counts for a pod's spread constraints: it has every constraint's
        /// topology key and, by the policies, matches the pod's node affinity and taints.
        func eligible(_ node: NodeInfo, for pod: PodInfo, keys: [String]) -> Bool {
            guard keys.allSatisfy({ node.labels[$0] != nil }) else { return false }
            let constraint = pod.spread.first
            if constraint?.honorNodeAffinity ?? true, !Scheduling.matchesNodeAffinity(pod, node) { return false }
            if constraint?.honorTaints ?? false, node.untoleratedTaint(pod.tolerations, noScheduleOnly: true) != nil { return false }
            return true
        }

        mutating func addTerms(of pod: PodInfo, on node: NodeInfo, _ delta: Int) {
            func add(_ group: PodGroup, weight: Int) {
                guard let domain = node.labels[group.topologyKey] else { return }
                let id = "\(weight)|\(group.id)"
                var term = existingTerms?[id] ?? ExistingTerm(group: group, weight: weight)
                term.owners[domain, default: 0] += delta
                existingTerms?[id] = term
            }
            for g in pod.antiAffinity { add(g, weight: 0) }
            // Required affinity of existing pods counts in scoring with weight 1
            // (kube-scheduler's hardPodAffinityWeight).
            for g in pod.affinity { add(g, weight: 1) }
            for w in pod.preferredAffinity where w.weight != 0 { add(w.group, weight: w.weight) }
            for w in pod.preferredAntiAffinity where w.weight != 0 { add(w.group, weight: -w.weight) }
        }

        // MARK: Counting

        /// Pods of the group per domain (spread constraints: only those that count for `template`).
        mutating func count(_ group: PodGroup, for template: PodInfo? = nil) -> GroupCount {
            let keys = template.map { Array(Set($0.spread.map(\.group.topologyKey))).sorted() } ?? []
            let id = template.map { t in
                "\(group.id)#\(keys.joined(separator: ","))#\(t.spread.first?.honorNodeAffinity ?? true ? t.nodeAffinityID : "")"
                    + "#\(t.spread.first?.honorTaints ?? false ? "\(t.tolerations)" : "")"
            } ?? group.id
            if let cached = groupCounts[id] { return cached }
            var entry = GroupCount(group: group, template: template, topologyKeys: keys)
            for i in nodes.indices {
                guard let domain = nodes[i].labels[group.topologyKey] else { continue }
                if let template, !eligible(nodes[i], for: template, keys: keys) { continue }
                entry.domains.insert(domain)
                for pod in nodes[i].pods.values where counts(pod, on: nodes[i], in: entry) { entry.counts[domain, default: 0] += 1 }
            }
            groupCounts[id] = entry
            return entry
        }

        mutating func terms() -> [String: ExistingTerm] {
            if let existingTerms { return existingTerms }
            existingTerms = [:]
            for node in nodes { for pod in node.pods.values where pod.hasPodAffinity { addTerms(of: pod, on: node, 1) } }
            return existingTerms ?? [:]
        }
    }
}
