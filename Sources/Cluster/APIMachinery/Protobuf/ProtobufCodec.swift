public import JSON
public import ProtobufWire

/// Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`) to and from the JSON
/// trees the server stores, driven by `ProtobufSchemas`: a document is the magic `k8s\0` and a
/// runtime.Unknown envelope whose `typeMeta` names the kind and whose `raw` holds the object's
/// message.
///
/// JSON is what Go's encoding/json would print for the same Go value: Go's generated code writes
/// non-pointer fields even when empty, and omits empty strings, lists and maps from JSON
/// (omitempty), so those are dropped here too; numbers and booleans on the wire are kept (a
/// pointer field such as `replicas: 0` is on the wire only when set). A field number the schema
/// does not know is an error, never skipped: silently dropping data is worse than refusing it.
public enum ProtobufCodec {
    /// The four bytes every Kubernetes protobuf document starts with.
    public static let magic: [UInt8] = [0x6b, 0x38, 0x73, 0x00]
    public static let mediaType = "application/vnd.kubernetes.protobuf"

    /// The message of a kind, if the schema table has it.
    public static func messageName(apiVersion: String, kind: String) -> String? {
        // A Status is meta/v1's, whatever group answered with it.
        if kind == "Status" { return "k8s.io.apimachinery.pkg.apis.meta.v1.Status" }
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        let (group, version) = parts.count == 2 ? (parts[0], parts[1]) : ("", parts[0])
        guard let package = builtinPackages[group] else { return nil }
        let name = "k8s.io.api.\(package).\(version).\(kind)"
        return ProtobufSchemas.byName[name] == nil ? nil : name
    }

    /// The proto package of each built-in API group. Only these have messages: a custom
    /// resource's group such as `batch.tutorial.kubebuilder.io` must never borrow batch/v1's
    /// CronJob schema because its first label matches, so custom resources are JSON only, as
    /// in Kubernetes.
    static let builtinPackages: [String: String] = [
        "": "core", "apps": "apps", "batch": "batch", "policy": "policy", "autoscaling": "autoscaling",
        "authentication.k8s.io": "authentication", "authorization.k8s.io": "authorization",
        "rbac.authorization.k8s.io": "rbac", "certificates.k8s.io": "certificates",
        "coordination.k8s.io": "coordination", "discovery.k8s.io": "discovery", "events.k8s.io": "events",
        "metrics.k8s.io": "metrics", "networking.k8s.io": "networking", "scheduling.k8s.io": "scheduling",
    ]

    // MARK: Documents

    /// A protobuf document as the JSON object it encodes, with apiVersion and kind set.
    public static func decodeDocument(_ bytes: [UInt8]) throws(ProtobufError) -> JSONValue {
        guard bytes.count >= magic.count, Array(bytes.prefix(magic.count)) == magic else {
            throw ProtobufError("not a Kubernetes protobuf document (it does not start with k8s\\0)")
        }
        var reader = ProtobufReader(bytes, from: magic.count)
        var apiVersion = "", kind = ""
        var raw: Range<Int>?
        while !reader.atEnd {
            let (number, wire) = try reader.tag()
            switch (number, wire) {
            case (1, .lengthDelimited):
                let range = try reader.lengthDelimited()
                var typeMeta = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
                while !typeMeta.atEnd {
                    let (field, fieldWire) = try typeMeta.tag()
                    guard fieldWire == .lengthDelimited else { try typeMeta.skip(fieldWire); continue }
                    let text = String(decoding: bytes[try typeMeta.lengthDelimited()], as: UTF8.self)
                    if field == 1 { apiVersion = text } else if field == 2 { kind = text }
                }
            case (2, .lengthDelimited):
                raw = try reader.lengthDelimited()
            case (3, .lengthDelimited), (4, .lengthDelimited):
                let text = String(decoding: bytes[try reader.lengthDelimited()], as: UTF8.self)
                if number == 3, !text.isEmpty { throw ProtobufError("contentEncoding \(text) is not supported") }
                if number == 4, !text.isEmpty, text != mediaType { throw ProtobufError("contentType \(text) is not supported") }
            default:
                throw ProtobufError("field \(number) of runtime.Unknown is not known")
            }
        }
        guard !apiVersion.isEmpty, !kind.isEmpty else { throw ProtobufError("the document does not name its apiVersion and kind") }
        guard let message = messageName(apiVersion: apiVersion, kind: kind) else {
            throw ProtobufError("\(apiVersion) \(kind) has no protobuf schema on this server (send it as application/json)")
        }
        var object = try decode(bytes, raw ?? bytes.count..<bytes.count, message: message)
        object["apiVersion"] = .string(apiVersion)
        object["kind"] = .string(kind)
        return object
    }

