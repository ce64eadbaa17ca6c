public import NetAddress

/// nftables values written in `nft`'s own syntax: what `nft list ruleset` would print and
/// `nft -f` reads back. Golden tests compare a compiler's output in this form (see
/// `FakeNFTables`), and `netplanectl` can show a transaction before it is committed.
///
/// Rules are kept as the kernel's expressions; this reads them back into statements the way
/// nft does when it lists a ruleset (a load and a comparison are one match, loads followed
/// by a lookup are a concatenation, and so on). Expressions that no statement explains are
/// written in nft's raw forms (`@nh,96,32`), so nothing is left out.
public enum RulesetText {
    /// A whole table as an `nft -f` block.
    public static func table(_ table: Table, chains: [(Chain, [Rule])], sets: [(NamedSet, [SetElement])]) -> String {
        var lines = ["table \(table.family) \(table.name) {"]
        var first = true
        for (set, elements) in sets {
            if !first { lines.append("") }
            first = false
            lines += self.set(set, elements: elements).map { "\t" + $0 }
        }
        for (chain, rules) in chains {
            if !first { lines.append("") }
            first = false
            lines.append("\tchain \(chain.name) {")
            if let base = chain.base {
                lines.append("\t\ttype \(base.type.rawValue) hook \(hookName(base.hook)) priority \(base.priority); policy \(base.policy == .accept ? "accept" : "drop");")
            }
            for rule in rules { lines.append("\t\t" + self.rule(rule, family: table.family)) }
            lines.append("\t}")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A set or map declaration with its elements (sorted, as nft lists them).
    public static func set(_ set: NamedSet, elements: [SetElement]) -> [String] {
        var lines = ["\(set.isMap ? "map" : "set") \(set.name) {"]
        var type = set.key.map(typeName).joined(separator: " . ")
        switch set.data {
        case .verdict: type += " : verdict"
        case .value(let types): type += " : " + types.map(typeName).joined(separator: " . ")
        case nil: break
        }
        lines.append("\ttype \(type)")
        let flags = [(SetFlags.constant, "constant"), (.interval, "interval"), (.timeout, "timeout"), (.dynamic, "dynamic")]
            .filter { set.flags.contains($0.0) }.map(\.1)
        if !flags.isEmpty { lines.append("\tflags \(flags.joined(separator: ","))") }
        if let timeout = set.timeoutMilliseconds { lines.append("\ttimeout \(duration(timeout))") }
        if !elements.isEmpty {
            let rendered = elements.map { element($0, key: set.key, data: set.data) }.sorted()
            lines.append("\telements = { " + rendered.joined(separator: ",\n\t\t     ") + " }")
        }
        lines.append("}")
        return lines
    }

    /// One element: `key [- keyEnd] [timeout Ns] [: data]`.
    public static func element(_ element: SetElement, key: [DataType], data: MapData?) -> String {
        var text = values(element.key, key)
        if let end = element.keyEnd { text += "-" + values(end, key) }
        if let timeout = element.timeoutMilliseconds { text += " timeout \(duration(timeout))" }
        switch (element.data, data) {
        case (.verdict(let verdict)?, _): text += " : " + self.verdict(verdict)
        case (.value(let items)?, .value(let types)?): text += " : " + values(items, types)
        case (.value(let items)?, _): text += " : " + items.map { value($0, nil) }.joined(separator: " . ")
        case (nil, _): break
        }
        return text
    }

    /// A rule's statements (and its comment).
    public static func rule(_ rule: Rule, family: Family) -> String {
        var reader = ExpressionReader(family: family)
        for expression in rule.expressions { reader.read(expression) }
        var statements = reader.finish()
        if let comment = rule.comment { statements.append("comment \"\(comment)\"") }
        return statements.joined(separator: " ")
    }

    public static func verdict(_ verdict: Verdict) -> String { verdict.description }

    static func hookName(_ hook: Hook) -> String {
        switch hook {
        case .prerouting: "prerouting"
        case .input: "input"
        case .forward: "forward"
        case .output: "output"
        case .postrouting: "postrouting"
        case .ingress: "ingress"
        }
    }

    static func typeName(_ type: DataType) -> String {
        switch type {
        case .ipv4Address: "ipv4_addr"
        case .ipv6Address: "ipv6_addr"
        case .etherAddress: "ether_addr"
        case .inetProto: "inet_proto"
        case .inetService: "inet_service"
        case .mark: "mark"
        case .ifname: "ifname"
        }
    }

    static func duration(_ milliseconds: UInt64) -> String {
        milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }

    static func values(_ items: [Value], _ types: [DataType]) -> String {
        items.enumerated().map { value($0.element, $0.offset < types.count ? types[$0.offset] : nil) }.joined(separator: " . ")
    }

    /// A typed value as nft prints it.
    static func value(_ value: Value, _ type: DataType?) -> String {
        switch value {
        case .ipv4(let address): return address.description
        case .ipv6(let address): return address.description
        case .proto(let number): return protocolName(number)
        case .port(let port): return String(port)
        case .mark(let mark): return hex(mark)
        case .ifname(let name): return "\"\(name)\""
        case .ether(let mac): return mac.description
        case .raw(let bytes): return bytesValue(bytes, type)
        }
    }

    /// Bytes as the kernel holds them, read as `type`.
    static func bytesValue(_ bytes: [UInt8], _ type: DataType?) -> String {
        switch type {
        case .ipv4Address? where bytes.count == 4: IPv4Address(bytes[0], bytes[1], bytes[2], bytes[3]).description
        case .ipv6Address? where bytes.count == 16: IPv6Address(bytes: bytes)?.description ?? rawHex(bytes)
        case .inetProto? where bytes.count == 1: protocolName(bytes[0])
        case .inetService? where bytes.count == 2: String(UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
        case .mark? where bytes.count == 4: hex(hostOrder(bytes))
        case .ifname?: "\"" + String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self) + "\""
        default: rawHex(bytes)
        }
    }

    static func protocolName(_ number: UInt8) -> String {
        switch number {
        case 1: "icmp"
        case 6: "tcp"
        case 17: "udp"
        case 58: "ipv6-icmp"
        case 132: "sctp"
        default: String(number)
        }
    }

    static func hostOrder(_ bytes: [UInt8]) -> UInt32 {
        bytes.prefix(4).enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    static func rawHex(_ bytes: [UInt8]) -> String {
        "0x" + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// Reads a rule's expressions back into nft statements, keeping what each register holds.
struct ExpressionReader {
    /// What a register holds, symbolically.
    indirect enum Held {
        /// A packet field (`ip daddr`) of a type.
        case field(String, DataType?)
        /// `field & mask` (a prefix match, or a bit test).
        case masked(Held, [UInt8])
        /// `meta mark | bits`.
        case orBits(Held, [UInt8])
        /// `numgen random mod N [offset O]`.
        case numgen(String)
        /// Constant bytes.
        case constant([UInt8])
        /// What `<key> map @set` yielded.
        case mapped(String)
    }

    let family: Family
    var registers: [UInt32: Held] = [:]
    /// Registers loaded since the last statement, in load order: a lookup's concatenated key.
    var loads: [UInt32] = []
    var statements: [String] = []

    init(family: Family) { self.family = family }

    mutating func finish() -> [String] { statements }

    mutating func load(_ register: Register, _ held: Held) {
        registers[register.raw] = held
        loads.removeAll { $0 == register.raw }
        loads.append(register.raw)
    }

    mutating func emit(_ statement: String) {
        statements.append(statement)
        loads.removeAll()
    }

    /// The key of a lookup from `register` on: the fields loaded into it and the registers after it.
    func key(from register: Register) -> (text: String, types: [DataType?]) {
        let used = loads.filter { $0 >= register.raw }
        let parts = (used.isEmpty ? [register.raw] : used).map { registers[$0] ?? .constant([]) }
        return (parts.map(describe).joined(separator: " . "), parts.map(type))
    }

    func describe(_ held: Held) -> String {
        switch held {
        case .field(let name, _): name
        case .masked(let inner, let mask): "\(describe(inner)) & \(RulesetText.rawHex(mask))"
        case .orBits(let inner, let bits): "\(describe(inner)) | \(bitsText(inner, bits))"
        case .numgen(let text): text
        case .constant(let bytes): RulesetText.rawHex(bytes)
        case .mapped(let text): text
        }
    }

    func type(_ held: Held) -> DataType? {
        switch held {
        case .field(_, let type): type
        case .masked(let inner, _), .orBits(let inner, _): type(inner)
        case .numgen: .mark
        case .constant, .mapped: nil
        }
    }

    func bitsText(_ held: Held, _ bits: [UInt8]) -> String {
        type(held) == .mark ? RulesetText.hex(RulesetText.hostOrder(bits)) : RulesetText.rawHex(bits)
    }

    /// The field a payload load reads, by family, offset and length.
    func payloadField(_ base: PayloadBase, _ offset: UInt32, _ length: UInt32) -> Held {
        switch (base, offset, length) {
        case (.network, 12, 4): return .field("ip saddr", .ipv4Address)
        case (.network, 16, 4): return .field("ip daddr", .ipv4Address)
        case (.network, 8, 16): return .field("ip6 saddr", .ipv6Address)
        case (.network, 24, 16): return .field("ip6 daddr", .ipv6Address)
        case (.transport, 0, 2): return .field("th sport", .inetService)
        case (.transport, 2, 2): return .field("th dport", .inetService)
        default:
            let header = switch base { case .link: "ll"; case .network: "nh"; case .transport: "th" }
            return .field("@\(header),\(offset * 8),\(length * 8)", nil)
        }
    }

    static func metaField(_ key: MetaKey) -> Held {
        switch key {
        case .length: .field("meta length", nil)
        case .protocol: .field("meta protocol", nil)
        case .mark: .field("meta mark", .mark)
        case .iif: .field("meta iif", nil)
        case .oif: .field("meta oif", nil)
        case .iifname: .field("iifname", .ifname)
        case .oifname: .field("oifname", .ifname)
        case .nfproto: .field("meta nfproto", nil)
        case .l4proto: .field("meta l4proto", .inetProto)
        }
    }

    static func ctField(_ key: CtKey) -> Held {
        switch key {
        case .state: .field("ct state", nil)
        case .direction: .field("ct direction", nil)
        case .status: .field("ct status", nil)
        case .mark: .field("ct mark", .mark)
        }
    }

    static func op(_ op: CmpOp) -> String {
        switch op {
        case .eq: ""
        case .neq: "!= "
        case .lt: "< "
        case .lte: "<= "
        case .gt: "> "
        case .gte: ">= "
        }
    }

    mutating func read(_ expression: Expression) {
        switch expression {
        case .payload(let base, let offset, let length, let into):
            load(into, payloadField(base, offset, length))
        case .meta(let key, let into):
            load(into, Self.metaField(key))
        case .ct(let key, let into):
            load(into, Self.ctField(key))
        case .numgen(let modulus, let offset, let into):
            load(into, .numgen("numgen random mod \(modulus)" + (offset == 0 ? "" : " offset \(offset)")))
        case .immediate(let bytes, let into):
            registers[into.raw] = .constant(bytes)
        case .bitwise(let from, let into, let mask, let xor):
            let source = registers[from.raw] ?? .constant([])
            if xor.allSatisfy({ $0 == 0 }) {
                registers[into.raw] = .masked(source, mask)
            } else if zip(mask, xor).allSatisfy({ $0 == ~$1 }) {
                registers[into.raw] = .orBits(source, xor)
            } else {
                registers[into.raw] = .masked(.orBits(source, xor), mask)
            }
        case .cmp(let register, let op, let bytes):
            emit(comparison(registers[register.raw] ?? .constant([]), op, bytes))
        case .setMeta(let key, let from):
            guard case .field(let name, _) = Self.metaField(key) else { return }
            emit("\(name) set \(describe(registers[from.raw] ?? .constant([])))")
        case .setCt(let key, let from):
            guard case .field(let name, _) = Self.ctField(key) else { return }
            emit("\(name) set \(describe(registers[from.raw] ?? .constant([])))")
        case .lookup(let set, let key, let into, let inverted):
            let (text, _) = self.key(from: key)
            if into == .verdict {
                emit("\(text) vmap @\(set)")
            } else if let into {
                registers[into.raw] = .mapped("\(text) map @\(set)")
                loads.removeAll()
            } else {
                emit("\(text) \(inverted ? "!= " : "")@\(set)")
            }
        case .lookupInline(let inline, let key, let into):
            let (text, types) = self.key(from: key)
            let keyTypes = types.count == inline.key.count ? types.enumerated().map { $0.element ?? inline.key[$0.offset] } : inline.key
            var elements = inline.elements.map { RulesetText.element($0, key: keyTypes, data: inline.data) }
            if case .numgen? = registers[key.raw] {
                // numgen yields a plain integer: its keys read as numbers.
                elements = inline.elements.map { element in
                    var text = element.key.map { value in
                        if case .mark(let number) = value { String(number) } else { RulesetText.value(value, nil) }
                    }.joined(separator: " . ")
                    if case .verdict(let verdict)? = element.data { text += " : " + verdict.description }
                    return text
                }
            }
            let body = "{ " + elements.joined(separator: ", ") + " }"
            if into == .verdict {
                emit("\(text) vmap \(body)")
            } else if let into {
                registers[into.raw] = .mapped("\(text) map \(body)")
                loads.removeAll()
            } else {
                emit("\(text) \(body)")
            }
        case .dynset(let op, let set, let key, let timeout):
            let verb = switch op { case .add: "add"; case .update: "update"; case .delete: "delete" }
            let (text, _) = self.key(from: key)
            emit("\(verb) @\(set) { \(text)\(timeout.map { " timeout \(RulesetText.duration($0))" } ?? "") }")
        case .verdict(let verdict):
            emit(verdict.description)
        case .counter:
            emit("counter")
        case .notrack:
            emit("notrack")
        case .log(let prefix):
            emit("log" + (prefix.map { " prefix \"\($0)\"" } ?? ""))
        case .masquerade(let flags):
            emit("masquerade" + natFlags(flags))
        case .reject(let type, let code):
            emit(reject(type, code))
        case .nat(let type, let natFamily, let address, let port, let flags):
            let verb = type == .dnat ? "dnat" : "snat"
            let familyText = family == .inet ? " \(natFamily)" : ""
            emit("\(verb)\(familyText) to \(natTarget(address, port, natFamily))\(natFlags(flags.subtracting([.mapIPs, .protoSpecified])))")
        }
    }

    func comparison(_ held: Held, _ op: CmpOp, _ bytes: [UInt8]) -> String {
        // `ip saddr 10.0.0.0/8`: a prefix mask on an address field.
        if case .masked(.field(let name, let type), let mask) = held, type == .ipv4Address || type == .ipv6Address,
           let length = prefixLength(mask), op == .eq || op == .neq {
            return "\(name) \(Self.op(op))\(RulesetText.bytesValue(bytes, type))/\(length)"
        }
        // `ct state established,related`: any of the bits.
        if case .masked(.field("ct state", _), let mask) = held, op == .neq, bytes.allSatisfy({ $0 == 0 }) {
            return "ct state \(ctStates(RulesetText.hostOrder(mask)))"
        }
        // `meta mark & 0x00004000 == 0x00004000`.
        if case .masked(let inner, let mask) = held {
            return "\(describe(inner)) & \(bitsText(inner, mask)) \(op == .eq ? "==" : Self.op(op).trimmingSpace) \(RulesetText.bytesValue(bytes, type(inner)))"
        }
        if case .numgen = held {
            return "\(describe(held)) \(Self.op(op))\(RulesetText.hostOrder(bytes))"
        }
        return "\(describe(held)) \(Self.op(op))\(RulesetText.bytesValue(bytes, type(held)))"
    }

    func prefixLength(_ mask: [UInt8]) -> Int? {
        var length = 0
        var ended = false
        for byte in mask {
            for bit in (0..<8).reversed() {
                if byte >> bit & 1 == 1 {
                    if ended { return nil }
                    length += 1
                } else {
                    ended = true
                }
            }
        }
        return length
    }

    func ctStates(_ bits: UInt32) -> String {
        let names: [(UInt32, String)] = [(1, "invalid"), (2, "established"), (4, "related"), (8, "new"), (64, "untracked")]
        return names.filter { bits & $0.0 != 0 }.map(\.1).joined(separator: ",")
    }

    func natTarget(_ address: Register?, _ port: Register?, _ natFamily: Family) -> String {
        guard let address, let held = registers[address.raw] else { return "" }
        if case .mapped(let text) = held { return text }
        guard case .constant(let bytes) = held else { return describe(held) }
        let addressText = RulesetText.bytesValue(bytes, bytes.count == 16 ? .ipv6Address : .ipv4Address)
        guard let port, case .constant(let portBytes)? = registers[port.raw] else { return addressText }
        let portText = RulesetText.bytesValue(portBytes, .inetService)
        return bytes.count == 16 ? "[\(addressText)]:\(portText)" : "\(addressText):\(portText)"
    }

    func natFlags(_ flags: NATFlags) -> String {
        let names: [(NATFlags, String)] = [(.random, "random"), (.fullyRandom, "fully-random"), (.persistent, "persistent")]
        let chosen = names.filter { flags.contains($0.0) }.map(\.1)
        return chosen.isEmpty ? "" : " " + chosen.joined(separator: ",")
    }

    func reject(_ type: RejectType, _ code: UInt8) -> String {
        switch type {
        case .tcpReset:
            return "reject with tcp reset"
        case .icmp where family == .ip6:
            let names: [UInt8: String] = [0: "no-route", 1: "admin-prohibited", 3: "addr-unreachable", 4: "port-unreachable"]
            return "reject with icmpv6 type \(names[code] ?? String(code))"
        case .icmp:
            let names: [UInt8: String] = [0: "net-unreachable", 1: "host-unreachable", 2: "prot-unreachable", 3: "port-unreachable",
                                          9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited"]
            return "reject with icmp type \(names[code] ?? String(code))"
        case .icmpx:
            let names: [UInt8: String] = [0: "no-route", 1: "port-unreachable", 2: "host-unreachable", 3: "admin-prohibited"]
            return "reject with icmpx type \(names[code] ?? String(code))"
        }
    }
}

extension String {
    var trimmingSpace: String { String(self.filter { $0 != " " }) }
}
