public import JSON

// Field paths and sets of them, as sigs.k8s.io/structured-merge-diff (SMD) has them: what a
// managedFields entry's `fieldsV1` encodes, and what server-side apply computes with.

/// One step of a field path (SMD's fieldpath.PathElement).
public enum PathElement: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// A field of an object (a struct field or a map key).
    case field(String)
    /// The element of a keyed list (`x-kubernetes-list-type: map`) with these key fields,
    /// sorted by name.
    case key([KeyField])
    /// The element of a set (`x-kubernetes-list-type: set`) with this value.
    case value(JSONValue)
    /// The element of a list at a position.
    case index(Int)

    public struct KeyField: Hashable, Sendable {
        public var name: String
        public var value: JSONValue
        public init(_ name: String, _ value: JSONValue) {
            self.name = name
            self.value = PathElement.canonical(value)
        }
    }

    /// A value as SMD compares it: an integral float equals the integer.
    static func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e15: .int(Int64(d))
        case .array(let a): .array(a.map(canonical))
        case .object(let o): .object(o.mapValues(canonical))
        default: value
        }
    }

    /// How the element names itself in `fieldsV1`: `f:name`, `k:{"name":"web"}`, `v:"x"`, `i:0`
    /// (JSON as Go's encoding/json writes it: compact, HTML characters escaped).
    public var serialized: String {
        switch self {
        case .field(let name): return "f:" + name
        case .key(let fields):
            var out = "k:{"
            for (i, field) in fields.enumerated() {
                if i > 0 { out += "," }
                GoJSON.writeString(field.name, into: &out)
                out += ":"
                GoJSON.write(field.value, into: &out)
            }
            return out + "}"
        case .value(let value):
            var out = "v:"
            GoJSON.write(value, into: &out)
            return out
        case .index(let i): return "i:" + String(i)
        }
    }

    enum Parsed { case element(PathElement), unknownType, invalid }

    /// Parses a `fieldsV1` key; unknown element types are reported apart (SMD skips them).
    static func parse(_ text: String) -> Parsed {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes[1] == UInt8(ascii: ":") else { return .invalid }
        let rest = String(decoding: bytes[2...], as: UTF8.self)
        switch bytes[0] {
        case UInt8(ascii: "f"): return .element(.field(rest))
        case UInt8(ascii: "v"):
            guard let value = try? JSONValue.parse(rest) else { return .invalid }
            return .element(.value(canonical(value)))
        case UInt8(ascii: "k"):
            guard case .object(let o)? = try? JSONValue.parse(rest) else { return .invalid }
            return .element(.key(o.keys.sorted(by: PathElement.byteOrder).map { KeyField($0, o[$0]!) }))
        case UInt8(ascii: "i"):
            guard let i = Int(rest) else { return .invalid }
            return .element(.index(i))
        default: return .unknownType
        }
    }

    /// SMD's PathElement.String(), used in conflict messages: `.spec`, `[name="web"]`, `[="x"]`, `[0]`.
    public var description: String {
        switch self {
        case .field(let name): ".\(name)"
        case .key(let fields): "[" + fields.map { "\($0.name)=\(Self.goString($0.value))" }.joined(separator: ",") + "]"
        case .value(let value): "[=\(Self.goString(value))]"
        case .index(let i): "[\(i)]"
        }
    }

    /// SMD's value.ToString.
    static func goString(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): GoText.float(d)
        case .string(let s): GoText.quote(s)
        case .array(let a): "[" + a.map(goString).joined(separator: ",") + "]"
        case .object(let o): o.keys.sorted(by: byteOrder).map { "\($0)=\(goString(o[$0]!))" }.joined()
        }
    }

    static func byteOrder(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// SMD's order: fields, then keys, then values, then indices.
    public static func < (lhs: PathElement, rhs: PathElement) -> Bool { compare(lhs, rhs) < 0 }

    static func compare(_ lhs: PathElement, _ rhs: PathElement) -> Int {
        func rank(_ e: PathElement) -> Int {
            switch e { case .field: 0; case .key: 1; case .value: 2; case .index: 3 }
        }
        switch (lhs, rhs) {
        case (.field(let a), .field(let b)): return a == b ? 0 : byteOrder(a, b) ? -1 : 1
        case (.key(let a), .key(let b)):
            for (x, y) in zip(a, b) {
                if x.name != y.name { return byteOrder(x.name, y.name) ? -1 : 1 }
                let c = compareValues(x.value, y.value)
                if c != 0 { return c }
            }
            return a.count == b.count ? 0 : a.count < b.count ? -1 : 1
        case (.value(let a), .value(let b)): return compareValues(a, b)
        case (.index(let a), .index(let b)): return a == b ? 0 : a < b ? -1 : 1
        default: return rank(lhs) < rank(rhs) ? -1 : 1
        }
    }

    /// SMD's value.Compare: numbers, then strings, booleans, lists, maps, null.
    static func compareValues(_ a: JSONValue, _ b: JSONValue) -> Int {
        func rank(_ v: JSONValue) -> Int {
            switch v { case .int, .double: 0; case .string: 1; case .bool: 2; case .array: 3; case .object: 4; case .null: 5 }
        }
        let (ra, rb) = (rank(a), rank(b))
        if ra != rb { return ra < rb ? -1 : 1 }
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y ? 0 : x < y ? -1 : 1
        case (.string(let x), .string(let y)): return x == y ? 0 : byteOrder(x, y) ? -1 : 1
        case (.bool(let x), .bool(let y)): return x == y ? 0 : !x ? -1 : 1
        case (.array(let x), .array(let y)):
            for (p, q) in zip(x, y) {
                let c = compareValues(p, q)
                if c != 0 { return c }
            }
            return x.count == y.count ? 0 : x.count < y.count ? -1 : 1
        case (.object(let x), .object(let y)):
            let xs = x.keys.sorted(by: byteOrder), ys = y.keys.sorted(by: byteOrder)
            for (p, q) in zip(xs, ys) {
                if p != q { return byteOrder(p, q) ? -1 : 1 }
                let c = compareValues(x[p]!, y[q]!)
                if c != 0 { return c }
            }
            return xs.count == ys.count ? 0 : xs.count < ys.count ? -1 : 1
        case (.null, .null): return 0
        default:
            let (x, y) = (a.doubleValue ?? 0, b.doubleValue ?? 0)
            return x == y ? 0 : x < y ? -1 : 1
        }
    }
}