    /// A JSON object (with apiVersion and kind) as a protobuf document. Throws when its kind
    /// has no schema or it holds a field the schema does not know (the caller answers in JSON).
    public static func encodeDocument(_ object: JSONValue) throws(ProtobufError) -> [UInt8] {
        guard let apiVersion = object["apiVersion"]?.stringValue, let kind = object["kind"]?.stringValue,
              let message = messageName(apiVersion: apiVersion, kind: kind) else {
            throw ProtobufError("no protobuf schema for \(object["apiVersion"]?.stringValue ?? "?") \(object["kind"]?.stringValue ?? "?")")
        }
        var body = object
        body["apiVersion"] = nil
        body["kind"] = nil
        var typeMeta = ProtobufWriter()
        typeMeta.bytesField(1, Array(apiVersion.utf8))
        typeMeta.bytesField(2, Array(kind.utf8))
        var unknown = ProtobufWriter()
        unknown.bytesField(1, typeMeta.bytes)
        unknown.bytesField(2, try encode(body, message: message))
        unknown.bytesField(3, [])
        unknown.bytesField(4, [])
        return magic + unknown.bytes
    }

    // MARK: Watch streams

    /// The content type of a protobuf watch stream.
    public static let watchMediaType = "application/vnd.kubernetes.protobuf;stream=watch"

