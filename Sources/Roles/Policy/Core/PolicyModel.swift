public import APIMachinery
public import APITypes
public import JSON
public import NetAddress
public import NFTablesModel

/// The two directions a NetworkPolicy can isolate.
public enum Direction: String, Sendable, Hashable, CaseIterable, Comparable {
    case ingress, egress
    public static func < (a: Self, b: Self) -> Bool { a == .ingress && b == .egress }
}

/// "namespace/name" of a namespaced object, ordered for deterministic output.
public struct ObjectKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public init(_ namespace: String, _ name: String) { self.namespace = namespace; self.name = name }
    public var description: String { "\(namespace)/\(name)" }
    public static func < (a: Self, b: Self) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// A protocol and port of a container (what a named port resolves to).
public struct ContainerPort: Hashable, Sendable {
    public var proto: IPProtocol
    public var port: UInt16
    public init(_ proto: IPProtocol, _ port: UInt16) { self.proto = proto; self.port = port }
}

/// What the enforcer needs of a pod: its labels, addresses, node and named ports.
public struct PolicyPod: Sendable, Equatable {
    public var key: ObjectKey
    public var labels: [String: String]
    public var ips: [IPAddress]
    public var nodeName: String?
    public var namedPorts: [String: [ContainerPort]]

    public init(key: ObjectKey, labels: [String: String], ips: [IPAddress], nodeName: String?,
                namedPorts: [String: [ContainerPort]] = [:]) {
        self.key = key; self.labels = labels; self.ips = ips; self.nodeName = nodeName; self.namedPorts = namedPorts
    }

    /// The pod as policies see it, or nil when policies do not apply to it: it has no address
    /// yet, it shares the node's network (hostNetwork), or it has finished (its address may
    /// already belong to another pod).
    public init?(_ pod: Pod) {
        guard !pod.hostNetwork, pod.phase != "Succeeded", pod.phase != "Failed" else { return nil }
        var ips = pod.podIPs.compactMap { IPAddress($0) }
        if ips.isEmpty, let single = pod.json[path: ["status", "podIP"]]?.stringValue.flatMap({ IPAddress($0) }) { ips = [single] }
        guard !ips.isEmpty else { return nil }
        var named: [String: [ContainerPort]] = [:]
        let containers = (pod.json[path: ["spec", "containers"]]?.arrayValue ?? [])
            // Sidecars (init containers that keep running) serve ports too.
            + (pod.json[path: ["spec", "initContainers"]]?.arrayValue ?? []).filter { $0["restartPolicy"]?.stringValue == "Always" }
        for container in containers {
            for port in container["ports"]?.arrayValue ?? [] {
                guard let name = port["name"]?.stringValue, let number = port["containerPort"]?.intValue,
                      let value = UInt16(exactly: number), let proto = PolicyPort.protocolNamed(port["protocol"]?.stringValue ?? "TCP")
                else { continue }
                named[name, default: []].append(ContainerPort(proto, value))
            }
        }
        self.init(key: ObjectKey(pod.namespace ?? "default", pod.name), labels: pod.labels, ips: ips,
                  nodeName: pod.nodeName, namedPorts: named)
    }
}

/// A port entry of a rule: a protocol and a port, a range (endPort), a name resolved on the
/// destination pod, or every port of the protocol.
public struct PolicyPort: Hashable, Sendable, CustomStringConvertible {
    public enum Port: Hashable, Sendable {
        case any
        case range(UInt16, UInt16)
        case named(String)
    }
    public var proto: IPProtocol
    public var port: Port
    public init(_ proto: IPProtocol, _ port: Port) { self.proto = proto; self.port = port }

    static func protocolNamed(_ name: String) -> IPProtocol? {
        switch name { case "TCP": .tcp; case "UDP": .udp; case "SCTP": .sctp; default: nil }
    }
    public var protocolName: String {
        switch proto { case .udp: "UDP"; case .sctp: "SCTP"; default: "TCP" }
    }
    public var description: String {
        switch port {
        case .any: "any/\(protocolName)"
        case .range(let a, let b): a == b ? "\(a)/\(protocolName)" : "\(a)-\(b)/\(protocolName)"
        case .named(let n): "\(n)/\(protocolName)"
        }
    }

    /// The port ranges this entry stands for when the destination pod is `destination` (named
    /// ports resolve there; a named port never matches an address that is not a known pod).
    public func ranges(on destination: PolicyPod?) -> [ClosedRange<UInt16>] {
        switch port {
        case .any: return [0...65535]
        case .range(let a, let b): return [a...b]
        case .named(let name):
            return (destination?.namedPorts[name] ?? []).filter { $0.proto == proto }.map { $0.port...$0.port }
        }
    }
}

