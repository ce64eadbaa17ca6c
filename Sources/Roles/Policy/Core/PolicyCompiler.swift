public import NFTablesModel
public import NetAddress

/// The enforcer's compiler: NetworkPolicies, Pods and Namespaces in, nftables transactions
/// out, for the pods of one node. It is incremental: it remembers what the kernel holds and,
/// told which objects changed, sends only the difference, so a label change at 1000 policies
/// costs the work of that pod (its selection, and its membership in each live rule).
///
/// Usage: `update(…)`/`remove(…)` the objects that changed, then `commit { transaction in … }`
/// (or `fullTransaction()` for a rebuild). A transaction the kernel refuses leaves the
/// compiler out of step with the kernel: throw it away and rebuild (the daemon's retry is a
/// full pass with a new compiler).
public struct PolicyCompiler: Sendable {
    public struct Options: Sendable {
        public var nodeName: String
        public var tableName: String
        public init(nodeName: String, tableName: String = "netplane-policy") {
            self.nodeName = nodeName; self.tableName = tableName
        }
    }

    /// A rule of one version of a policy.
    struct RuleRef: Hashable, Comparable, Sendable {
        var policy: ObjectKey
        var version: Int
        var direction: Direction
        var index: Int
        static func < (a: Self, b: Self) -> Bool {
            (a.policy, a.direction, a.index, a.version) < (b.policy, b.direction, b.index, b.version)
        }
    }

    /// A protocol with a port range, as set elements hold them.
    struct PortSpan: Hashable, Comparable, Sendable {
        var proto: UInt8
        var first: UInt16
        var last: UInt16
        static func < (a: Self, b: Self) -> Bool { (a.proto, a.first, a.last) < (b.proto, b.first, b.last) }
    }

    /// A rule as the kernel holds it: its ref and, for ingress rules with named ports, the
    /// ports they resolve to on the selected pod (pods resolving differently need two).
    struct InstanceKey: Hashable, Sendable {
        var ref: RuleRef
        var resolved: [PortSpan]?
    }

    /// One element of one of the sets, in one family's table or (rule ports) in both.
    struct Entry: Hashable, Sendable {
        enum Scope: Hashable, Sendable {
            case v4, v6, both
            init(_ address: IPAddress) { self = address.isIPv4 ? .v4 : .v6 }
            func includes(v4: Bool) -> Bool { self == .both || (self == .v4) == v4 }
        }
        var scope: Scope
        var set: PolicyTables.SetKind
        var element: SetElement
    }

    /// A pod's share of an instance's elements: the addresses it is reached at and the ports
    /// (nil: every port and protocol).
    struct Contribution: Equatable, Sendable {
        var ips: [IPAddress]
        var ports: [PortSpan]?
    }

    struct Instance: Sendable {
        var id: UInt32
        var rule: PolicyRule
        var namespace: String
        var direction: Direction
        /// Ports of the rule for every peer (nil: all); egress named ports add per-pod ones.
        var ports: [PortSpan]?
        var users = 0
        /// The rule's own elements: its ports, its ipBlocks (pods' are in `entriesAt`).
        var ruleEntries: [Entry] = []
        var contributions: [ObjectKey: Contribution] = [:]
        var podsAt: [IPAddress: Set<ObjectKey>] = [:]
        var entriesAt: [IPAddress: [Entry]] = [:]
        var line: ChainLine
        /// Whether pods take part by themselves (selector peers, or egress named ports).
        var hasPodPeers: Bool
    }

    struct PodChains: Equatable, Sendable {
        var ips: [IPAddress]
        var contents: [Direction: ChainContent]
    }

    public let options: Options

    // Inputs, as the caches had them at the last update.
    private(set) var pods: [ObjectKey: PolicyPod] = [:]
    private(set) var namespaceLabels: [String: [String: String]] = [:]
    private(set) var policies: [ObjectKey: ParsedPolicy] = [:]
    var versions: [ObjectKey: Int] = [:]
    var nextVersion = 1
    var podsByNamespace: [String: Set<ObjectKey>] = [:]
    var policiesByNamespace: [String: Set<ObjectKey>] = [:]

