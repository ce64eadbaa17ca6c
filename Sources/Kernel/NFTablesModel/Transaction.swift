/// A list of changes committed to the kernel as ONE nftables batch: all of them take effect
/// together, or (when the kernel refuses any one) none do.
///
/// Verbs follow `nft`: `add` creates or leaves an existing object alone, `create` fails if it
/// exists, `delete` fails if it is missing, `flush` empties.
public struct Transaction: Sendable {
    package enum Operation: Sendable {
        case add(Object), create(Object), delete(Object), flush(Object)
        case addElements(NamedSet, [SetElement])
        case deleteElements(NamedSet, [SetElement])
        case insertRule(Rule)
        case replaceRule(Rule)
    }

    package enum Object: Sendable {
        case table(Table), chain(Chain), set(NamedSet), rule(Rule)
    }

    package private(set) var operations: [Operation] = []

    public init() {}

    public var isEmpty: Bool { operations.isEmpty }

    /// Both transactions' changes, `a`'s first, as one transaction.
    public static func + (a: Transaction, b: Transaction) -> Transaction {
        var both = a
        both.operations += b.operations
        return both
    }
    public var count: Int { operations.count }

    // Tables
    public mutating func add(_ table: Table) { operations.append(.add(.table(table))) }
    public mutating func create(_ table: Table) { operations.append(.create(.table(table))) }
    public mutating func delete(_ table: Table) { operations.append(.delete(.table(table))) }
    public mutating func flush(_ table: Table) { operations.append(.flush(.table(table))) }

    // Chains
    public mutating func add(_ chain: Chain) { operations.append(.add(.chain(chain))) }
    public mutating func create(_ chain: Chain) { operations.append(.create(.chain(chain))) }
    public mutating func delete(_ chain: Chain) { operations.append(.delete(.chain(chain))) }
    public mutating func flush(_ chain: Chain) { operations.append(.flush(.chain(chain))) }

    // Sets and maps
    public mutating func add(_ set: NamedSet) { operations.append(.add(.set(set))) }
    public mutating func create(_ set: NamedSet) { operations.append(.create(.set(set))) }
    public mutating func delete(_ set: NamedSet) { operations.append(.delete(.set(set))) }
    public mutating func flush(_ set: NamedSet) { operations.append(.flush(.set(set))) }
    public mutating func add(_ elements: [SetElement], to set: NamedSet) {
        if !elements.isEmpty { operations.append(.addElements(set, elements)) }
    }
    public mutating func delete(_ elements: [SetElement], from set: NamedSet) {
        if !elements.isEmpty { operations.append(.deleteElements(set, elements)) }
    }

    // Rules
    /// Appends a rule at the end of its chain.
    public mutating func add(_ rule: Rule) { operations.append(.add(.rule(rule))) }
    /// Inserts a rule at the start of its chain.
    public mutating func insert(_ rule: Rule) { operations.append(.insertRule(rule)) }
    /// Replaces the rule with `rule.handle` in place.
    public mutating func replace(_ rule: Rule) { operations.append(.replaceRule(rule)) }
    /// Deletes the rule with `rule.handle`.
    public mutating func delete(_ rule: Rule) { operations.append(.delete(.rule(rule))) }
}

extension Transaction.Object {
    package var label: String {
        switch self {
        case .table(let t): "table \(t.family) \(t.name)"
        case .chain(let c): "chain \(c.table.family) \(c.table.name) \(c.name)"
        case .set(let s): "\(s.isMap ? "map" : "set") \(s.table.family) \(s.table.name) \(s.name)"
        case .rule(let r):
            "rule \(r.table.family) \(r.table.name) \(r.chain)"
                + (r.handle.map { " handle \($0)" } ?? "") + (r.comment.map { " comment \"\($0)\"" } ?? "")
        }
    }
}

extension Transaction.Operation {
    /// How the operation is named in errors, in `nft` words.
    package var label: String {
        switch self {
        case .add(let o): "add \(o.label)"
        case .create(let o): "create \(o.label)"
        case .delete(let o): "delete \(o.label)"
        case .flush(let o): "flush \(o.label)"
        case .addElements(let s, let e): "add \(e.count) element(s) to \(Transaction.Object.set(s).label)"
        case .deleteElements(let s, let e): "delete \(e.count) element(s) from \(Transaction.Object.set(s).label)"
        case .insertRule(let r): "insert \(Transaction.Object.rule(r).label)"
        case .replaceRule(let r): "replace \(Transaction.Object.rule(r).label)"
        }
    }
}
