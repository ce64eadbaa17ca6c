public import NetAddress
public import NFTablesModel

/// One end of a connection: a pod (known to the API) or a bare address.
public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    public var pod: PolicyPod?
    public var address: IPAddress
    public init(pod: PolicyPod) { self.pod = pod; self.address = pod.ips[0] }
    public init(address: IPAddress, pod: PolicyPod? = nil) { self.pod = pod; self.address = address }
    public var description: String { pod.map { "\($0.key) (\(address))" } ?? "\(address)" }
}

/// The verdict of one direction for a connection, with the reasoning a user needs.
public struct DirectionVerdict: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// No policy selects the pod for this direction (or the end is not a pod).
        case notIsolated
        /// Allowed by this policy's rule.
        case allowed(policy: ObjectKey, rule: Int)
        /// Selected, and no rule allows it.
        case denied
    }
    public var direction: Direction
    public var outcome: Outcome
    /// The policies that select the pod for this direction.
    public var selectingPolicies: [ObjectKey]
    /// Per rule that did not match, why: "policy ingress[i]: no peer matches" / "port …".
    public var reasons: [String]
    public var allows: Bool { if case .denied = outcome { false } else { true } }
}

/// The NetworkPolicy semantics evaluated directly, for one connection: `netplane policy
/// trace` and the tests' oracle. It reads the compiler's inputs, so the answer is the one
/// the daemon's rules implement.
public struct PolicyEvaluator: Sendable {
    public var policies: [ParsedPolicy]
    public var namespaceLabels: [String: [String: String]]

    public init(policies: [ParsedPolicy], namespaceLabels: [String: [String: String]]) {
        self.policies = policies.sorted { $0.key < $1.key }
        self.namespaceLabels = namespaceLabels
    }

    func labels(ofNamespace name: String) -> [String: String] {
        namespaceLabels[name] ?? ["kubernetes.io/metadata.name": name]
    }

    /// Whether a connection from `source` to `destination` on `proto`/`port` is allowed:
    /// the source's egress and the destination's ingress must both allow it.
    public func verdict(from source: Endpoint, to destination: Endpoint, proto: IPProtocol, port: UInt16)
        -> (egress: DirectionVerdict, ingress: DirectionVerdict) {
        (evaluate(.egress, selected: source.pod, peer: destination, proto: proto, port: port, portOwner: destination.pod),
         evaluate(.ingress, selected: destination.pod, peer: source, proto: proto, port: port, portOwner: destination.pod))
    }

    func evaluate(_ direction: Direction, selected: PolicyPod?, peer: Endpoint, proto: IPProtocol, port: UInt16,
                  portOwner: PolicyPod?) -> DirectionVerdict {
        guard let selected else { return DirectionVerdict(direction: direction, outcome: .notIsolated, selectingPolicies: [], reasons: []) }
        let selecting = policies.filter { $0.rules[direction] != nil && $0.selects(selected) }
        guard !selecting.isEmpty else {
            return DirectionVerdict(direction: direction, outcome: .notIsolated, selectingPolicies: [], reasons: [])
        }
        var reasons: [String] = []
        for policy in selecting {
            let rules = policy.rules[direction] ?? []
            if rules.isEmpty { reasons.append("\(policy.key) has no \(direction.rawValue) rules: it allows nothing") }
            for (index, rule) in rules.enumerated() {
                let name = "\(policy.key) \(direction.rawValue)[\(index)]"
                let peerMatches = rule.peers.isEmpty || rule.peers.contains { p in
                    if let pod = peer.pod, p.matches(pod, policyNamespace: policy.key.namespace, namespaceLabels: labels(ofNamespace:)) { return true }
                    return p.contains(peer.address)
                }
                guard peerMatches else {
                    reasons.append("\(name): no peer matches \(peer)")
                    continue
                }
                let portMatches = rule.ports.isEmpty || rule.ports.contains { entry in
                    entry.proto == proto && entry.ranges(on: portOwner).contains { $0.contains(port) }
                }
                guard portMatches else {
                    reasons.append("\(name): port \(port)/\(PolicyPort(proto, .any).protocolName) is not in \(rule.ports.map(\.description).joined(separator: ", "))")
                    continue
                }
                return DirectionVerdict(direction: direction, outcome: .allowed(policy: policy.key, rule: index),
                                        selectingPolicies: selecting.map(\.key), reasons: reasons)
            }
        }
        return DirectionVerdict(direction: direction, outcome: .denied, selectingPolicies: selecting.map(\.key), reasons: reasons)
    }
}

extension DirectionVerdict {
    /// Lines for a person: what selects the pod and what decided.
    public var explanation: [String] {
        var lines: [String] = []
        switch outcome {
        case .notIsolated:
            lines.append("\(direction.rawValue): allowed: no policy selects it for \(direction.rawValue)")
        case .allowed(let policy, let rule):
            lines.append("\(direction.rawValue): allowed by \(policy) \(direction.rawValue)[\(rule)]")
            lines.append("  selected by: \(selectingPolicies.map(\.description).joined(separator: ", "))")
        case .denied:
            lines.append("\(direction.rawValue): DENIED: selected by \(selectingPolicies.map(\.description).joined(separator: ", ")) and no rule allows it")
            lines += reasons.map { "  " + $0 }
        }
        return lines
    }
}