    // Derived: which policies select each local pod, per direction.
    var selectedBy: [ObjectKey: [Direction: Set<ObjectKey>]] = [:]

    // What the kernel holds (or will, once the pending transaction commits).
    var instances: [InstanceKey: Instance] = [:]
    var instanceByID: [UInt32: InstanceKey] = [:]
    /// Instances made during the current resolve: already up to date with every pod.
    var fresh: Set<InstanceKey> = []
    var freeIDs: [UInt32] = []
    var nextID: UInt32 = 1
    var chains: [ChainContent: (id: UInt32, users: Int)] = [:]
    var nextChain: UInt32 = 1
    var podChains: [ObjectKey: PodChains] = [:]
    public private(set) var generation: UInt32

    // Pending work since the last commit.
    var chainDirty: Set<ObjectKey> = []
    var elementDirty: Set<ObjectKey> = []

    public init(options: Options, generation: UInt32 = 1) {
        self.options = options
        self.generation = generation == 0 ? 1 : generation
    }

    public var tables: [Table] { [Table(.ip, options.tableName), Table(.ip6, options.tableName)] }
    /// How many rules the kernel holds for the node's pods (live instances).
    public var ruleCount: Int { instances.count }
    public var isolatedPodCount: Int { podChains.count }

    func isLocal(_ pod: PolicyPod) -> Bool { pod.nodeName == options.nodeName }

    func labels(ofNamespace name: String) -> [String: String] {
        namespaceLabels[name] ?? ["kubernetes.io/metadata.name": name]
    }

    // MARK: - Inputs

    public mutating func update(pod: PolicyPod) {
        let key = pod.key
        let old = pods[key]
        if old == pod { return }
        pods[key] = pod
        podsByNamespace[key.namespace, default: []].insert(key)
        elementDirty.insert(key)
        if isLocal(pod) || old.map(isLocal) == true { reselect(key) }
    }

    public mutating func removePod(_ key: ObjectKey) {
        guard let old = pods.removeValue(forKey: key) else { return }
        podsByNamespace[key.namespace]?.remove(key)
        elementDirty.insert(key)
        if isLocal(old) { reselect(key) }
    }

    public mutating func update(namespace name: String, labels: [String: String]) {
        guard namespaceLabels[name] != labels else { return }
        namespaceLabels[name] = labels
        // Selection is by pod labels within a namespace; only membership in peers changes.
        elementDirty.formUnion(podsByNamespace[name] ?? [])
    }

    public mutating func removeNamespace(_ name: String) {
        guard namespaceLabels.removeValue(forKey: name) != nil else { return }
        elementDirty.formUnion(podsByNamespace[name] ?? [])
    }

    public mutating func update(policy: ParsedPolicy) {
        let key = policy.key
        if policies[key] == policy { return }
        let previouslySelected = selectedPods(of: key)
        policies[key] = policy
        versions[key] = nextVersion
        nextVersion += 1
        policiesByNamespace[key.namespace, default: []].insert(key)
        for pod in previouslySelected { setSelection(pod, policy: key, selected: [:]) }
        for podKey in podsByNamespace[key.namespace] ?? [] {
            guard let pod = pods[podKey], isLocal(pod), policy.selects(pod) else { continue }
            setSelection(podKey, policy: key, selected: Dictionary(uniqueKeysWithValues: Direction.allCases.map {
                ($0, policy.rules[$0] != nil)
            }))
        }
    }

    public mutating func removePolicy(_ key: ObjectKey) {
        guard policies.removeValue(forKey: key) != nil else { return }
        for pod in selectedPods(of: key) { setSelection(pod, policy: key, selected: [:]) }
        policiesByNamespace[key.namespace]?.remove(key)
        versions[key] = nil
    }

    /// The local pods a policy selects now (from `selectedBy`).
    func selectedPods(of policy: ObjectKey) -> [ObjectKey] {
        (podsByNamespace[policy.namespace] ?? []).filter { pod in
            selectedBy[pod]?.values.contains { $0.contains(policy) } == true
        }
    }

