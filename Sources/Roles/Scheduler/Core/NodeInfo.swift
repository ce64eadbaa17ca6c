public import APITypes
import APIMachinery
import JSON

extension Scheduling {
    /// A node taint.
    public struct Taint: Sendable, Equatable {
        var key: String
        var value: String
        var effect: String
    }

    /// What the scheduler reads of a Node, parsed once and shared by every copy of its
    /// `NodeInfo` (a copy is then a few references, not a dozen: filters see every node for
    /// every pod).
    final class NodeFacts: Sendable {
        let node: Node
        let name: String
        let labels: [String: String]
        let taints: [Taint]
        let unschedulable: Bool
        let allocatable: Request
        let allocatablePods: Int

        init(_ node: Node) {
            self.node = node
            name = node.name
            labels = node.labels
            let spec = node.json["spec"] ?? .emptyObject
            taints = (spec["taints"]?.arrayValue ?? []).map {
                Taint(key: $0["key"]?.stringValue ?? "", value: $0["value"]?.stringValue ?? "", effect: $0["effect"]?.stringValue ?? "")
            }
            unschedulable = spec["unschedulable"]?.boolValue == true
            let a = node.json[path: ["status", "allocatable"]] ?? node.json[path: ["status", "capacity"]] ?? .emptyObject
            allocatable = Request(milliCPU: a["cpu"].flatMap(quantityText).flatMap(Quantity.milli) ?? 0,
                                  memory: a["memory"].flatMap(quantityText).flatMap(Quantity.whole) ?? 0)
            allocatablePods = Int(a["pods"].flatMap(quantityText).flatMap(Quantity.whole) ?? 110)
        }
    }

    /// A node as the scheduler reads it and what is placed on it.
    public struct NodeInfo: Sendable {
        let facts: NodeFacts
        /// The pods placed here (bound, or assumed while their binding is on the way), by key.
        public private(set) var pods: [String: PodInfo] = [:]
        public private(set) var requested = Request()
        public private(set) var nonZeroRequested = Request()
        private(set) var usedPorts: [HostPort] = []

        public var node: Node { facts.node }
        public var name: String { facts.name }
        public var labels: [String: String] { facts.labels }
        var taints: [Taint] { facts.taints }
        var unschedulable: Bool { facts.unschedulable }
        public var allocatable: Request { facts.allocatable }
        public var allocatablePods: Int { facts.allocatablePods }

        public init(node: Node) {
            facts = NodeFacts(node)
        }

        public init(node: Node, pods: [Pod]) {
            self.init(node: node)
            for pod in pods { add(PodInfo(pod)) }
        }

        /// The same node's new object, keeping what is placed on it.
        func replacingNode(_ node: Node) -> NodeInfo {
            var updated = NodeInfo(node: node)
            for pod in pods.values { updated.add(pod) }
            return updated
        }

        /// Counts a pod as placed here.
        public mutating func add(_ pod: PodInfo) {
            if pods[pod.key] != nil { remove(pod.key) }
            pods[pod.key] = pod
            requested = requested + pod.request
            nonZeroRequested = nonZeroRequested + pod.nonZeroRequest
            usedPorts.append(contentsOf: pod.hostPorts)
        }

        public mutating func remove(_ key: String) {
            guard let pod = pods.removeValue(forKey: key) else { return }
            requested = requested - pod.request
            nonZeroRequested = nonZeroRequested - pod.nonZeroRequest
            for port in pod.hostPorts {
                if let i = usedPorts.firstIndex(of: port) { usedPorts.remove(at: i) }
            }
        }

        /// The first NoSchedule or NoExecute taint (only NoSchedule with `noScheduleOnly`) the
        /// tolerations do not tolerate.
        func untoleratedTaint(_ tolerations: [Toleration], noScheduleOnly: Bool = false) -> Taint? {
            let taints = facts.taints
            if taints.isEmpty { return nil }
            return taints.first { taint in
                (taint.effect == "NoSchedule" || (!noScheduleOnly && taint.effect == "NoExecute")) && !tolerations.contains { $0.tolerates(taint) }
            }
        }
    }
}