    /// One frame of a protobuf watch stream, as kube-apiserver writes it: a 4-byte big-endian
    /// length, then a meta/v1 WatchEvent whose object holds the object's own protobuf document.
    public static func encodeWatchEvent(type: String, object: JSONValue) throws(ProtobufError) -> [UInt8] {
        var raw = ProtobufWriter()
        raw.bytesField(1, try encodeDocument(object))
        var event = ProtobufWriter()
        event.bytesField(1, Array(type.utf8))
        event.bytesField(2, raw.bytes)
        let n = UInt32(event.bytes.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + event.bytes
    }

    /// The frames of a protobuf watch stream as (type, object) pairs.
    public static func decodeWatchEvents(_ bytes: [UInt8]) throws(ProtobufError) -> [(type: String, object: JSONValue)] {
        var events: [(String, JSONValue)] = []
        var at = 0
        while at < bytes.count {
            guard at + 4 <= bytes.count else { throw ProtobufError("a watch frame is cut short") }
            let n = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            guard at + 4 + n <= bytes.count else { throw ProtobufError("a watch frame is cut short") }
            var reader = ProtobufReader(bytes, from: at + 4, to: at + 4 + n)
            var type = ""
            var object: JSONValue = .null
            while !reader.atEnd {
                let (number, wire) = try reader.tag()
                guard wire == .lengthDelimited else { try reader.skip(wire); continue }
                let range = try reader.lengthDelimited()
                if number == 1 { type = String(decoding: bytes[range], as: UTF8.self) }
                if number == 2 {
                    var raw = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
                    while !raw.atEnd {
                        let (field, rawWire) = try raw.tag()
                        guard field == 1, rawWire == .lengthDelimited else { try raw.skip(rawWire); continue }
                        object = try decodeDocument(Array(bytes[try raw.lengthDelimited()]))
                    }
                }
            }
            events.append((type, object))
            at += 4 + n
        }
        return events
    }

    // MARK: Messages

    /// The message `message` in `bytes[range]` as a JSON object.
    public static func decode(_ bytes: [UInt8], _ range: Range<Int>, message: String) throws(ProtobufError) -> JSONValue {
        guard let schema = ProtobufSchemas.byName[message], let fields = ProtobufSchemas.fieldsByNumber[message] else {
            throw ProtobufError("no schema for message \(message)")
        }
        var reader = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
        var object: [String: JSONValue] = [:]
        while !reader.atEnd {
            let (number, wire) = try reader.tag()
            guard let field = fields[number] else {
                throw ProtobufError("field \(number) of \(schema.name) is not known to this server")
            }
            // Packed repeated scalars (accepted, though Kubernetes' proto2 does not pack).
            if wire == .lengthDelimited, field.repeated, field.type.isVarint {
                let packed = try reader.lengthDelimited()
                var inner = ProtobufReader(bytes, from: packed.lowerBound, to: packed.upperBound)
                while !inner.atEnd { append(field, try scalar(field.type, try inner.varint()), to: &object) }
                continue
            }
            let value = try decodeValue(field, wire, &reader, bytes, in: schema.name)
            if field.json.isEmpty {
                // An inline (embedded) message: its fields belong to this object.
                if case .object(let inline) = value { object.merge(inline) { _, new in new } }
            } else if case .map = field.type {
                guard case .object(let entry) = value else { continue }
                var map = object[field.json]?.objectValue ?? [:]
                map.merge(entry) { _, new in new }
                object[field.json] = .object(map)
            } else if field.repeated {
                append(field, value, to: &object)
            } else {
                object[field.json] = value
            }
        }
        // What Go's JSON encoding leaves out (omitempty): empty strings, lists and maps.
        for (key, value) in object {
            switch value {
            case .string(let s) where s.isEmpty: object[key] = nil
            case .array(let a) where a.isEmpty: object[key] = nil
            case .object(let o) where o.isEmpty && ProtobufSchemas.isMap(schema, key): object[key] = nil
            case .null: object[key] = nil
            default: break
            }
        }
        return .object(object)
    }

    static func append(_ field: FieldSchema, _ value: JSONValue, to object: inout [String: JSONValue]) {
        var list = object[field.json]?.arrayValue ?? []
        list.append(value)
        object[field.json] = .array(list)
    }

    static func scalar(_ type: FieldType, _ raw: UInt64) throws(ProtobufError) -> JSONValue {
        switch type {
        case .bool: return .bool(raw != 0)
        case .int32: return .int(Int64(Int32(truncatingIfNeeded: raw)))
        case .int64: return .int(Int64(bitPattern: raw))
        default: throw ProtobufError("a varint where a \(type) belongs")
        }
    }

    static func decodeValue(_ field: FieldSchema, _ wire: WireType, _ reader: inout ProtobufReader, _ bytes: [UInt8],
                            in message: String) throws(ProtobufError) -> JSONValue {
        func expect(_ expected: WireType) throws(ProtobufError) {
            guard wire == expected else {
                throw ProtobufError("field \(field.number) (\(field.json)) of \(message): wire type \(wire.rawValue), expected \(expected.rawValue)")
            }
        }
        switch field.type {
        case .bool, .int32, .int64:
            try expect(.varint)
            return try scalar(field.type, try reader.varint())
        case .double:
            try expect(.fixed64)
            return .double(Double(bitPattern: try reader.fixed64()))
        case .string:
            try expect(.lengthDelimited)
            return .string(String(decoding: bytes[try reader.lengthDelimited()], as: UTF8.self))
        case .bytes:
            try expect(.lengthDelimited)
            return .string(Base64.encode(bytes[try reader.lengthDelimited()]))
        case .message(let name):
            try expect(.lengthDelimited)
            return try decode(bytes, try reader.lengthDelimited(), message: name)
        case .map(let valueType):
            try expect(.lengthDelimited)
            let entry = try reader.lengthDelimited()
            var inner = ProtobufReader(bytes, from: entry.lowerBound, to: entry.upperBound)
            var key = ""
            var value: JSONValue = valueType.emptyJSON
            while !inner.atEnd {
                let (number, entryWire) = try inner.tag()
                if number == 1, entryWire == .lengthDelimited {
                    key = String(decoding: bytes[try inner.lengthDelimited()], as: UTF8.self)
                } else if number == 2 {
                    value = try decodeValue(FieldSchema(2, "value", valueType), entryWire, &inner, bytes, in: message)
                } else {
                    throw ProtobufError("map entry field \(number) of \(field.json) in \(message) is not known")
                }
            }
            return [key: value]
        case .time, .microTime:
            try expect(.lengthDelimited)
            let range = try reader.lengthDelimited()
            var inner = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
            var seconds: Int64 = 0, nanos: Int64 = 0
            while !inner.atEnd {
                let (number, timeWire) = try inner.tag()
                guard timeWire == .varint else { try inner.skip(timeWire); continue }
                let value = try inner.varint()
                if number == 1 { seconds = Int64(bitPattern: value) } else if number == 2 { nanos = Int64(Int32(truncatingIfNeeded: value)) }
            }
            // Go's zero time, which its JSON prints as null.
            if seconds == -62_135_596_800 && nanos == 0 { return .null }
            let text = APITime.format(Int(seconds))
            guard case .microTime = field.type else { return .string(text) }
            let micros = String(nanos / 1000)
            return .string(String(text.dropLast()) + "." + String(repeating: "0", count: 6 - micros.count) + micros + "Z")
        case .duration:
            try expect(.lengthDelimited)
            let range = try reader.lengthDelimited()
            var inner = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
            var nanoseconds: Int64 = 0
            while !inner.atEnd {
                let (number, durationWire) = try inner.tag()
                if number == 1, durationWire == .varint { nanoseconds = Int64(bitPattern: try inner.varint()) } else { try inner.skip(durationWire) }
            }
            return .string(GoDuration.format(nanoseconds))
        case .quantity:
            try expect(.lengthDelimited)
            let range = try reader.lengthDelimited()
            var inner = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
            var text = ""
            while !inner.atEnd {
                let (number, quantityWire) = try inner.tag()
                if number == 1, quantityWire == .lengthDelimited {
                    text = String(decoding: bytes[try inner.lengthDelimited()], as: UTF8.self)
                } else { try inner.skip(quantityWire) }
            }
            return .string(text)
        case .intOrString:
            try expect(.lengthDelimited)
            let range = try reader.lengthDelimited()
            var inner = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
            var isString = false, number: Int64 = 0, text = ""
            while !inner.atEnd {
                let (field, valueWire) = try inner.tag()
                switch (field, valueWire) {
                case (1, .varint): isString = try inner.varint() == 1
                case (2, .varint): number = Int64(Int32(truncatingIfNeeded: try inner.varint()))
                case (3, .lengthDelimited): text = String(decoding: bytes[try inner.lengthDelimited()], as: UTF8.self)
                default: try inner.skip(valueWire)
                }
            }
            return isString ? .string(text) : .int(number)
        case .stringList:
            try expect(.lengthDelimited)
            let range = try reader.lengthDelimited()
            var inner = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
            var items: [JSONValue] = []
            while !inner.atEnd {
                let (number, itemWire) = try inner.tag()
                guard number == 1, itemWire == .lengthDelimited else {
                    throw ProtobufError("field \(number) of a string list in \(message) is not known")
                }
                items.append(.string(String(decoding: bytes[try inner.lengthDelimited()], as: UTF8.self)))
            }
            return .array(items)
        case .rawExtension:
            try expect(.lengthDelimited)
            let range = try reader.lengthDelimited()
            var inner = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
            var raw: ArraySlice<UInt8> = []
            while !inner.atEnd {
                let (number, rawWire) = try inner.tag()
                if number == 1, rawWire == .lengthDelimited { raw = bytes[try inner.lengthDelimited()] } else { try inner.skip(rawWire) }
            }
            if raw.isEmpty { return .null }
            if raw.starts(with: magic) { return try decodeDocument(Array(raw)) }
            do { return try JSONValue.parse(raw) } catch {
                throw ProtobufError("field \(field.json) of \(message): embedded object is neither JSON nor protobuf: \(error)")
            }
        }
    }

    /// A JSON object as the message `message`; a key the schema does not know is an error.
    public static func encode(_ json: JSONValue, message: String) throws(ProtobufError) -> [UInt8] {
        guard let schema = ProtobufSchemas.byName[message] else { throw ProtobufError("no schema for message \(message)") }
        guard case .object(let object) = json else { throw ProtobufError("\(message): expected an object") }
        var writer = ProtobufWriter()
        var used = Set<String>()
        for field in schema.fields.sorted(by: { $0.number < $1.number }) {
            if field.json.isEmpty {
                // Inline: the embedded message takes its own keys from this object.
                guard case .message(let name) = field.type, let inline = ProtobufSchemas.byName[name] else { continue }
                let keys = Set(inline.allJSONKeys)
                let part = object.filter { keys.contains($0.key) }
                used.formUnion(part.keys)
                writer.bytesField(field.number, try encode(.object(part), message: name))
                continue
            }
            guard let value = object[field.json], !value.isNull else { continue }
            used.insert(field.json)
            if case .map(let valueType) = field.type {
                guard case .object(let map) = value else { throw ProtobufError("\(message).\(field.json): expected an object") }
                for key in map.keys.sorted() {
                    var entry = ProtobufWriter()
                    entry.bytesField(1, Array(key.utf8))
                    try encodeValue(FieldSchema(2, "value", valueType), map[key]!, into: &entry, in: message)
                    writer.bytesField(field.number, entry.bytes)
                }
            } else if field.repeated {
                guard case .array(let items) = value else { throw ProtobufError("\(message).\(field.json): expected a list") }
                for item in items { try encodeValue(field, item, into: &writer, in: message) }
            } else {
                try encodeValue(field, value, into: &writer, in: message)
            }
        }
        if let unknown = object.keys.sorted().first(where: { !used.contains($0) && !(object[$0]?.isNull ?? true) }) {
            throw ProtobufError("\(message) has no field \"\(unknown)\" in this server's schema")
        }
        return writer.bytes
    }

    static func encodeValue(_ field: FieldSchema, _ value: JSONValue, into writer: inout ProtobufWriter,
                            in message: String) throws(ProtobufError) {
        let name = "\(message).\(field.json)"
        switch field.type {
        case .bool:
            guard case .bool(let b) = value else { throw ProtobufError("\(name): expected a boolean") }
            writer.varintField(field.number, b ? 1 : 0)
        case .int32, .int64:
            guard let number = value.int64Value else { throw ProtobufError("\(name): expected an integer") }
            writer.varintField(field.number, UInt64(bitPattern: number))
        case .double:
            guard let number = value.doubleNumber else { throw ProtobufError("\(name): expected a number") }
            writer.fixed64Field(field.number, number.bitPattern)
        case .string:
            guard let text = value.stringValue else { throw ProtobufError("\(name): expected a string") }
            writer.bytesField(field.number, Array(text.utf8))
        case .bytes:
            guard let text = value.stringValue, let data = Base64.decode(text) else { throw ProtobufError("\(name): expected base64") }
            writer.bytesField(field.number, data)
        case .message(let inner):
            writer.bytesField(field.number, try encode(value, message: inner))
        case .map:
            throw ProtobufError("\(name): a map inside a list or a map is not a Kubernetes shape")
        case .time, .microTime:
            guard let text = value.stringValue, let seconds = APITime.parse(text) else { throw ProtobufError("\(name): expected an RFC 3339 time") }
            var inner = ProtobufWriter()
            inner.varintField(1, UInt64(bitPattern: Int64(seconds)))
            if case .microTime = field.type, let nanos = fractionNanos(text), nanos > 0 { inner.varintField(2, UInt64(nanos)) }
            writer.bytesField(field.number, inner.bytes)
        case .duration:
            guard let text = value.stringValue, let nanoseconds = GoDuration.parse(text) else {
                throw ProtobufError("\(name): expected a duration such as 1h30m or 500ms")
            }
            var inner = ProtobufWriter()
            inner.varintField(1, UInt64(bitPattern: nanoseconds))
            writer.bytesField(field.number, inner.bytes)
        case .quantity:
            let text: String
            switch value {
            case .string(let s): text = s
            case .int(let i): text = String(i)
            case .double(let d): text = String(d)
            default: throw ProtobufError("\(name): expected a quantity")
            }
            var inner = ProtobufWriter()
            inner.bytesField(1, Array(text.utf8))
            writer.bytesField(field.number, inner.bytes)
        case .intOrString:
            var inner = ProtobufWriter()
            switch value {
            case .int(let i):
                inner.varintField(1, 0)
                inner.varintField(2, UInt64(bitPattern: i))
                inner.bytesField(3, [])
            case .string(let s):
                inner.varintField(1, 1)
                inner.varintField(2, 0)
                inner.bytesField(3, Array(s.utf8))
            default: throw ProtobufError("\(name): expected a number or a string")
            }
            writer.bytesField(field.number, inner.bytes)
        case .rawExtension:
            var inner = ProtobufWriter()
            inner.bytesField(1, value.jsonBytes())
            writer.bytesField(field.number, inner.bytes)
        case .stringList:
            guard case .array(let items) = value else { throw ProtobufError("\(name): expected a list of strings") }
            var inner = ProtobufWriter()
            for item in items {
                guard let text = item.stringValue else { throw ProtobufError("\(name): expected a list of strings") }
                inner.bytesField(1, Array(text.utf8))
            }
            writer.bytesField(field.number, inner.bytes)
        }
    }

    /// The fractional seconds of an RFC 3339 time, in nanoseconds.
    static func fractionNanos(_ text: String) -> Int? {
        guard let dot = text.firstIndex(of: ".") else { return nil }
        let digits = text[text.index(after: dot)...].prefix { $0.isNumber }
        guard !digits.isEmpty else { return nil }
        let padded = String((digits + String(repeating: "0", count: 9)).prefix(9))
        return Int(padded)
    }
}

extension FieldType {
    var isVarint: Bool {
        switch self {
        case .bool, .int32, .int64: true
        default: false
        }
    }