    mutating func setSelection(_ pod: ObjectKey, policy: ObjectKey, selected: [Direction: Bool]) {
        chainDirty.insert(pod)
        for direction in Direction.allCases {
            if selected[direction] == true {
                selectedBy[pod, default: [:]][direction, default: []].insert(policy)
            } else {
                selectedBy[pod]?[direction]?.remove(policy)
            }
        }
    }

    /// Recomputes which policies select a pod (after the pod changed).
    mutating func reselect(_ key: ObjectKey) {
        chainDirty.insert(key)
        guard let pod = pods[key], isLocal(pod) else {
            selectedBy[key] = nil
            return
        }
        var selection: [Direction: Set<ObjectKey>] = [:]
        for policyKey in policiesByNamespace[key.namespace] ?? [] {
            guard let policy = policies[policyKey], policy.selects(pod) else { continue }
            for direction in policy.rules.keys { selection[direction, default: []].insert(policyKey) }
        }
        selectedBy[key] = selection
    }

    // MARK: - Output

    /// The transaction that brings the kernel from what this compiler last produced to what
    /// the inputs say now; `commit` puts it in the kernel. Nothing is pending afterwards.
    public mutating func commit<E: Error>(_ commit: (Transaction) throws(E) -> Void) throws(E) {
        var delta = Delta()
        resolve(&delta)
        guard !delta.isEmpty else { return }
        let previous = generation
        generation = generation == .max ? 1 : generation + 1
        try commit(delta.transaction(tables: tables, generation: (previous, generation)))
    }

    /// Everything from scratch: the tables deleted and rebuilt in one transaction (no packet
    /// ever sees them half built). Resolves whatever is pending first.
    public mutating func fullTransaction() -> Transaction {
        var delta = Delta()
        resolve(&delta)
        generation = generation == .max ? 1 : generation + 1
        var t = Transaction()
        for table in tables {
            let skeleton = PolicyTables.skeleton(table, generation: generation)
            t.add(table)
            t.delete(table)
            t.add(table)
            for set in skeleton.sets { t.add(set) }
            for chain in skeleton.chains { t.add(chain) }
            for (content, chain) in chains.sorted(by: { $0.value.id < $1.value.id }) {
                let name = Self.chainName(content.direction, chain.id)
                t.add(Chain(table, name))
                for rule in PolicyTables.chainRules(table, content, name: name) { t.add(rule) }
            }
            for (set, elements) in skeleton.elements { t.add(elements, to: set) }
            let v4 = table.family == .ip
            var elements: [PolicyTables.SetKind: [SetElement]] = [:]
            for instance in instances.values {
                for entry in instance.ruleEntries + instance.entriesAt.values.joined() where entry.scope.includes(v4: v4) {
                    elements[entry.set, default: []].append(entry.element)
                }
            }
            for kind in PolicyTables.SetKind.allCases {
                t.add(elements[kind] ?? [], to: PolicyTables.set(kind, in: table))
            }
            for direction in Direction.allCases {
                var entries: [SetElement] = []
                for pod in podChains.values {
                    guard let content = pod.contents[direction], let id = chains[content]?.id else { continue }
                    for ip in pod.ips where ip.isIPv4 == v4 { entries.append(Self.podElement(ip, direction, id)) }
                }
                t.add(entries, to: PolicyTables.map(direction, in: table))
            }
            for rule in skeleton.rules { t.add(rule) }
        }
        return t
    }

    /// What one commit changes, collected before it is written as a transaction.
    struct Delta {
        struct Verdict: Hashable { var direction: Direction; var ip: IPAddress; var chain: UInt32 }
        var newChains: [(UInt32, ChainContent)] = []
        var deletedChains: [(UInt32, Direction)] = []
        /// +1 added, -1 deleted; what was added and deleted again within one commit nets out.
        var entries: [Entry: Int] = [:]
        var verdicts: [Verdict: Int] = [:]

