public import JSON

/// The JSONPath subset of CRD additionalPrinterColumns and scale subresource paths, evaluated
/// the way kubectl and the API server's table printer evaluate them (client-go's jsonpath with
/// missing keys allowed):
///
/// - fields `.a.b` (`\.` for a dot in a key), quoted fields `['a.b']`, the wildcard `.*` / `[*]` (object values in key order),
/// - array indexes `[0]`, `[-1]` (from the end) and slices `[1:3]`,
/// - filters `[?(@.type=="Ready")]` with `==`, `!=`, `<`, `<=`, `>`, `>=` against a string,
///   number, boolean or null literal, or `[?(@.field)]` for presence.
///
/// The expression may be wrapped in `{…}` and must start with `.`. Recursive descent (`..`),
/// unions and functions are not supported.
public struct JSONPath: Sendable, CustomStringConvertible {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    enum Step: Sendable {
        case field(String)
        case wildcard
        case index(Int)
        case slice(Int?, Int?)
        case filter(Filter)
    }

    struct Filter: Sendable {
        enum Op: String, Sendable { case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }
        var path: [Step]
        var comparison: (op: Op, literal: JSONValue)?
    }

    public let expression: String
    let steps: [Step]

    public var description: String { expression }

    public init(_ expression: String) throws {
        self.expression = expression
        var text = Substring(expression.trimmingWhitespace)
        if text.hasPrefix("{") {
            guard text.hasSuffix("}") else { throw ParseError(message: "unclosed action in \(expression)") }
            text = text.dropFirst().dropLast()
        }
        guard text.hasPrefix(".") else {
            throw ParseError(message: "\(expression): must be a simple json path starting with .")
        }
        var parser = Parser(Array(text.unicodeScalars), expression: expression)
        steps = try parser.parsePath(stopAt: nil)
    }

    /// Every value the path selects; a missing key or an index out of range selects nothing.
    public func evaluate(_ value: JSONValue) -> [JSONValue] {
        Self.evaluate(steps[...], [value])
    }

    static func evaluate(_ steps: ArraySlice<Step>, _ input: [JSONValue]) -> [JSONValue] {
        var current = input
        for step in steps {
            var next: [JSONValue] = []
            for value in current {
                switch step {
                case .field(let name):
                    if let child = value[name] { next.append(child) }
                case .wildcard:
                    switch value {
                    case .object(let o): next += o.keys.sorted().map { o[$0]! }
                    case .array(let a): next += a
                    default: break
                    }
                case .index(let i):
                    guard case .array(let a) = value else { continue }
                    let at = i < 0 ? a.count + i : i
                    if at >= 0 && at < a.count { next.append(a[at]) }
                case .slice(let start, let end):
                    guard case .array(let a) = value else { continue }
                    let clamp = { (i: Int) in min(max(i < 0 ? a.count + i : i, 0), a.count) }
                    let from = clamp(start ?? 0)
                    let to = clamp(end ?? a.count)
                    if from < to { next += a[from..<to] }
                case .filter(let filter):
                    guard case .array(let a) = value else { continue }
                    next += a.filter { filter.matches($0) }
                }
            }
            current = next
            if current.isEmpty { break }
        }
        return current
    }
}

extension JSONPath.Filter {
    func matches(_ element: JSONValue) -> Bool {
        let found = JSONPath.evaluate(path[...], [element])
        guard let comparison else { return !found.isEmpty }
        return found.contains { Self.compare($0, comparison.op, comparison.literal) }
    }

    static func compare(_ lhs: JSONValue, _ op: Op, _ rhs: JSONValue) -> Bool {
        func ordered<T: Comparable>(_ l: T, _ r: T) -> Bool {
            switch op {
            case .eq: l == r
            case .ne: l != r
            case .lt: l < r
            case .le: l <= r
            case .gt: l > r
            case .ge: l >= r
            }
        }
        if let l = lhs.doubleValue, let r = rhs.doubleValue { return ordered(l, r) }
        if case .string(let l) = lhs, case .string(let r) = rhs { return ordered(l, r) }
        switch op {
        case .eq: return lhs == rhs
        case .ne: return lhs != rhs
        default: return false
        }
    }
}

extension JSONPath {
    struct Parser {
        let chars: [Unicode.Scalar]
        let expression: String
        var i = 0

        init(_ chars: [Unicode.Scalar], expression: String) {
            self.chars = chars
            self.expression = expression
        }

        func fail(_ why: String) -> ParseError {
            ParseError(message: "invalid JSONPath \(expression): \(why)")
        }

        var atEnd: Bool { i >= chars.count }
        var current: Unicode.Scalar? { i < chars.count ? chars[i] : nil }

        /// Steps until the end, or until `stop` (the `)` closing a filter), which is left unread.
        mutating func parsePath(stopAt stop: Unicode.Scalar?) throws(ParseError) -> [Step] {
            var steps: [Step] = []
            while let c = current, c != stop {
                switch c {
                case ".":
                    i += 1
                    guard let next = current, next != stop else {
                        // a lone "." is the value itself (only meaningful as the whole path)
                        if steps.isEmpty && stop == nil { return steps }
                        throw fail("a field name must follow '.'")
                    }
                    if next == "." { throw fail("recursive descent (..) is not supported") }
                    if next == "*" {
                        i += 1
                        steps.append(.wildcard)
                    } else if next == "[" {
                        continue
                    } else {
                        steps.append(.field(try fieldName(stop: stop)))
                    }
                case "[":
                    steps.append(try bracket())
                default:
                    if c == " " || c == "\t" { throw fail("unexpected whitespace") }
                    throw fail("unexpected '\(c)'")
                }
            }
            return steps
        }