    /// A map entry's value when the wire leaves it out.
    var emptyJSON: JSONValue {
        switch self {
        case .string, .bytes, .quantity: .string("")
        case .bool: .bool(false)
        case .int32, .int64: .int(0)
        case .double: .double(0)
        default: .null
        }
    }
}

extension JSONValue {
    var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    var doubleNumber: Double? {
        switch self {
        case .double(let d): d
        case .int(let i): Double(i)
        default: nil
        }
    }
}

/// Go's time.Duration text ("1h0m0s", "1m30s", "1.5s", "300ms", "0s"), which metav1.Duration
/// uses in JSON.
enum GoDuration {
    static func format(_ nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let negative = nanoseconds < 0
        let n = nanoseconds.magnitude
        var text: String
        if n < 1_000_000_000 {
            let (unit, scale): (String, UInt64) = n < 1_000 ? ("ns", 1) : n < 1_000_000 ? ("µs", 1_000) : ("ms", 1_000_000)
            text = fraction(n, scale) + unit
        } else {
            let hours = n / 3_600_000_000_000, minutes = n / 60_000_000_000 % 60
            let seconds = fraction(n % 60_000_000_000, 1_000_000_000) + "s"
            text = hours > 0 ? "\(hours)h\(minutes)m\(seconds)" : minutes > 0 ? "\(minutes)m\(seconds)" : seconds
        }
        return negative ? "-" + text : text
    }

    /// `value / scale` with the fraction's trailing zeros dropped.
    static func fraction(_ value: UInt64, _ scale: UInt64) -> String {
        let whole = value / scale, rest = value % scale
        guard rest > 0 else { return String(whole) }
        var digits = String(rest)
        digits = String(repeating: "0", count: String(scale).count - 1 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    static func parse(_ text: String) -> Int64? {
        var chars = Substring(text)
        var sign: Int64 = 1
        if chars.first == "-" { sign = -1; chars = chars.dropFirst() } else if chars.first == "+" { chars = chars.dropFirst() }
        if chars == "0" { return 0 }
        guard !chars.isEmpty else { return nil }
        var total: Double = 0
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 6e10), ("h", 3.6e12)]
        while !chars.isEmpty {
            let number = chars.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            chars = chars.dropFirst(number.count)
            let unitText = chars.prefix { !$0.isNumber && $0 != "." }
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            chars = chars.dropFirst(unitText.count)
            total += value * unit.1
        }
        return sign * Int64(total.rounded())
    }
}