        mutating func add(_ e: [Entry]) { for entry in e { entries[entry, default: 0] += 1 } }
        mutating func delete(_ e: [Entry]) { for entry in e { entries[entry, default: 0] -= 1 } }
        mutating func add(_ direction: Direction, _ ip: IPAddress, _ chain: UInt32) { verdicts[Verdict(direction: direction, ip: ip, chain: chain), default: 0] += 1 }
        mutating func delete(_ direction: Direction, _ ip: IPAddress, _ chain: UInt32) { verdicts[Verdict(direction: direction, ip: ip, chain: chain), default: 0] -= 1 }

        var addedEntries: [Entry] { entries.filter { $0.value > 0 }.map(\.key) }
        var deletedEntries: [Entry] { entries.filter { $0.value < 0 }.map(\.key) }
        var addedVerdicts: [(Direction, IPAddress, UInt32)] { verdicts.filter { $0.value > 0 }.map { ($0.key.direction, $0.key.ip, $0.key.chain) } }
        var deletedVerdicts: [(Direction, IPAddress, UInt32)] { verdicts.filter { $0.value < 0 }.map { ($0.key.direction, $0.key.ip, $0.key.chain) } }

        var isEmpty: Bool {
            newChains.isEmpty && deletedChains.isEmpty && !entries.values.contains { $0 != 0 } && !verdicts.values.contains { $0 != 0 }
        }

        /// The changes as one transaction for both tables, in an order the kernel takes: new
        /// chains and their ids first, element deletions before additions (a replaced
        /// interval may overlap its successor), chains deleted once nothing names them, and
        /// the generation moved on.
        func transaction(tables: [Table], generation: (old: UInt32, new: UInt32)) -> Transaction {
            let addedEntries = self.addedEntries, deletedEntries = self.deletedEntries
            let addedVerdicts = self.addedVerdicts, deletedVerdicts = self.deletedVerdicts
            var t = Transaction()
            for table in tables {
                let v4 = table.family == .ip
                for (id, content) in newChains {
                    let name = PolicyCompiler.chainName(content.direction, id)
                    t.add(Chain(table, name))
                    for rule in PolicyTables.chainRules(table, content, name: name) { t.add(rule) }
                }
                for kind in PolicyTables.SetKind.allCases {
                    t.delete(deletedEntries.filter { $0.scope.includes(v4: v4) && $0.set == kind }.map(\.element), from: PolicyTables.set(kind, in: table))
                }
                for kind in PolicyTables.SetKind.allCases {
                    t.add(addedEntries.filter { $0.scope.includes(v4: v4) && $0.set == kind }.map(\.element), to: PolicyTables.set(kind, in: table))
                }
                for direction in Direction.allCases {
                    let map = PolicyTables.map(direction, in: table)
                    t.delete(deletedVerdicts.filter { $0.0 == direction && $0.1.isIPv4 == v4 }.map { PolicyCompiler.podElement($0.1, direction, $0.2) }, from: map)
                    t.add(addedVerdicts.filter { $0.0 == direction && $0.1.isIPv4 == v4 }.map { PolicyCompiler.podElement($0.1, direction, $0.2) }, to: map)
                }
                for (id, direction) in deletedChains {
                    let chain = Chain(table, PolicyCompiler.chainName(direction, id))
                    t.flush(chain)
                    t.delete(chain)
                }
                t.delete([PolicyTables.generationElement(generation.old)], from: PolicyTables.generation(in: table))
                t.add([PolicyTables.generationElement(generation.new)], to: PolicyTables.generation(in: table))
                t.delete([PolicyTables.stampElement(generation.old)], from: PolicyTables.stamp(in: table))
                t.add([PolicyTables.stampElement(generation.new)], to: PolicyTables.stamp(in: table))
            }
            return t
        }
    }

    static func podElement(_ ip: IPAddress, _ direction: Direction, _ chain: UInt32) -> SetElement {
        SetElement(Value(ip), to: .verdict(.jump(chainName(direction, chain))))
    }

    static func chainName(_ direction: Direction, _ id: UInt32) -> String { "\(direction == .ingress ? "in" : "out")-\(id)" }

