public import NFTablesModel
public import NetAddress

/// Puts rulesets into the kernel: the whole table at once (start, periodic resync), or only
/// what changed since the last one committed (every other sync). Either way one nftables
/// transaction per family: a packet sees the old rules or the new, never a half.
public enum RulesetApplier {
    /// The transaction that makes the kernel's table exactly `desired`. Deleting and re-adding
    /// the table inside the same transaction replaces it atomically: established connections
    /// keep their conntrack NAT state, and no new packet finds the table empty.
    public static func full(_ desired: ProxyRuleset) -> Transaction {
        var t = Transaction()
        t.add(desired.table)
        t.delete(desired.table)
        t.add(desired.table)
        for spec in desired.sets.values.sorted(by: { $0.set.name < $1.set.name }) {
            t.add(spec.set)
        }
        // Chains before the elements and rules that name them.
        for (name, spec) in desired.chains.sorted(by: { $0.key < $1.key }) {
            t.add(Chain(desired.table, name, base: spec.base))
        }
        for spec in desired.sets.values.sorted(by: { $0.set.name < $1.set.name }) {
            t.add(spec.elements, to: spec.set)
        }
        for (name, spec) in desired.chains.sorted(by: { $0.key < $1.key }) {
            for rule in spec.rules { t.add(Rule(desired.table, name, rule)) }
        }
        return t
    }
}

/// The proxy's memory of one family's tables as last committed, and the planner of the next
/// transaction. Each service port's fragment is kept, so a sync compiles only the services
/// whose value changed and sends only their difference: one endpoint added at 10k services
/// is a flush and refill of one chain (and maybe a set element), not a pass over 10k.
///
/// `sync…` plans the transaction, hands it to `commit` (which puts it in the kernel), and
/// only if that returns updates this memory, in place: a refused transaction leaves both
/// the kernel and the memory as they were.
public struct ProxyTable: Sendable {
    public let family: Family
    public let options: ProxyOptions
    /// The tables' fixed parts (for the sets an element goes into).
    let main: ProxyRuleset
    let shardBases: [ProxyRuleset]
    private(set) var ports: [String: ServicePort] = [:]
    private(set) var fragments: [String: ServiceFragment] = [:]
    /// Endpoint addresses in the hairpin set, with how many service ports name each.
    private(set) var hairpin: [IPAddress: Int] = [:]

    public init(family: Family, options: ProxyOptions) {
        self.family = family
        self.options = options
        main = RulesetCompiler.mainBase(family: family, options: options)
        shardBases = (0..<options.shards).map { RulesetCompiler.shardBase($0, family: family, options: options) }
    }

    /// How many service ports are programmed.
    public var count: Int { ports.count }

    /// Rewrites every table (on start, and on the periodic resync), in one transaction.
    public mutating func syncFull<E: Error>(_ ports: [ServicePort], commit: (Transaction) throws(E) -> Void) throws(E) {
        var next = ProxyTable(family: family, options: options)
        for port in ports {
            let piece = RulesetCompiler.fragment(port, family: family, options: options)
            next.ports[port.id] = port
            next.fragments[port.id] = piece
            for address in piece.hairpin { next.hairpin[address, default: 0] += 1 }
        }
        let tables = RulesetCompiler.assemble(Array(next.fragments.values), family: family, options: options)
        try commit(tables.all.map(RulesetApplier.full).reduce(Transaction(), +))
        self = next
    }

    /// Only what changed since the last commit, found by comparing every port.
    public mutating func syncAll<E: Error>(_ ports: [ServicePort], commit: (Transaction) throws(E) -> Void) throws(E) {
        var desired = Set<String>()
        var upserted: [ServicePort] = []
        for port in ports {
            let id = port.id
            desired.insert(id)
            if self.ports[id] != port { upserted.append(port) }
        }
        try syncChanges(upserted: upserted, removed: self.ports.keys.filter { !desired.contains($0) }, commit: commit)
    }

