public import APITypes
public import JSON
import APIMachinery

/// The scheduler's decision for one pod over a snapshot of nodes and the pods on them, as
/// kube-scheduler's default plugins make it. Filters: NodeName, NodeUnschedulable,
/// TaintToleration, NodeAffinity (nodeSelector and required terms), NodeResourcesFit (CPU,
/// memory, pod count; init containers and overhead counted) and NodePorts. Scores (0–100,
/// weighted as kube-scheduler's defaults): NodeResourcesFit LeastAllocated or MostAllocated
/// (×1), NodeResourcesBalancedAllocation (×1), NodeAffinity preferred terms (×2),
/// TaintToleration PreferNoSchedule (×3). Ties go to the node first by name.
public enum Scheduling {
    /// What a pod asks for.
    public struct Request: Sendable, Equatable {
        public var milliCPU: Int64 = 0
        public var memory: Int64 = 0

        public init(milliCPU: Int64 = 0, memory: Int64 = 0) {
            self.milliCPU = milliCPU
            self.memory = memory
        }
    }

    /// A node and what is already placed on it.
    public struct NodeInfo: Sendable {
        public var node: Node
        public var pods: [Pod]
        public var requested = Request()
        /// What scoring counts: each pod at least 100m CPU and 200 MiB, as kube-scheduler's
        /// NonZeroRequested, so pods that ask for nothing still spread.
        public var nonZeroRequested = Request()
        public var usedPorts: Set<String> = []

        public init(node: Node, pods: [Pod]) {
            self.node = node
            self.pods = []
            for pod in pods { add(pod) }
        }

        /// Counts a pod as placed here (bound, or assumed while its binding is on the way).
        public mutating func add(_ pod: Pod) {
            pods.append(pod)
            let r = Scheduling.request(of: pod)
            requested.milliCPU += r.milliCPU
            requested.memory += r.memory
            nonZeroRequested.milliCPU += r.milliCPU == 0 ? Scheduling.defaultMilliCPU : r.milliCPU
            nonZeroRequested.memory += r.memory == 0 ? Scheduling.defaultMemory : r.memory
            usedPorts.formUnion(Scheduling.hostPorts(of: pod))
        }

        public var allocatable: (milliCPU: Int64, memory: Int64, pods: Int) {
            let a = node.json[path: ["status", "allocatable"]] ?? node.json[path: ["status", "capacity"]] ?? .emptyObject
            return (a["cpu"].flatMap(quantityText).flatMap(Quantity.milli) ?? 0,
                    a["memory"].flatMap(quantityText).flatMap(Quantity.whole) ?? 0,
                    Int(a["pods"].flatMap(quantityText).flatMap(Quantity.whole) ?? 110))
        }
    }

    /// What scoring counts for a pod that asks for no CPU or memory.
    public static let defaultMilliCPU: Int64 = 100
    public static let defaultMemory: Int64 = 200 << 20

    public enum ScoringStrategy: String, Sendable { case leastAllocated = "LeastAllocated", mostAllocated = "MostAllocated" }

    public struct Settings: Sendable {
        public var strategy: ScoringStrategy = .leastAllocated
        public var weights: [String: Int] = ["NodeResourcesFit": 1, "NodeResourcesBalancedAllocation": 1, "NodeAffinity": 2,
                                             "TaintToleration": 3]
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

    // MARK: The pod's asks