/// A source or destination of a rule.
public enum Peer: Sendable, Equatable {
    /// Pods: with only `pods`, in the policy's own namespace; with `namespaces`, in every
    /// namespace it selects (both in one peer: AND).
    case pods(pods: LabelSelector?, namespaces: LabelSelector?)
    /// Addresses in `cidr` but in none of `except` (which narrows this peer only).
    case ipBlock(cidr: IPPrefix, except: [IPPrefix])
}

/// One ingress or egress rule: traffic to/from any of `peers` (everyone when empty) on any
/// of `ports` (every port when empty).
public struct PolicyRule: Sendable, Equatable {
    public var peers: [Peer]
    public var ports: [PolicyPort]
    public init(peers: [Peer], ports: [PolicyPort]) { self.peers = peers; self.ports = ports }
    public var hasSelectorPeers: Bool { peers.contains { if case .pods = $0 { true } else { false } } }
    public var hasNamedPorts: Bool { ports.contains { if case .named = $0.port { true } else { false } } }
    /// Allows everything: no peer and no port restriction.
    public var allowsAll: Bool { peers.isEmpty && ports.isEmpty }
}

/// Why a NetworkPolicy cannot be enforced as written, with the field and Kubernetes' wording.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String
    public var description: String { "\(field): \(message)" }
}

/// A NetworkPolicy, parsed: the pods it selects and, per direction it isolates, its rules.
public struct ParsedPolicy: Sendable, Equatable {
    public var key: ObjectKey
    public var podSelector: LabelSelector
    /// The directions the policy isolates (policyTypes, defaulted) and their rules.
    public var rules: [Direction: [PolicyRule]]

    public init(key: ObjectKey, podSelector: LabelSelector, rules: [Direction: [PolicyRule]]) {
        self.key = key; self.podSelector = podSelector; self.rules = rules
    }

    public init(_ policy: NetworkPolicy) throws(PolicyError) {
        key = ObjectKey(policy.namespace ?? "default", policy.name)
        let spec = policy.json["spec"] ?? .object([:])
        podSelector = try Self.selector(spec["podSelector"] ?? .object([:]), "spec.podSelector")
        let ingress = spec["ingress"]?.arrayValue
        let egress = spec["egress"]?.arrayValue
        // policyTypes' default: Ingress always, Egress when there are egress rules.
        var types: Set<Direction> = [.ingress]
        if egress != nil { types.insert(.egress) }
        if let given = spec["policyTypes"]?.arrayValue {
            types = []
            for (i, type) in given.enumerated() {
                switch type.stringValue {
                case "Ingress": types.insert(.ingress)
                case "Egress": types.insert(.egress)
                default:
                    throw PolicyError(field: "spec.policyTypes[\(i)]",
                                      message: "Unsupported value: \(type): supported values: \"Ingress\", \"Egress\"")
                }
            }
        }
        var rules: [Direction: [PolicyRule]] = [:]
        for direction in types {
            let items = (direction == .ingress ? ingress : egress) ?? []
            let peerField = direction == .ingress ? "from" : "to"
            rules[direction] = try items.enumerated().map { (i, item) throws(PolicyError) in
                try Self.rule(item, field: "spec.\(direction.rawValue)[\(i)]", peerField: peerField)
            }
        }
        self.rules = rules
    }

    /// A policy that cannot be read as written, enforced failing closed: the directions it
    /// names isolate the pods it selects, with no rule (nil when even its pod selector cannot
    /// be read: then it cannot select anything).
    public static func denyAll(_ policy: NetworkPolicy) -> ParsedPolicy? {
        let spec = policy.json["spec"] ?? .object([:])
        guard let selector = try? LabelSelector(json: spec["podSelector"] ?? .object([:])) else { return nil }
        var types: Set<Direction> = [.ingress]
        if spec["egress"] != nil || (spec["policyTypes"]?.arrayValue ?? []).contains(.string("Egress")) { types.insert(.egress) }
        return ParsedPolicy(key: ObjectKey(policy.namespace ?? "default", policy.name), podSelector: selector,
                            rules: Dictionary(uniqueKeysWithValues: types.map { ($0, []) }))
    }

    static func selector(_ json: JSONValue, _ field: String) throws(PolicyError) -> LabelSelector {
        do { return try LabelSelector(json: json) } catch { throw PolicyError(field: field, message: "\(error)") }
    }

