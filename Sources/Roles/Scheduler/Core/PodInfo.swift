public import APITypes
public import APIMachinery
public import JSON

extension Scheduling {
    /// What a pod asks for.
    public struct Request: Sendable, Equatable {
        public var milliCPU: Int64 = 0
        public var memory: Int64 = 0

        public init(milliCPU: Int64 = 0, memory: Int64 = 0) {
            self.milliCPU = milliCPU
            self.memory = memory
        }

        static func + (a: Request, b: Request) -> Request { Request(milliCPU: a.milliCPU + b.milliCPU, memory: a.memory + b.memory) }
        static func - (a: Request, b: Request) -> Request { Request(milliCPU: a.milliCPU - b.milliCPU, memory: a.memory - b.memory) }
    }

    /// A toleration of `spec.tolerations`.
    public struct Toleration: Sendable, Equatable {
        var key: String
        var exists: Bool
        var value: String
        var effect: String
        /// How long a NoExecute taint is tolerated (nil: for ever).
        public var tolerationSeconds: Int?

        public init(_ json: JSONValue) {
            key = json["key"]?.stringValue ?? ""
            exists = json["operator"]?.stringValue == "Exists"
            value = json["value"]?.stringValue ?? ""
            effect = json["effect"]?.stringValue ?? ""
            tolerationSeconds = json["tolerationSeconds"]?.intValue
        }

        /// Whether it tolerates the taint `key=value:effect`.
        public func tolerates(key: String, value: String, effect: String) -> Bool {
            tolerates(Taint(key: key, value: value, effect: effect))
        }

        /// Key and value (Equal) or key alone (Exists); an empty key with Exists tolerates all.
        func tolerates(_ taint: Taint) -> Bool {
            if !effect.isEmpty && effect != taint.effect { return false }
            if key.isEmpty { return exists }
            return key == taint.key && (exists || value == taint.value)
        }
    }

    /// One term of a node selector: every expression and field requirement holds.
    public struct NodeSelectorTerm: Sendable {
        var labels: LabelSelector
        /// `matchFields` on metadata.name.
        var names: LabelSelector
        var isEmpty: Bool

        init(_ json: JSONValue) {
            let expressions = json["matchExpressions"] ?? .array([])
            labels = (try? LabelSelector(json: ["matchExpressions": expressions])) ?? LabelSelector(requirements: [Self.never])
            var fields: [JSONValue] = []
            var other = false
            for field in json["matchFields"]?.arrayValue ?? [] {
                // metadata.name, matched as if it were a label named "name" of the node.
                if field["key"] == "metadata.name" {
                    var byName = field
                    byName["key"] = "name"
                    fields.append(byName)
                } else {
                    other = true
                }
            }
            names = other ? LabelSelector(requirements: [Self.never])
                : (try? LabelSelector(json: ["matchExpressions": .array(fields)])) ?? LabelSelector(requirements: [Self.never])
            isEmpty = (json["matchExpressions"]?.arrayValue ?? []).isEmpty && (json["matchFields"]?.arrayValue ?? []).isEmpty
        }

        /// A requirement no labels meet (a term the scheduler cannot read selects nothing).
        static let never = LabelSelector.Requirement(key: "", op: .in, values: [])

        /// An empty term matches no node, as in Kubernetes.
        func matches(_ node: NodeInfo) -> Bool {
            !isEmpty && labels.matches(node.labels) && names.matches(["name": node.name])
        }
    }

    /// An inter-pod (anti-)affinity term, or a topology spread constraint's pod selection:
    /// pods in some namespaces whose labels match, counted per value of `topologyKey`.
    public struct PodGroup: Sendable, Hashable {
        /// nil: every namespace.
        var namespaces: Set<String>?
        /// Namespaces whose labels match (with `namespaces`, either one).
        var namespaceSelector: LabelSelector?
        var selector: LabelSelector
        var topologyKey: String
        /// The text that identifies the group (selectors are compared as text).
        let id: String

        init(namespaces: Set<String>?, namespaceSelector: LabelSelector?, selector: LabelSelector, topologyKey: String) {
            self.namespaces = namespaces
            self.namespaceSelector = namespaceSelector
            self.selector = selector
            self.topologyKey = topologyKey
            id = [namespaces.map { $0.sorted().joined(separator: ",") } ?? "*", namespaceSelector.map(Self.text) ?? "-",
                  Self.text(selector), topologyKey].joined(separator: "|")
        }