/// A set of field paths (SMD's fieldpath.Set) as a trie: `members` are the paths of one element
/// below this node, `children` the subsets below each element. A path is in the set when its
/// last element is a member of the node its prefix leads to; children are never empty.
public struct FieldSet: Hashable, Sendable, CustomStringConvertible {
    public internal(set) var members: Set<PathElement> = []
    public internal(set) var children: [PathElement: FieldSet] = [:]

    public init() {}

    public init(_ paths: [[PathElement]]) {
        for path in paths { insert(path) }
    }

    public var isEmpty: Bool { members.isEmpty && children.isEmpty }

    public mutating func insert(_ path: [PathElement]) { insert(path[...]) }

    mutating func insert(_ path: ArraySlice<PathElement>) {
        guard let first = path.first else { return }
        if path.count == 1 {
            members.insert(first)
        } else {
            children[first, default: FieldSet()].insert(path.dropFirst())
        }
    }

    public func contains(_ path: [PathElement]) -> Bool {
        var node = self
        for (i, element) in path.enumerated() {
            if i == path.count - 1 { return node.members.contains(element) }
            guard let next = node.children[element] else { return false }
            node = next
        }
        return false
    }

    /// The subset below one element (SMD's WithPrefix), empty when there is none.
    func below(_ element: PathElement) -> FieldSet { children[element] ?? FieldSet() }

    public func union(_ other: FieldSet) -> FieldSet {
        if other.isEmpty { return self }
        if isEmpty { return other }
        var out = self
        out.members.formUnion(other.members)
        for (element, set) in other.children {
            if let mine = out.children[element] {
                out.children[element] = mine.union(set)
            } else {
                out.children[element] = set
            }
        }
        return out
    }

    public func intersection(_ other: FieldSet) -> FieldSet {
        var out = FieldSet()
        if isEmpty || other.isEmpty { return out }
        out.members = members.intersection(other.members)
        let (small, large) = children.count <= other.children.count ? (children, other.children) : (other.children, children)
        for (element, set) in small {
            guard let theirs = large[element] else { continue }
            let both = set.intersection(theirs)
            if !both.isEmpty { out.children[element] = both }
        }
        return out
    }

    /// The paths of this set that are not in `other` (a parent in `other` does not remove its
    /// children: SMD's Difference).
    public func subtracting(_ other: FieldSet) -> FieldSet {
        if isEmpty || other.isEmpty { return self }
        var out = self
        out.members.subtract(other.members)
        for (element, theirs) in other.children {
            guard let mine = out.children[element] else { continue }
            let rest = mine.subtracting(theirs)
            out.children[element] = rest.isEmpty ? nil : rest
        }
        return out
    }

    /// Every path of `other` removed with all its descendants (SMD's RecursiveDifference).
    public func recursivelySubtracting(_ other: FieldSet) -> FieldSet {
        if isEmpty || other.isEmpty { return self }
        var out = self
        out.members.subtract(other.members)
        for element in other.members { out.children[element] = nil }
        for (element, theirs) in other.children {
            guard let mine = out.children[element] else { continue }
            let rest = mine.recursivelySubtracting(theirs)
            out.children[element] = rest.isEmpty ? nil : rest
        }
        return out
    }

