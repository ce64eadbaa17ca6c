/// An in-memory nftables, for tests of compilers and appliers without root (knftables' Fake):
/// it records every transaction committed to it and applies each the way the kernel does,
/// all or nothing, refusing what the kernel refuses (a missing table, chain or set; creating
/// what exists; a rule or element naming a chain or set that is not there; deleting a chain
/// that still has rules or is still jumped to). `text` prints the result in nft's syntax,
/// for comparison with a golden file that `nft -f` also loads.
public struct FakeNFTables: Sendable {
    /// Why the fake refused a transaction, naming the operation as the kernel's error would.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    struct TableState: Sendable {
        var table: Table
        var chains: [String: ChainState] = [:]
        var sets: [String: SetState] = [:]
    }

    struct ChainState: Sendable {
        var chain: Chain
        var rules: [Rule] = []
    }

    struct SetState: Sendable {
        var set: NamedSet
        var elements: [SetElement] = []
    }

    /// Tables by "family name".
    var tables: [String: TableState] = [:]
    var nextHandle: UInt64 = 1

    /// Every transaction committed, refused ones included, in order.
    public private(set) var committed: [Transaction] = []

    public init() {}

    /// Applies `transaction` whole, or throws and changes nothing (it is still recorded).
    public mutating func commit(_ transaction: Transaction) throws(Refusal) {
        committed.append(transaction)
        var next = self
        for operation in transaction.operations { try next.apply(operation) }
        try next.checkReferences()
        tables = next.tables
        nextHandle = next.nextHandle
    }

    static func key(_ table: Table) -> String { "\(table.family) \(table.name)" }

    mutating func apply(_ operation: Transaction.Operation) throws(Refusal) {
        switch operation {
        case .add(let object): try add(object, create: false)
        case .create(let object): try add(object, create: true)
        case .delete(let object): try delete(object)
        case .flush(let object): try flush(object)
        case .addElements(let set, let elements):
            try withSet(set, "add elements to") { (state: inout SetState) throws(Refusal) in
                for element in elements where !state.elements.contains(where: { $0.key == element.key && $0.keyEnd == element.keyEnd }) {
                    // Interval sets refuse an element overlapping another (the pipapo and
                    // rbtree backends answer "File exists").
                    if set.flags.contains(.interval), let other = state.elements.first(where: { Self.overlap($0, element) }) {
                        throw Refusal(description: "add element to \(Transaction.Object.set(set).label): \(Self.describe(element)) overlaps \(Self.describe(other)): File exists")
                    }
                    state.elements.append(element)
                }
            }
        case .deleteElements(let set, let elements):
            try withSet(set, "delete elements from") { (state: inout SetState) throws(Refusal) in
                for element in elements {
                    guard let index = state.elements.firstIndex(where: { $0.key == element.key && $0.keyEnd == element.keyEnd }) else {
                        throw Refusal(description: "delete element from \(Transaction.Object.set(set).label): No such file or directory")
                    }
                    state.elements.remove(at: index)
                }
            }
        case .insertRule(let rule):
            let rule = numbered(rule)
            try withChain(rule, "insert") { $0.rules.insert(rule, at: 0) }
        case .replaceRule(let rule):
            try withChain(rule, "replace") { (state: inout ChainState) throws(Refusal) in
                guard let index = state.rules.firstIndex(where: { $0.handle == rule.handle && rule.handle != nil }) else {
                    throw Refusal(description: "replace \(Transaction.Object.rule(rule).label): No such file or directory")
                }
                state.rules[index] = rule
            }
        }
    }

    mutating func numbered(_ rule: Rule) -> Rule {
        defer { nextHandle += 1 }
        return rule.withHandle(nextHandle)
    }

    mutating func add(_ object: Transaction.Object, create: Bool) throws(Refusal) {
        let exists = Refusal(description: "create \(object.label): File exists")
        switch object {
        case .table(let table):
            if tables[Self.key(table)] != nil {
                if create { throw exists }
                return
            }
            tables[Self.key(table)] = TableState(table: table)
        case .chain(let chain):
            try withTable(chain.table, object) { (state: inout TableState) throws(Refusal) in
                if state.chains[chain.name] != nil {
                    if create { throw exists }
                    return
                }
                state.chains[chain.name] = ChainState(chain: chain)
            }
        case .set(let set):
            try withTable(set.table, object) { (state: inout TableState) throws(Refusal) in
                if state.sets[set.name] != nil {
                    if create { throw exists }
                    return
                }
                state.sets[set.name] = SetState(set: set)
            }
        case .rule(let rule):
            let rule = numbered(rule)
            try withChain(rule, "add") { $0.rules.append(rule) }
        }
    }

    mutating func delete(_ object: Transaction.Object) throws(Refusal) {
        let missing = Refusal(description: "delete \(object.label): No such file or directory")
        switch object {
        case .table(let table):
            guard tables.removeValue(forKey: Self.key(table)) != nil else { throw missing }
        case .chain(let chain):
            try withTable(chain.table, object) { (state: inout TableState) throws(Refusal) in
                guard let existing = state.chains[chain.name] else { throw missing }
                guard existing.rules.isEmpty else { throw Refusal(description: "delete \(object.label): Device or resource busy") }
                state.chains[chain.name] = nil
            }
        case .set(let set):
            try withTable(set.table, object) { (state: inout TableState) throws(Refusal) in
                guard state.sets.removeValue(forKey: set.name) != nil else { throw missing }
            }
        case .rule(let rule):
            try withChain(rule, "delete") { (state: inout ChainState) throws(Refusal) in
                guard let index = state.rules.firstIndex(where: { $0.handle == rule.handle && rule.handle != nil }) else { throw missing }
                state.rules.remove(at: index)
            }
        }
    }

    mutating func flush(_ object: Transaction.Object) throws(Refusal) {
        switch object {
        case .table(let table):
            try withTable(table, object) { state in
                for name in state.chains.keys { state.chains[name]!.rules = [] }
                for name in state.sets.keys { state.sets[name]!.elements = [] }
            }
        case .chain(let chain):
            try withTable(chain.table, object) { (state: inout TableState) throws(Refusal) in
                guard state.chains[chain.name] != nil else { throw Refusal(description: "flush \(object.label): No such file or directory") }
                state.chains[chain.name]!.rules = []
            }
        case .set(let set):
            try withSet(set, "flush") { $0.elements = [] }
        case .rule:
            throw Refusal(description: "flush \(object.label): Operation not supported")
        }
    }

    /// The elements of a set or map as committed (nil when there is no such set).
    public func elements(of set: String, in table: Table) -> [SetElement]? {
        tables[Self.key(table)]?.sets[set]?.elements
    }

    /// The rules of a chain as committed (nil when there is no such chain).
    public func rules(of chain: String, in table: Table) -> [Rule]? {
        tables[Self.key(table)]?.chains[chain]?.rules
    }

    /// Whether two interval elements cover a common key: every field's ranges meet (fields
    /// compare as big-endian bytes, as the kernel compares keys).
    static func overlap(_ a: SetElement, _ b: SetElement) -> Bool {
        let aEnd = a.keyEnd ?? a.key, bEnd = b.keyEnd ?? b.key
        guard a.key.count == b.key.count else { return false }
        for i in a.key.indices {
            let (a0, a1, b0, b1) = (a.key[i].bytes, aEnd[i].bytes, b.key[i].bytes, bEnd[i].bytes)
            if a1.lexicographicallyPrecedes(b0) || b1.lexicographicallyPrecedes(a0) { return false }
        }
        return true
    }

    static func describe(_ element: SetElement) -> String {
        element.key.map { "\($0)" }.joined(separator: " . ") + (element.keyEnd.map { " - " + $0.map { "\($0)" }.joined(separator: " . ") } ?? "")
    }

    mutating func withTable(_ table: Table, _ object: Transaction.Object,
                            _ body: (inout TableState) throws(Refusal) -> Void) throws(Refusal) {
        guard var state = tables[Self.key(table)] else {
            throw Refusal(description: "\(object.label): table \(table.family) \(table.name): No such file or directory")
        }
        try body(&state)
        tables[Self.key(table)] = state
    }

    mutating func withChain(_ rule: Rule, _ verb: String, _ body: (inout ChainState) throws(Refusal) -> Void) throws(Refusal) {
        let label = "\(verb) \(Transaction.Object.rule(rule).label)"
        guard var table = tables[Self.key(rule.table)], var chain = table.chains[rule.chain] else {
            throw Refusal(description: "\(label): No such file or directory")
        }
        try body(&chain)
        table.chains[rule.chain] = chain
        tables[Self.key(rule.table)] = table
    }

    mutating func withSet(_ set: NamedSet, _ verb: String, _ body: (inout SetState) throws(Refusal) -> Void) throws(Refusal) {
        let label = "\(verb) \(Transaction.Object.set(set).label)"
        guard var table = tables[Self.key(set.table)], var state = table.sets[set.name] else {
            throw Refusal(description: "\(label): No such file or directory")
        }
        try body(&state)
        table.sets[set.name] = state
        tables[Self.key(set.table)] = table
    }

    /// What the kernel checks when the batch ends: every chain a rule or a verdict-map element
    /// jumps to, and every set a rule looks up, exists in the same table.
    func checkReferences() throws(Refusal) {
        for state in tables.values {
            func chainExists(_ verdict: Verdict, _ what: String) throws(Refusal) {
                if let target = verdict.chain, state.chains[target] == nil {
                    throw Refusal(description: "\(what): chain \(state.table.family) \(state.table.name) \(target): No such file or directory")
                }
            }
            for set in state.sets.values {
                for element in set.elements {
                    if case .verdict(let verdict)? = element.data { try chainExists(verdict, "element of \(set.set.name)") }
                }
            }
            for chain in state.chains.values {
                for rule in chain.rules {
                    for expression in rule.expressions {
                        switch expression {
                        case .verdict(let verdict): try chainExists(verdict, Transaction.Object.rule(rule).label)
                        case .lookup(let name, _, _, _), .dynset(_, let name, _, _):
                            if state.sets[name] == nil {
                                throw Refusal(description: "\(Transaction.Object.rule(rule).label): set \(name): No such file or directory")
                            }
                        case .lookupInline(let inline, _, _):
                            for element in inline.elements {
                                if case .verdict(let verdict)? = element.data { try chainExists(verdict, Transaction.Object.rule(rule).label) }
                            }
                        default: break
                        }
                    }
                }
            }
        }
    }

    /// Every table in nft's syntax, sorted by family and name; in each, sets then chains by
    /// name, elements sorted, rules in order.
    public var text: String {
        tables.values.sorted { Self.key($0.table) < Self.key($1.table) }.map { state in
            RulesetText.table(state.table,
                              chains: state.chains.values.sorted { $0.chain.name < $1.chain.name }.map { ($0.chain, $0.rules) },
                              sets: state.sets.values.sorted { $0.set.name < $1.set.name }.map { ($0.set, $0.elements) })
        }.joined(separator: "\n")
    }
}