        static func text(_ s: LabelSelector) -> String {
            s.requirements.map { "\($0.key) \($0.op) \($0.values.joined(separator: ","))" }.joined(separator: ";")
        }

        public static func == (a: PodGroup, b: PodGroup) -> Bool { a.id == b.id }
        public func hash(into h: inout Hasher) { h.combine(id) }

        func contains(_ pod: PodInfo, namespaceLabels: [String: [String: String]]) -> Bool {
            guard selector.matches(pod.labels) else { return false }
            if let namespaceSelector {
                if namespaceSelector.matches(namespaceLabels[pod.namespace] ?? [:]) { return true }
                return namespaces?.contains(pod.namespace) ?? false
            }
            return namespaces?.contains(pod.namespace) ?? true
        }
    }

    public struct WeightedGroup: Sendable {
        var weight: Int
        var group: PodGroup
    }

    /// A topology spread constraint.
    public struct SpreadConstraint: Sendable {
        var maxSkew: Int
        var group: PodGroup
        var hard: Bool
        var minDomains: Int
        /// nodeAffinityPolicy Honor (default): only nodes the pod's node affinity allows count.
        var honorNodeAffinity: Bool
        /// nodeTaintsPolicy Honor: only nodes whose taints the pod tolerates count (default Ignore).
        var honorTaints: Bool
    }

    /// A pod as the scheduler reads it, parsed once.
    public struct PodInfo: Sendable {
        public let pod: Pod
        public let key: String
        public let namespace: String
        public let name: String
        public let uid: String
        public let labels: [String: String]
        public let priority: Int
        public let preempts: Bool
        public let request: Request
        /// What scoring counts: each pod at least 100m CPU and 200 MiB, as kube-scheduler's
        /// NonZeroRequested, so pods that ask for nothing still spread.
        public let nonZeroRequest: Request
        let hostPorts: [HostPort]
        let nodeName: String
        let tolerations: [Toleration]
        let nodeSelector: [String: String]
        let requiredNodeTerms: [NodeSelectorTerm]
        let preferredNodeTerms: [(weight: Int, term: NodeSelectorTerm)]
        let spread: [SpreadConstraint]
        let affinity: [PodGroup]
        let antiAffinity: [PodGroup]
        let preferredAffinity: [WeightedGroup]
        let preferredAntiAffinity: [WeightedGroup]
        public let terminating: Bool
        /// The creation time as written (RFC 3339 sorts as text).
        public let created: String
        public var nominatedNode: String?
        /// The node affinity as text (spread counts depend on it).
        let nodeAffinityID: String