    /// The paths in SMD's iteration order (preorder: a node's members, sorted, then its
    /// children's paths, sorted by element).
    public var paths: [[PathElement]] {
        var out: [[PathElement]] = []
        var prefix: [PathElement] = []
        collect(&prefix, &out)
        return out
    }

    private func collect(_ prefix: inout [PathElement], _ out: inout [[PathElement]]) {
        for member in members.sorted() { out.append(prefix + [member]) }
        for element in children.keys.sorted() {
            prefix.append(element)
            children[element]!.collect(&prefix, &out)
            prefix.removeLast()
        }
    }

    /// One path as SMD prints it: `.spec.containers[name="web"].image`.
    public static func string(_ path: [PathElement]) -> String { path.map(\.description).joined() }

    public var description: String { paths.map(Self.string).joined(separator: "\n") }

    // MARK: fieldsV1

    /// Reads the `fieldsV1` trie of a managedFields entry; nil when it is malformed. Keys of an
    /// unknown element type are skipped, as SMD skips them.
    public init?(fieldsV1 json: JSONValue) {
        guard case .object(let o) = json, let (set, _) = Self.read(o) else { return nil }
        self = set ?? FieldSet()
    }

    /// The subset below a `fieldsV1` node, and whether the node's own path is a member (`"."`,
    /// or a node with nothing below it).
    private static func read(_ o: [String: JSONValue]) -> (FieldSet?, Bool)? {
        var children: FieldSet?
        var isMember = false
        for (key, value) in o {
            if key == "." {
                isMember = true
                continue
            }
            let element: PathElement
            switch PathElement.parse(key) {
            case .element(let e): element = e
            case .unknownType: continue
            case .invalid: return nil
            }
            guard case .object(let sub) = value, let (grandchildren, childIsMember) = read(sub) else { return nil }
            if childIsMember {
                if children == nil { children = FieldSet() }
                children!.members.insert(element)
            }
            if let grandchildren, !grandchildren.isEmpty {
                if children == nil { children = FieldSet() }
                children!.children[element] = grandchildren
            }
        }
        if children == nil { isMember = true }
        return (children, isMember)
    }

    /// The `fieldsV1` trie: `{"f:spec":{"f:replicas":{}}}`, `"."` marking a node that is itself
    /// a member and has paths below it.
    public var fieldsV1: JSONValue { .object(emit()) }

    private func emit() -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        out.reserveCapacity(members.count + children.count)
        for member in members where children[member] == nil {
            out[member.serialized] = .emptyObject
        }
        for (element, set) in children {
            var node = set.emit()
            if members.contains(element) { node["."] = .emptyObject }
            out[element.serialized] = .object(node)
        }
        return out
    }
}

/// JSON as Go's encoding/json (and json-iterator's standard-compatible mode) writes it inside
/// path elements: keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, floats in Go's form.
enum GoJSON {
    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += float(d)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, element) in a.enumerated() {
                if i > 0 { out += "," }
                write(element, into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, key) in o.keys.sorted(by: PathElement.byteOrder).enumerated() {
                if i > 0 { out += "," }
                writeString(key, into: &out)
                out += ":"
                write(o[key]!, into: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    /// encoding/json's float: the shortest digits, fixed notation from 1e-6 up to 1e21, else
    /// `1e-7` / `1e+21`.
    static func float(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == 0 { return "0" }
        let text = abs(d).description
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        var digits: [Character]
        var point: Int
        if let dot = mantissa.firstIndex(of: ".") {
            digits = Array(mantissa[..<dot]) + Array(mantissa[mantissa.index(after: dot)...])
            point = mantissa.distance(from: mantissa.startIndex, to: dot) + exponent
        } else {
            digits = Array(mantissa)
            point = mantissa.count + exponent
        }
        while digits.first == "0" { digits.removeFirst(); point -= 1 }
        while digits.last == "0" { digits.removeLast() }
        if digits.isEmpty { return "0" }
        let sign = d < 0 ? "-" : ""
        let magnitude = abs(d)
        if magnitude < 1e-6 || magnitude >= 1e21 {
            let exp = point - 1
            var out = sign + String(digits[0])
            if digits.count > 1 { out += "." + String(digits[1...]) }
            out += exp < 0 ? "e-" : "e+"
            out += abs(exp) < 10 && exp >= 0 ? "0\(abs(exp))" : String(abs(exp))
            return out
        }
        if point <= 0 { return sign + "0." + String(repeating: "0", count: -point) + String(digits) }
        if point >= digits.count { return sign + String(digits) + String(repeating: "0", count: point - digits.count) }
        return sign + String(digits[..<point]) + "." + String(digits[point...])
    }
}