    /// Brings the kernel-side memory in line with the inputs, recording the changes.
    mutating func resolve(_ delta: inout Delta) {
        fresh = []
        for key in chainDirty.sorted() { resolveChains(of: key, &delta) }
        chainDirty = []
        if !elementDirty.isEmpty {
            for instanceKey in Array(instances.keys) where instances[instanceKey]!.hasPodPeers && !fresh.contains(instanceKey) {
                for pod in elementDirty { refresh(pod, in: instanceKey, &delta) }
            }
        }
        elementDirty = []
        fresh = []
        // Chains whose last pod went: removed with their instances.
        for (content, chain) in chains where chain.users == 0 {
            chains[content] = nil
            delta.deletedChains.append((chain.id, content.direction))
            for line in content.lines { release(line, &delta) }
        }
    }

    /// Sets a pod's chains per direction to what its selection says now.
    mutating func resolveChains(of key: ObjectKey, _ delta: inout Delta) {
        let previous = podChains[key]
        var next: PodChains?
        if let pod = pods[key], isLocal(pod), let selection = selectedBy[key], selection.values.contains(where: { !$0.isEmpty }) {
            var contents: [Direction: ChainContent] = [:]
            for direction in Direction.allCases {
                guard let policyKeys = selection[direction], !policyKeys.isEmpty else { continue }
                var lines: [ChainLine] = []
                for policyKey in policyKeys.sorted() {
                    guard let policy = policies[policyKey], let rules = policy.rules[direction], let version = versions[policyKey] else { continue }
                    for (index, rule) in rules.enumerated() {
                        let ref = RuleRef(policy: policyKey, version: version, direction: direction, index: index)
                        lines.append(acquire(ref, rule, selected: pod, &delta))
                    }
                }
                contents[direction] = ChainContent(direction: direction, lines: lines)
            }
            next = PodChains(ips: pod.ips, contents: contents)
        }
        guard next != previous else {
            // Same chains: the instances acquired for them go back.
            for content in next.map({ Array($0.contents.values) }) ?? [] { for line in content.lines { release(line, &delta) } }
            return
        }
        podChains[key] = next
        for direction in Direction.allCases {
            let old = previous?.contents[direction], new = next?.contents[direction]
            let oldName = old.flatMap { chains[$0]?.id }
            var newName: UInt32?
            if let new {
                if let existing = chains[new] {
                    newName = existing.id
                    chains[new]!.users += 1
                    // The chain holds its lines' instances already.
                    for line in new.lines { release(line, &delta) }
                } else {
                    let id = nextChain
                    nextChain += 1
                    chains[new] = (id, 1)
                    delta.newChains.append((id, new))
                    newName = id
                }
            }
            if let old { chains[old]!.users -= 1 }
            let oldIPs = previous?.ips ?? [], newIPs = next?.ips ?? []
            if oldName != newName || oldIPs != newIPs {
                if let oldName { for ip in oldIPs { delta.delete(direction, ip, oldName) } }
                if let newName { for ip in newIPs { delta.add(direction, ip, newName) } }
            }
        }
    }