        mutating func fieldName(stop: Unicode.Scalar?) throws(ParseError) -> String {
            var name = String.UnicodeScalarView()
            while let c = current, c != ".", c != "[", c != stop {
                if c == "]" || c == "{" || c == "}" || c == "(" || c == ")" || c == " " || c == "," || c == "|" {
                    throw fail("unexpected '\(c)' in a field name")
                }
                if c == "\\", i + 1 < chars.count {   // `\.` is a dot inside a key
                    i += 1
                }
                name.append(chars[i])
                i += 1
            }
            if name.isEmpty { throw fail("empty field name") }
            return String(name)
        }

        mutating func bracket() throws(ParseError) -> Step {
            i += 1   // "["
            guard let c = current else { throw fail("unterminated [") }
            let step: Step
            if c == "*" {
                i += 1
                step = .wildcard
            } else if c == "'" || c == "\"" {
                step = .field(try quoted())
            } else if c == "?" {
                i += 1
                guard current == "(" else { throw fail("a filter is written [?(...)]") }
                i += 1
                step = .filter(try filter())
                guard current == ")" else { throw fail("unterminated filter") }
                i += 1
            } else {
                var text = ""
                while let d = current, d != "]" {
                    text.unicodeScalars.append(d)
                    i += 1
                }
                let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                    .map { $0.trimmingWhitespace }
                if parts.count == 1 {
                    guard let index = Int(parts[0]) else { throw fail("invalid array index \(text)") }
                    step = .index(index)
                } else {
                    let start = parts[0].isEmpty ? nil : Int(parts[0])
                    let end = parts[1].isEmpty ? nil : Int(parts[1])
                    if (start == nil && !parts[0].isEmpty) || (end == nil && !parts[1].isEmpty) {
                        throw fail("invalid array slice \(text)")
                    }
                    step = .slice(start, end)
                }
            }
            guard current == "]" else { throw fail("unterminated [") }
            i += 1
            return step
        }

        mutating func quoted() throws(ParseError) -> String {
            let quote = chars[i]
            i += 1
            var text = String.UnicodeScalarView()
            while let c = current, c != quote {
                if c == "\\", i + 1 < chars.count {
                    i += 1
                }
                text.append(chars[i])
                i += 1
            }
            guard current == quote else { throw fail("unterminated string") }
            i += 1
            return String(text)
        }

        mutating func skipSpaces() {
            while current == " " || current == "\t" { i += 1 }
        }

        mutating func filter() throws(ParseError) -> Filter {
            skipSpaces()
            guard current == "@" else { throw fail("a filter must start with @") }
            i += 1
            let path = try parsePathInFilter()
            skipSpaces()
            if current == ")" { return Filter(path: path, comparison: nil) }
            var opText = ""
            while let c = current, "=!<>".unicodeScalars.contains(c) {
                opText.unicodeScalars.append(c)
                i += 1
            }
            guard let op = Filter.Op(rawValue: opText) else { throw fail("unknown operator '\(opText)'") }
            skipSpaces()
            let literal = try self.literal()
            skipSpaces()
            return Filter(path: path, comparison: (op, literal))
        }

        /// The `@…` path of a filter: it ends at a space, an operator or the closing `)`.
        mutating func parsePathInFilter() throws(ParseError) -> [Step] {
            var steps: [Step] = []
            while let c = current, c != ")", c != " ", !"=!<>".unicodeScalars.contains(c) {
                switch c {
                case ".":
                    i += 1
                    guard let next = current, next != ")" else { throw fail("a field name must follow '.'") }
                    if next == "*" {
                        i += 1
                        steps.append(.wildcard)
                    } else if next != "[" {
                        var name = String.UnicodeScalarView()
                        while let d = current, d != ".", d != "[", d != ")", d != " ", !"=!<>".unicodeScalars.contains(d) {
                            name.append(d)
                            i += 1
                        }
                        if name.isEmpty { throw fail("empty field name") }
                        steps.append(.field(String(name)))
                    }
                case "[":
                    steps.append(try bracket())
                default:
                    throw fail("unexpected '\(c)' in a filter")
                }
            }
            return steps
        }

        mutating func literal() throws(ParseError) -> JSONValue {
            guard let c = current else { throw fail("a filter needs a value to compare with") }
            if c == "'" || c == "\"" { return .string(try quoted()) }
            var text = ""
            while let d = current, d != ")", d != " " {
                text.unicodeScalars.append(d)
                i += 1
            }
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null", "nil": return .null
            default:
                if let int = Int64(text) { return .int(int) }
                if let double = Double(text) { return .double(double) }
                throw fail("invalid value \(text)")
            }
        }
    }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let first = s.first, first.isWhitespace { s.removeFirst() }
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return String(s)
    }
}