        public init(_ pod: Pod) {
            self.pod = pod
            key = pod.cacheKey
            namespace = pod.namespace ?? ""
            name = pod.name
            uid = pod.uid
            labels = pod.labels
            let spec = pod.json["spec"] ?? .emptyObject
            priority = spec["priority"]?.intValue ?? 0
            preempts = spec["preemptionPolicy"]?.stringValue != "Never"
            request = Scheduling.request(of: pod)
            nonZeroRequest = Request(milliCPU: request.milliCPU == 0 ? Scheduling.defaultMilliCPU : request.milliCPU,
                                     memory: request.memory == 0 ? Scheduling.defaultMemory : request.memory)
            hostPorts = Scheduling.hostPorts(of: pod)
            nodeName = spec["nodeName"]?.stringValue ?? ""
            tolerations = (spec["tolerations"]?.arrayValue ?? []).map(Toleration.init)
            nodeSelector = stringMap(spec["nodeSelector"])
            let nodeAffinity = spec[path: ["affinity", "nodeAffinity"]] ?? .emptyObject
            requiredNodeTerms = (nodeAffinity[path: ["requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?.arrayValue ?? [])
                .map(NodeSelectorTerm.init)
            preferredNodeTerms = (nodeAffinity["preferredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? []).compactMap { p in
                guard let preference = p["preference"] else { return nil }
                return (p["weight"]?.intValue ?? 0, NodeSelectorTerm(preference))
            }
            nodeAffinityID = "\(spec["nodeSelector"] ?? .null)|\(nodeAffinity["requiredDuringSchedulingIgnoredDuringExecution"] ?? .null)"
            let namespace = namespace, labels = labels
            func group(_ term: JSONValue, topologyKey: String? = nil) -> PodGroup {
                var selector = (try? LabelSelector(json: term["labelSelector"] ?? .null)) ?? LabelSelector(requirements: [NodeSelectorTerm.never])
                if term["labelSelector"] == nil || term["labelSelector"] == .null { selector = LabelSelector(requirements: [NodeSelectorTerm.never]) }
                // matchLabelKeys: the pod's own values of those keys narrow the selector.
                for key in term["matchLabelKeys"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                    if let value = labels[key] { selector.requirements.append(.init(key: key, op: .in, values: [value])) }
                }
                for key in term["mismatchLabelKeys"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                    if let value = labels[key] { selector.requirements.append(.init(key: key, op: .notIn, values: [value])) }
                }
                let listed = term["namespaces"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let namespaceSelector = term["namespaceSelector"].flatMap { $0 == .null ? nil : try? LabelSelector(json: $0) }
                let namespaces: Set<String>? = namespaceSelector?.isEverything == true ? nil
                    : listed.isEmpty && namespaceSelector == nil ? [namespace] : Set(listed)
                return PodGroup(namespaces: namespaces, namespaceSelector: namespaceSelector?.isEverything == true ? nil : namespaceSelector,
                                selector: selector, topologyKey: topologyKey ?? term["topologyKey"]?.stringValue ?? "")
            }
            let affinity = spec[path: ["affinity", "podAffinity"]] ?? .emptyObject
            let anti = spec[path: ["affinity", "podAntiAffinity"]] ?? .emptyObject
            self.affinity = (affinity["requiredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? []).map { group($0) }
            antiAffinity = (anti["requiredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? []).map { group($0) }
            func weighted(_ terms: JSONValue?) -> [WeightedGroup] {
                (terms?.arrayValue ?? []).compactMap { w in
                    w["podAffinityTerm"].map { WeightedGroup(weight: w["weight"]?.intValue ?? 0, group: group($0)) }
                }
            }
            preferredAffinity = weighted(affinity["preferredDuringSchedulingIgnoredDuringExecution"])
            preferredAntiAffinity = weighted(anti["preferredDuringSchedulingIgnoredDuringExecution"])
            spread = (spec["topologySpreadConstraints"]?.arrayValue ?? []).map { c in
                // A constraint selects pods of the pod's own namespace.
                let g = group(["labelSelector": c["labelSelector"] ?? .null, "matchLabelKeys": c["matchLabelKeys"] ?? .null],
                              topologyKey: c["topologyKey"]?.stringValue ?? "")
                return SpreadConstraint(maxSkew: max(1, c["maxSkew"]?.intValue ?? 1), group: g,
                                        hard: c["whenUnsatisfiable"]?.stringValue != "ScheduleAnyway",
                                        minDomains: max(1, c["minDomains"]?.intValue ?? 1),
                                        honorNodeAffinity: c["nodeAffinityPolicy"]?.stringValue != "Ignore",
                                        honorTaints: c["nodeTaintsPolicy"]?.stringValue == "Honor")
            }
            terminating = pod.deletionTimestamp != nil
            created = pod.json[path: ["metadata", "creationTimestamp"]]?.stringValue ?? ""
            nominatedNode = pod.json[path: ["status", "nominatedNodeName"]]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        }

        var hasPodAffinity: Bool { !affinity.isEmpty || !antiAffinity.isEmpty || !preferredAffinity.isEmpty || !preferredAntiAffinity.isEmpty }
    }

    /// A host port a container takes: protocol, port and the host IP ("" for all).
    public struct HostPort: Sendable, Hashable {
        var proto: String
        var port: Int
        var ip: String

        /// Two claims collide on the same protocol and port when either takes every address.
        func conflicts(with other: HostPort) -> Bool {
            proto == other.proto && port == other.port && (ip == other.ip || Self.any(ip) || Self.any(other.ip))
        }

        static func any(_ ip: String) -> Bool { ip.isEmpty || ip == "0.0.0.0" || ip == "::" }
    }

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
            total = total + containerRequest(c)
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

    /// Every hostPort the pod's containers take.
    public static func hostPorts(of pod: Pod) -> [HostPort] {
        var out: [HostPort] = []
        for c in (pod.json[path: ["spec", "containers"]]?.arrayValue ?? []) + (pod.json[path: ["spec", "initContainers"]]?.arrayValue ?? []) {
            for p in c["ports"]?.arrayValue ?? [] {
                guard let port = p["hostPort"]?.intValue, port > 0 else { continue }
                out.append(HostPort(proto: p["protocol"]?.stringValue ?? "TCP", port: port, ip: p["hostIP"]?.stringValue ?? ""))
            }
        }
        return out
    }
}