    /// The instance of a rule for a selected pod, created (with its elements) when new; each
    /// call takes a use that `release` gives back.
    mutating func acquire(_ ref: RuleRef, _ rule: PolicyRule, selected pod: PolicyPod, _ delta: inout Delta) -> ChainLine {
        var resolved: [PortSpan]?
        if ref.direction == .ingress, rule.hasNamedPorts { resolved = Self.spans(rule.ports, on: pod) }
        let key = InstanceKey(ref: ref, resolved: resolved)
        if instances[key] != nil {
            instances[key]!.users += 1
            return instances[key]!.line
        }
        let id = freeIDs.popLast() ?? { defer { nextID += 1 }; return nextID }()
        // Ports for every peer: ingress named ports resolved on the selected pod; egress ones
        // are resolved per destination pod (below), so only the numeric ones count here.
        let ports: [PortSpan]? = rule.ports.isEmpty ? nil
            : resolved ?? Self.spans(rule.ports.filter { if case .named = $0.port { false } else { true } }, on: nil)
        let hasIPBlocks = rule.peers.contains { if case .ipBlock = $0 { true } else { false } }
        let namedEgress = ref.direction == .egress && rule.hasNamedPorts
        let hasPodPeers = rule.hasSelectorPeers || namedEgress
        // The port part of a line: none (every port), or the rule's exact ports and/or ranges.
        let exact = (ports ?? []).filter { $0.first == $0.last }, ranges = (ports ?? []).filter { $0.first != $0.last }
        let portParts: [[PolicyTables.SetKind]] = rule.ports.isEmpty ? [[]]
            : (exact.isEmpty ? [] : [[.rulePorts]]) + (ranges.isEmpty ? [] : [[.rulePortRanges]])
        var lookups: [[PolicyTables.SetKind]] = []
        if rule.allowsAll {
            lookups = [[]]
        } else {
            // Egress named ports resolve per destination pod: those pods' elements carry their ports.
            if namedEgress { lookups.append([.podPorts]) } else if rule.hasSelectorPeers { lookups += portParts.map { [.podPeers] + $0 } }
            if hasIPBlocks { lookups += portParts.map { [.blockPeers] + $0 } }
            if rule.peers.isEmpty { lookups += portParts.filter { !$0.isEmpty } }
        }
        let comment = "\(ref.policy) \(ref.direction.rawValue)[\(ref.index)] #\(id)"
        var instance = Instance(id: id, rule: rule, namespace: ref.policy.namespace, direction: ref.direction, ports: ports,
                                users: 1, line: ChainLine(id: id, lookups: lookups, comment: comment), hasPodPeers: hasPodPeers)
        // Elements that belong to the rule itself (not to pods): its ports and its ipBlocks.
        let tag = ruleID(id)
        for span in exact {
            instance.ruleEntries.append(Entry(scope: .both, set: .rulePorts, element: SetElement([tag, .proto(span.proto), .port(span.first)])))
        }
        for span in ranges {
            instance.ruleEntries.append(Entry(scope: .both, set: .rulePortRanges, element: SetElement(
                [tag, .proto(span.proto), .port(span.first)], keyEnd: [tag, .proto(span.proto), .port(span.last)])))
        }
        if hasIPBlocks && !(!rule.ports.isEmpty && portParts.isEmpty) {
            var blocks: [AddressRange] = []
            for case .ipBlock(let cidr, let except) in rule.peers { blocks += AddressRange.subtracting(except, from: cidr) }
            for range in AddressRange.merged(blocks) {
                instance.ruleEntries.append(Entry(scope: Entry.Scope(range.first), set: .blockPeers, element: SetElement(
                    [Value(range.first), tag], keyEnd: [Value(range.last), tag])))
            }
        }
        delta.add(instance.ruleEntries)
        instances[key] = instance
        instanceByID[id] = key
        fresh.insert(key)
        if hasPodPeers {
            for podKey in candidates(for: instance) { refresh(podKey, in: key, &delta) }
        }
        return instance.line
    }

    /// Gives back a use of a line's instance; the last one removes its elements.
    mutating func release(_ line: ChainLine, _ delta: inout Delta) {
        guard let key = instanceByID[line.id] else { return }
        instances[key]!.users -= 1
        guard instances[key]!.users == 0, let instance = instances.removeValue(forKey: key) else { return }
        delta.delete(instance.ruleEntries + Array(instance.entriesAt.values.joined()))
        instanceByID[line.id] = nil
        freeIDs.append(instance.id)
    }

    /// Pods that may take part in an instance as peers.
    func candidates(for instance: Instance) -> Set<ObjectKey> {
        let rule = instance.rule
        if instance.direction == .egress && rule.hasNamedPorts
            && (rule.peers.isEmpty || rule.peers.contains { if case .ipBlock = $0 { true } else { false } }) {
            return Set(pods.keys)
        }
        var out: Set<ObjectKey> = []
        for case .pods(_, let namespaces) in rule.peers {
            if let namespaces {
                for (name, keys) in podsByNamespace where namespaces.matches(labels(ofNamespace: name)) { out.formUnion(keys) }
            } else {
                out.formUnion(podsByNamespace[instance.namespace] ?? [])
            }
        }
        return out
    }