    static func quantityText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): s
        case .int(let i): String(i)
        case .double(let d): String(d)
        default: nil
        }
    }

    /// The pod's effective request: the larger of its containers' sum and any one init
    /// container's, plus the pod overhead.
    public static func request(of pod: Pod) -> Request {
        func containerRequest(_ c: JSONValue) -> Request {
            let r = c[path: ["resources", "requests"]] ?? .emptyObject
            return Request(milliCPU: r["cpu"].flatMap(quantityText).flatMap(Quantity.milli) ?? 0,
                           memory: r["memory"].flatMap(quantityText).flatMap(Quantity.whole) ?? 0)
        }
        var total = Request()
        for c in pod.json[path: ["spec", "containers"]]?.arrayValue ?? [] {
            let r = containerRequest(c)
            total.milliCPU += r.milliCPU
            total.memory += r.memory
        }
        for c in pod.json[path: ["spec", "initContainers"]]?.arrayValue ?? [] {
            let r = containerRequest(c)
            total.milliCPU = max(total.milliCPU, r.milliCPU)
            total.memory = max(total.memory, r.memory)
        }
        let overhead = pod.json[path: ["spec", "overhead"]] ?? .emptyObject
        total.milliCPU += overhead["cpu"].flatMap(quantityText).flatMap(Quantity.milli) ?? 0
        total.memory += overhead["memory"].flatMap(quantityText).flatMap(Quantity.whole) ?? 0
        return total
    }

    /// "TCP/8080" (and the host IP when given) for every hostPort the pod takes.
    public static func hostPorts(of pod: Pod) -> Set<String> {
        var out = Set<String>()
        for c in pod.json[path: ["spec", "containers"]]?.arrayValue ?? [] {
            for p in c["ports"]?.arrayValue ?? [] {
                guard let port = p["hostPort"]?.intValue, port > 0 else { continue }
                out.insert("\(p["protocol"]?.stringValue ?? "TCP")/\(port)")
            }
        }
        return out
    }

    // MARK: Filters

    /// Why the node cannot take the pod, or nil when it can.
    public static func filter(_ pod: Pod, _ info: NodeInfo) -> String? {
        let node = info.node
        if let wanted = pod.json[path: ["spec", "nodeName"]]?.stringValue, !wanted.isEmpty, wanted != node.name {
            return "node(s) didn't match the requested node name"
        }
        let tolerations = pod.json[path: ["spec", "tolerations"]]?.arrayValue ?? []
        if node.json[path: ["spec", "unschedulable"]]?.boolValue == true,
           !tolerations.contains(where: { tolerates($0, key: "node.kubernetes.io/unschedulable", value: "", effect: "NoSchedule") }) {
            return "node(s) were unschedulable"
        }
        for taint in node.json[path: ["spec", "taints"]]?.arrayValue ?? [] {
            let effect = taint["effect"]?.stringValue ?? ""
            guard effect == "NoSchedule" || effect == "NoExecute" else { continue }
            let key = taint["key"]?.stringValue ?? "", value = taint["value"]?.stringValue ?? ""
            if !tolerations.contains(where: { tolerates($0, key: key, value: value, effect: effect) }) {
                return "node(s) had untolerated taint {\(key): \(value)}"
            }
        }
        if !matchesNodeSelector(pod, node) { return "node(s) didn't match Pod's node affinity/selector" }
        let ask = request(of: pod)
        let (cpu, memory, maxPods) = info.allocatable
        if info.pods.count + 1 > maxPods { return "Too many pods" }
        if ask.milliCPU > 0, info.requested.milliCPU + ask.milliCPU > cpu { return "Insufficient cpu" }
        if ask.memory > 0, info.requested.memory + ask.memory > memory { return "Insufficient memory" }
        if !hostPorts(of: pod).isDisjoint(with: info.usedPorts) {
            return "node(s) didn't have free ports for the requested pod ports"
        }
        return nil
    }

    /// Whether a toleration tolerates the taint (key/value/effect, Equal or Exists).
    static func tolerates(_ t: JSONValue, key: String, value: String, effect: String) -> Bool {
        if let e = t["effect"]?.stringValue, !e.isEmpty, e != effect { return false }
        let op = t["operator"]?.stringValue ?? "Equal"
        let tKey = t["key"]?.stringValue ?? ""
        if tKey.isEmpty { return op == "Exists" }
        guard tKey == key else { return false }
        return op == "Exists" || (t["value"]?.stringValue ?? "") == value
    }

    /// spec.nodeSelector and the required node affinity terms (any term; every expression of it).
    static func matchesNodeSelector(_ pod: Pod, _ node: Node) -> Bool {
        let selector = stringMap(pod.json[path: ["spec", "nodeSelector"]])
        guard selector.allSatisfy({ node.labels[$0.key] == $0.value }) else { return false }
        guard let terms = pod.json[path: ["spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?.arrayValue,
              !terms.isEmpty else { return true }
        return terms.contains { termMatches($0, node) }
    }

    static func termMatches(_ term: JSONValue, _ node: Node) -> Bool {
        let expressions = term["matchExpressions"]?.arrayValue ?? []
        let fields = term["matchFields"]?.arrayValue ?? []
        if expressions.isEmpty && fields.isEmpty { return false }
        return expressions.allSatisfy { requirement($0, node.labels[$0["key"]?.stringValue ?? ""]) }
            && fields.allSatisfy { $0["key"] == "metadata.name" && requirement($0, node.name) }
    }

    static func requirement(_ r: JSONValue, _ actual: String?) -> Bool {
        let values = r["values"]?.arrayValue?.compactMap(\.stringValue) ?? []
        switch r["operator"]?.stringValue ?? "" {
        case "In": return actual.map(values.contains) ?? false
        case "NotIn": return actual.map { !values.contains($0) } ?? true
        case "Exists": return actual != nil
        case "DoesNotExist": return actual == nil
        case "Gt": return actual.flatMap { Int($0) }.map { a in values.first.flatMap { Int($0) }.map { a > $0 } ?? false } ?? false
        case "Lt": return actual.flatMap { Int($0) }.map { a in values.first.flatMap { Int($0) }.map { a < $0 } ?? false } ?? false
        default: return false
        }
    }

    // MARK: Scores

    /// Each scoring plugin's raw score per node.
    static func scores(_ pod: Pod, _ nodes: [NodeInfo], _ settings: Settings) -> [String: [Double]] {
        let ask = request(of: pod)
        var fit: [Double] = [], balanced: [Double] = [], affinity: [Double] = [], taints: [Double] = []
        for info in nodes {
            let (cpu, memory, _) = info.allocatable
            let cpuAsk = Double(info.nonZeroRequested.milliCPU + (ask.milliCPU == 0 ? defaultMilliCPU : ask.milliCPU))
            let memAsk = Double(info.nonZeroRequested.memory + (ask.memory == 0 ? defaultMemory : ask.memory))
            let cpuFraction = cpu > 0 ? min(1, cpuAsk / Double(cpu)) : 1
            let memFraction = memory > 0 ? min(1, memAsk / Double(memory)) : 1
            switch settings.strategy {
            case .leastAllocated: fit.append(((1 - cpuFraction) + (1 - memFraction)) / 2 * 100)
            case .mostAllocated: fit.append((cpuFraction + memFraction) / 2 * 100)
            }
            balanced.append((1 - abs(cpuFraction - memFraction)) * 100)
            var preferred = 0.0
            for term in pod.json[path: ["spec", "affinity", "nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution"]]?.arrayValue ?? []
            where term["preference"].map({ termMatches($0, info.node) }) ?? false {
                preferred += Double(term["weight"]?.intValue ?? 0)
            }
            affinity.append(preferred)
            let tolerations = pod.json[path: ["spec", "tolerations"]]?.arrayValue ?? []
            let intolerable = (info.node.json[path: ["spec", "taints"]]?.arrayValue ?? []).filter { taint in
                taint["effect"] == "PreferNoSchedule" && !tolerations.contains { tolerates($0, key: taint["key"]?.stringValue ?? "",
                                                                                              value: taint["value"]?.stringValue ?? "",
                                                                                              effect: "PreferNoSchedule") }
            }.count
            taints.append(Double(intolerable))
        }
        // Normalized as the plugins do: affinity scaled to the best, taints reversed against the worst.
        let maxAffinity = affinity.max() ?? 0
        let maxTaints = taints.max() ?? 0
        return ["NodeResourcesFit": fit, "NodeResourcesBalancedAllocation": balanced,
                "NodeAffinity": affinity.map { maxAffinity > 0 ? $0 / maxAffinity * 100 : 0 },
                "TaintToleration": taints.map { maxTaints > 0 ? (1 - $0 / maxTaints) * 100 : 100 }]
    }

    /// The node for the pod, or why there is none.
    public static func schedule(_ pod: Pod, nodes: [NodeInfo], settings: Settings = Settings()) -> Decision {
        var feasible: [NodeInfo] = []
        var reasons: [String: String] = [:]
        for info in nodes.sorted(by: { $0.node.name < $1.node.name }) {
            if let reason = filter(pod, info) { reasons[info.node.name] = reason } else { feasible.append(info) }
        }
        guard !feasible.isEmpty else { return .unschedulable(reasons: reasons) }
        if feasible.count == 1 { return .node(feasible[0].node.name) }
        let raw = scores(pod, feasible, settings)
        var best = (name: feasible[0].node.name, score: -1.0)
        for (i, info) in feasible.enumerated() {
            var total = 0.0
            for (plugin, values) in raw { total += Double(settings.weights[plugin] ?? 0) * values[i] }
            if total > best.score + 1e-9 { best = (info.node.name, total) }
        }
        return .node(best.name)
    }
}