    /// Only the given changes: the ports of services that changed (their new state) and the
    /// ids of ports that are gone. The daemon knows these from its informers, so a change at
    /// 10k services costs the work of one service.
    public mutating func syncChanges<E: Error>(upserted: [ServicePort], removed: [String],
                                               commit: (Transaction) throws(E) -> Void) throws(E) {
        var desired: [String: ServicePort] = [:]
        for port in upserted { desired[port.id] = port }
        let changed = (Array(desired.keys) + removed.filter { desired[$0] == nil && ports[$0] != nil }).sorted()

        var setAdds = Transaction(), chainOps = Transaction(), deletes = Transaction(), adds = Transaction()
        var removals = Transaction()
        var newFragments: [(String, ServiceFragment?)] = []
        var hairpinDelta: [IPAddress: Int] = [:]
        for id in changed {
            let after = desired[id]
            if ports[id] == after { continue }
            let old = fragments[id] ?? ServiceFragment()
            let new = after.map { RulesetCompiler.fragment($0, family: family, options: options) } ?? ServiceFragment()
            newFragments.append((id, after == nil ? nil : new))
            let shard = after == nil ? old.shard : new.shard
            let table = shardBases[shard].table

            for (name, set) in new.sets.sorted(by: { $0.key < $1.key }) where old.sets[name] == nil { setAdds.add(set) }
            for (name, spec) in new.chains.sorted(by: { $0.key < $1.key }) where old.chains[name] != spec {
                let chain = Chain(table, name, base: spec.base)
                if old.chains[name] == nil { chainOps.add(chain) } else { chainOps.flush(chain) }
                for rule in spec.rules { chainOps.add(Rule(table, name, rule)) }
            }
            for name in old.chains.keys.sorted() where new.chains[name] == nil {
                let chain = Chain(shardBases[old.shard].table, name)
                removals.flush(chain)
                removals.delete(chain)
            }
            // After the chains whose rules named them are flushed or gone.
            for (name, set) in old.sets.sorted(by: { $0.key < $1.key }) where new.sets[name] == nil { removals.delete(set) }
            for name in Set(old.elements.keys).union(new.elements.keys).sorted() {
                guard let set = (shardBases[shard].sets[name] ?? main.sets[name])?.set else { continue }
                let was = Set(old.elements[name] ?? []), will = Set(new.elements[name] ?? [])
                deletes.delete((old.elements[name] ?? []).filter { !will.contains($0) }, from: set)
                adds.add((new.elements[name] ?? []).filter { !was.contains($0) }, to: set)
            }
            for address in old.hairpin.subtracting(new.hairpin) { hairpinDelta[address, default: 0] -= 1 }
            for address in new.hairpin.subtracting(old.hairpin) { hairpinDelta[address, default: 0] += 1 }
        }
        var hairpinAdded: [IPAddress] = [], hairpinGone: [IPAddress] = []
        for (address, delta) in hairpinDelta where delta != 0 {
            let before = hairpin[address] ?? 0
            if before == 0 && before + delta > 0 { hairpinAdded.append(address) }
            if before > 0 && before + delta <= 0 { hairpinGone.append(address) }
        }
        if let set = main.sets["hairpin"]?.set {
            deletes.delete(hairpinGone.sorted().map(RulesetCompiler.hairpinElement), from: set)
            adds.add(hairpinAdded.sorted().map(RulesetCompiler.hairpinElement), to: set)
        }
        // Sets and chains first (rules and elements name them), element deletions before additions (an
        // element whose verdict changed is deleted and added again), dropped chains last
        // (once no element names them).
        // `commit` is called even when there is nothing to do: a caller nesting two tables'
        // syncs commits both families' changes from the inner call.
        try commit(setAdds + chainOps + deletes + adds + removals)

        // Committed: remember it (in place, so a change costs no copy of 10k entries).
        for (id, fragment) in newFragments {
            ports[id] = desired[id]
            fragments[id] = fragment
        }
        for (address, delta) in hairpinDelta where delta != 0 {
            let count = (hairpin[address] ?? 0) + delta
            hairpin[address] = count > 0 ? count : nil
        }
    }
}