    /// What a pod adds to an instance now (nil: nothing).
    func contribution(of pod: PolicyPod, to instance: Instance) -> Contribution? {
        let rule = instance.rule
        let isSelected = rule.peers.contains {
            $0.matches(pod, policyNamespace: instance.namespace, namespaceLabels: labels(ofNamespace:))
        }
        let namedEgress = instance.direction == .egress && rule.hasNamedPorts
        let named = namedEgress ? Self.spans(rule.ports.filter { if case .named = $0.port { true } else { false } }, on: pod) : []
        if isSelected {
            // Rule ports are the rule's own elements, except egress named ports: per pod.
            guard namedEgress else { return Contribution(ips: pod.ips, ports: nil) }
            let all = Self.merge((instance.ports ?? []) + named)
            return all.isEmpty ? nil : Contribution(ips: pod.ips, ports: all)
        }
        // Egress named ports also resolve on pods reached through an ipBlock or "everyone".
        guard namedEgress, !named.isEmpty else { return nil }
        let ips = rule.peers.isEmpty ? pod.ips : pod.ips.filter { ip in rule.peers.contains { $0.contains(ip) } }
        return ips.isEmpty ? nil : Contribution(ips: ips, ports: named)
    }

    /// Recomputes one pod's elements in one instance.
    mutating func refresh(_ podKey: ObjectKey, in key: InstanceKey, _ delta: inout Delta) {
        guard var instance = instances[key] else { return }
        let now = pods[podKey].flatMap { contribution(of: $0, to: instance) }
        let before = instance.contributions[podKey]
        guard now != before else { return }
        instance.contributions[podKey] = now
        var touched = Set(before?.ips ?? [])
        touched.formUnion(now?.ips ?? [])
        for ip in before?.ips ?? [] { instance.podsAt[ip]?.remove(podKey) }
        for ip in now?.ips ?? [] { instance.podsAt[ip, default: []].insert(podKey) }
        for ip in touched {
            // Every pod at this address (normally one) together: elements must not overlap.
            let holders = instance.podsAt[ip] ?? []
            var entries: [Entry] = []
            if !holders.isEmpty {
                let parts = holders.compactMap { instance.contributions[$0] }
                let ports: [PortSpan]? = parts.contains { $0.ports == nil } ? nil : Self.merge(parts.flatMap { $0.ports ?? [] })
                entries = Self.podEntries(ip, id: instance.id, ports: ports)
            } else {
                instance.podsAt[ip] = nil
            }
            let old = instance.entriesAt[ip] ?? []
            if old != entries {
                delta.delete(old)
                delta.add(entries)
                instance.entriesAt[ip] = entries.isEmpty ? nil : entries
            }
        }
        instances[key] = instance
    }

    /// Port entries as disjoint spans per protocol.
    static func spans(_ ports: [PolicyPort], on pod: PolicyPod?) -> [PortSpan] {
        merge(ports.flatMap { port in port.ranges(on: pod).map { PortSpan(proto: port.proto.rawValue, first: $0.lowerBound, last: $0.upperBound) } })
    }

    static func merge(_ spans: [PortSpan]) -> [PortSpan] {
        Dictionary(grouping: spans, by: \.proto).sorted { $0.key < $1.key }.flatMap { proto, spans in
            mergedPortRanges(spans.map { $0.first...$0.last }).map { PortSpan(proto: proto, first: $0.lowerBound, last: $0.upperBound) }
        }
    }

    /// A pod address's elements in an instance: pod . rule (pod-peers), or with ports per
    /// pod (pod-ports: egress named ports).
    static func podEntries(_ ip: IPAddress, id: UInt32, ports: [PortSpan]?) -> [Entry] {
        let address = Value(ip), tag = ruleID(id)
        guard let ports else { return [Entry(scope: Entry.Scope(ip), set: .podPeers, element: SetElement([address, tag]))] }
        return ports.map { span in
            Entry(scope: Entry.Scope(ip), set: .podPorts, element: SetElement(
                [address, tag, .proto(span.proto), .port(span.first)], keyEnd: [address, tag, .proto(span.proto), .port(span.last)]))
        }
    }
}