    static func rule(_ json: JSONValue, field: String, peerField: String) throws(PolicyError) -> PolicyRule {
        var peers: [Peer] = []
        for (i, peer) in (json[peerField]?.arrayValue ?? []).enumerated() {
            let at = "\(field).\(peerField)[\(i)]"
            let pods = try peer["podSelector"].map { (s: JSONValue) throws(PolicyError) in try selector(s, at + ".podSelector") }
            let namespaces = try peer["namespaceSelector"].map { (s: JSONValue) throws(PolicyError) in try selector(s, at + ".namespaceSelector") }
            if let block = peer["ipBlock"] {
                guard pods == nil, namespaces == nil else {
                    throw PolicyError(field: at, message: "Forbidden: may not specify both ipBlock and another peer")
                }
                guard let text = block["cidr"]?.stringValue, let cidr = try? IPPrefix(text) else {
                    throw PolicyError(field: at + ".ipBlock.cidr", message: "Invalid value: \(block["cidr"] ?? .null): must be a valid CIDR")
                }
                var except: [IPPrefix] = []
                for (j, e) in (block["except"]?.arrayValue ?? []).enumerated() {
                    guard let text = e.stringValue, let prefix = try? IPPrefix(text), prefix.address.isIPv4 == cidr.address.isIPv4,
                          cidr.network.contains(prefix.network), prefix.length > cidr.length else {
                        throw PolicyError(field: "\(at).ipBlock.except[\(j)]", message: "Invalid value: \(e): must be a strict subset of `cidr`")
                    }
                    except.append(prefix.network)
                }
                peers.append(.ipBlock(cidr: cidr.network, except: except))
            } else {
                guard pods != nil || namespaces != nil else {
                    throw PolicyError(field: at, message: "Required value: must specify a peer")
                }
                peers.append(.pods(pods: pods, namespaces: namespaces))
            }
        }
        var ports: [PolicyPort] = []
        for (i, entry) in (json["ports"]?.arrayValue ?? []).enumerated() {
            let at = "\(field).ports[\(i)]"
            let protoName = entry["protocol"]?.stringValue ?? "TCP"
            guard let proto = PolicyPort.protocolNamed(protoName) else {
                throw PolicyError(field: at + ".protocol", message: "Unsupported value: \"\(protoName)\": supported values: \"SCTP\", \"TCP\", \"UDP\"")
            }
            let end = entry["endPort"]?.intValue
            switch entry["port"] {
            case nil, .null?:
                guard end == nil else { throw PolicyError(field: at + ".endPort", message: "Forbidden: may not be specified when `port` is not specified") }
                ports.append(PolicyPort(proto, .any))
            case .string(let name)?:
                guard end == nil else { throw PolicyError(field: at + ".endPort", message: "Forbidden: may not be specified when `port` is non-numeric") }
                if let number = UInt16(name), number > 0 {
                    ports.append(PolicyPort(proto, .range(number, number)))
                } else {
                    ports.append(PolicyPort(proto, .named(name)))
                }
            case let value?:
                guard let number = value.intValue, let port = UInt16(exactly: number), port > 0 else {
                    throw PolicyError(field: at + ".port", message: "Invalid value: \(value): must be between 1 and 65535, inclusive")
                }
                if let end {
                    guard let last = UInt16(exactly: end), last >= port else {
                        throw PolicyError(field: at + ".endPort", message: "Invalid value: \(end): must be greater than or equal to `port`")
                    }
                    ports.append(PolicyPort(proto, .range(port, last)))
                } else {
                    ports.append(PolicyPort(proto, .range(port, port)))
                }
            }
        }
        return PolicyRule(peers: peers, ports: ports)
    }

    /// Whether the policy selects `pod` (pods of its own namespace only).
    public func selects(_ pod: PolicyPod) -> Bool {
        pod.key.namespace == key.namespace && podSelector.matches(pod.labels)
    }
}

extension Peer {
    /// Whether the pod is one of this peer's pods; `namespaceLabels` gives a namespace's labels.
    public func matches(_ pod: PolicyPod, policyNamespace: String, namespaceLabels: (String) -> [String: String]) -> Bool {
        switch self {
        case .ipBlock: return false
        case .pods(let pods, let namespaces):
            if let namespaces {
                guard namespaces.matches(namespaceLabels(pod.key.namespace)) else { return false }
            } else if pod.key.namespace != policyNamespace {
                return false
            }
            return (pods ?? .everything).matches(pod.labels)
        }
    }

    /// Whether an address is in this ipBlock (and none of its excepts).
    public func contains(_ address: IPAddress) -> Bool {
        guard case .ipBlock(let cidr, let except) = self else { return false }
        return cidr.contains(address) && !except.contains { $0.contains(address) }
    }
}
