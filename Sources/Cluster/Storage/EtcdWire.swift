/// etcd v3's gRPC messages (etcdserverpb, mvccpb), the few the store sends and reads, in the
/// protocol-buffer wire format, written by hand: a dozen messages do not justify protoc, its
/// plugins and the generated code. Field numbers are those of etcd's rpc.proto and kv.proto.
enum EtcdWire {
    // MARK: - Requests

    /// A compare of a transaction: the key's create or mod revision against a value.
    struct Compare: Sendable {
        enum Result: UInt64, Sendable { case equal = 0, greater = 1, less = 2, notEqual = 3 }
        enum Target: Sendable { case createRevision(Int64), modRevision(Int64) }
        var key: [UInt8]
        var result: Result
        var target: Target

        func encode(into w: inout ProtoWriter) {
            w.varint(1, result.rawValue)
            switch target {
            case .createRevision(let revision):
                w.varint(2, 1)   // CompareTarget.CREATE
                w.bytes(3, key)
                w.varint(5, UInt64(bitPattern: revision), always: true)   // a oneof member: 0 is sent
            case .modRevision(let revision):
                w.varint(2, 2)   // CompareTarget.MOD
                w.bytes(3, key)
                w.varint(6, UInt64(bitPattern: revision), always: true)
            }
        }
    }

    /// One operation of a transaction's success or failure branch.
    enum RequestOp: Sendable {
        case range(key: [UInt8])
        case put(key: [UInt8], value: [UInt8], prevKV: Bool)
        case delete(key: [UInt8], prevKV: Bool)

        func encode(into w: inout ProtoWriter) {
            switch self {
            case .range(let key):
                w.message(1) { $0.bytes(1, key) }
            case .put(let key, let value, let prevKV):
                w.message(2) {
                    $0.bytes(1, key)
                    $0.bytes(2, value)
                    $0.bool(4, prevKV)
                }
            case .delete(let key, let prevKV):
                w.message(3) {
                    $0.bytes(1, key)
                    $0.bool(3, prevKV)
                }
            }
        }
    }

    /// RangeRequest: `key` up to `rangeEnd` (exclusive; empty for the one key).
    static func range(key: [UInt8], rangeEnd: [UInt8] = [], limit: Int64 = 0, countOnly: Bool = false) -> [UInt8] {
        var w = ProtoWriter()
        w.bytes(1, key)
        w.bytes(2, rangeEnd)
        w.varint(3, UInt64(bitPattern: limit))
        w.bool(9, countOnly)
        return w.bytes
    }

    /// TxnRequest.
    static func txn(compare: [Compare], success: [RequestOp], failure: [RequestOp] = []) -> [UInt8] {
        var w = ProtoWriter()
        for c in compare { w.message(1) { c.encode(into: &$0) } }
        for op in success { w.message(2) { op.encode(into: &$0) } }
        for op in failure { w.message(3) { op.encode(into: &$0) } }
        return w.bytes
    }

    /// CompactionRequest.
    static func compaction(revision: Int64, physical: Bool) -> [UInt8] {
        var w = ProtoWriter()
        w.varint(1, UInt64(bitPattern: revision))
        w.bool(2, physical)
        return w.bytes
    }

    /// WatchRequest with a create_request: a watch the client numbers itself (`id`, etcd 3.4+),
    /// so one stream can carry many without waiting for each to be acknowledged.
    static func watchCreate(id: Int64, key: [UInt8], rangeEnd: [UInt8], startRevision: Int64, prevKV: Bool) -> [UInt8] {
        var w = ProtoWriter()
        w.message(1) {
            $0.bytes(1, key)
            $0.bytes(2, rangeEnd)
            $0.varint(3, UInt64(bitPattern: startRevision))
            $0.bool(6, prevKV)
            $0.varint(7, UInt64(bitPattern: id))
        }
        return w.bytes
    }

    /// WatchRequest with a cancel_request.
    static func watchCancel(id: Int64) -> [UInt8] {
        var w = ProtoWriter()
        w.message(2) { $0.varint(1, UInt64(bitPattern: id), always: true) }
        return w.bytes
    }

    // MARK: - Responses

    /// mvccpb.KeyValue.
    struct KeyValue: Sendable, Equatable {
        var key: [UInt8] = []
        var createRevision: Int64 = 0
        var modRevision: Int64 = 0
        var value: [UInt8] = []

        init(_ bytes: ArraySlice<UInt8>) throws(WireError) {
            var r = ProtoReader(bytes)
            while let field = try r.next() {
                switch field.number {
                case 1: key = Array(try field.bytes())
                case 2: createRevision = try field.int64()
                case 3: modRevision = try field.int64()
                case 5: value = Array(try field.bytes())
                default: break
                }
            }
        }
    }

    /// The revision of a ResponseHeader.
    static func headerRevision(_ bytes: ArraySlice<UInt8>) throws(WireError) -> Int64 {
        var r = ProtoReader(bytes)
        var revision: Int64 = 0
        while let field = try r.next() { if field.number == 3 { revision = try field.int64() } }
        return revision
    }

    /// RangeResponse.
    struct RangeResponse: Sendable {
        var revision: Int64 = 0
        var kvs: [KeyValue] = []
        var more = false

        init(_ bytes: ArraySlice<UInt8>) throws(WireError) {
            var r = ProtoReader(bytes)
            while let field = try r.next() {
                switch field.number {
                case 1: revision = try headerRevision(try field.bytes())
                case 2: kvs.append(try KeyValue(try field.bytes()))
                case 3: more = try field.int64() != 0
                default: break
                }
            }
        }
    }

    /// One ResponseOp of a transaction.
    enum ResponseOp: Sendable {
        case range(RangeResponse)
        case put(prevKV: KeyValue?)
        case delete(prevKVs: [KeyValue])
        case other

        init(_ bytes: ArraySlice<UInt8>) throws(WireError) {
            self = .other
            var r = ProtoReader(bytes)
            while let field = try r.next() {
                switch field.number {
                case 1: self = .range(try RangeResponse(try field.bytes()))
                case 2:
                    var prev: KeyValue?
                    var inner = ProtoReader(try field.bytes())
                    while let f = try inner.next() { if f.number == 2 { prev = try KeyValue(try f.bytes()) } }
                    self = .put(prevKV: prev)
                case 3:
                    var prevs: [KeyValue] = []
                    var inner = ProtoReader(try field.bytes())
                    while let f = try inner.next() { if f.number == 3 { prevs.append(try KeyValue(try f.bytes())) } }
                    self = .delete(prevKVs: prevs)
                default: break
                }
            }
        }
    }

    /// TxnResponse.
    struct TxnResponse: Sendable {
        var revision: Int64 = 0
        var succeeded = false
        var responses: [ResponseOp] = []

        init(_ bytes: ArraySlice<UInt8>) throws(WireError) {
            var r = ProtoReader(bytes)
            while let field = try r.next() {
                switch field.number {
                case 1: revision = try headerRevision(try field.bytes())
                case 2: succeeded = try field.int64() != 0
                case 3: responses.append(try ResponseOp(try field.bytes()))
                default: break
                }
            }
        }
    }

    /// mvccpb.Event.
    struct Event: Sendable {
        var isDelete = false
        var kv = KeyValue()
        var prevKV: KeyValue?

        init(_ bytes: ArraySlice<UInt8>) throws(WireError) {
            var r = ProtoReader(bytes)
            while let field = try r.next() {
                switch field.number {
                case 1: isDelete = try field.int64() == 1
                case 2: kv = try KeyValue(try field.bytes())
                case 3: prevKV = try KeyValue(try field.bytes())
                default: break
                }
            }
        }
    }

    /// WatchResponse.
    struct WatchResponse: Sendable {
        var revision: Int64 = 0
        var watchID: Int64 = 0
        var created = false
        var canceled = false
        var compactRevision: Int64 = 0
        var cancelReason = ""
        var events: [Event] = []

        init(_ bytes: ArraySlice<UInt8>) throws(WireError) {
            var r = ProtoReader(bytes)
            while let field = try r.next() {
                switch field.number {
                case 1: revision = try headerRevision(try field.bytes())
                case 2: watchID = try field.int64()
                case 3: created = try field.int64() != 0
                case 4: canceled = try field.int64() != 0
                case 5: compactRevision = try field.int64()
                case 6: cancelReason = String(decoding: try field.bytes(), as: UTF8.self)
                case 11: events.append(try Event(try field.bytes()))
                default: break
                }
            }
        }
    }
}

extension EtcdWire.KeyValue {
    init() {}
}

extension EtcdWire.Event {
    init() {}
}

// MARK: - Wire format

struct WireError: Error, Sendable, CustomStringConvertible {
    var description: String
}

/// Writes protocol-buffer fields. Zero values are left out, as proto3 does, unless `always`
/// (a oneof member is sent even when zero).
struct ProtoWriter {
    var bytes: [UInt8] = []

    mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func varint(_ field: Int, _ value: UInt64, always: Bool = false) {
        guard value != 0 || always else { return }
        rawVarint(UInt64(field << 3))
        rawVarint(value)
    }

    mutating func bool(_ field: Int, _ value: Bool) { varint(field, value ? 1 : 0) }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        guard !value.isEmpty else { return }
        rawVarint(UInt64(field << 3 | 2))
        rawVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        rawVarint(UInt64(field << 3 | 2))
        rawVarint(UInt64(inner.bytes.count))
        bytes.append(contentsOf: inner.bytes)
    }
}

/// Reads protocol-buffer fields one at a time; unknown ones are skipped by the caller's
/// `default:` (their contents are already consumed).
struct ProtoReader {
    struct Field {
        var number: Int
        var varint: UInt64 = 0
        var payload: ArraySlice<UInt8>?

        func int64() throws(WireError) -> Int64 {
            guard payload == nil else { throw WireError(description: "field \(number): a varint was expected") }
            return Int64(bitPattern: varint)
        }

        func bytes() throws(WireError) -> ArraySlice<UInt8> {
            guard let payload else { throw WireError(description: "field \(number): bytes were expected") }
            return payload
        }
    }

    var input: ArraySlice<UInt8>

    init(_ input: ArraySlice<UInt8>) { self.input = input }

    mutating func rawVarint() throws(WireError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = input.popFirst() {
            guard shift < 64 else { break }
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw WireError(description: "a truncated or overlong varint")
    }

    mutating func next() throws(WireError) -> Field? {
        guard !input.isEmpty else { return nil }
        let tag = try rawVarint()
        var field = Field(number: Int(tag >> 3))
        switch tag & 7 {
        case 0:
            field.varint = try rawVarint()
        case 1, 5:
            let width = tag & 7 == 1 ? 8 : 4
            guard input.count >= width else { throw WireError(description: "field \(field.number): truncated") }
            input = input.dropFirst(width)
        case 2:
            let length = try rawVarint()
            guard length <= UInt64(input.count) else { throw WireError(description: "field \(field.number): truncated") }
            field.payload = input.prefix(Int(length))
            input = input.dropFirst(Int(length))
        default:
            throw WireError(description: "field \(field.number): wire type \(tag & 7) is not supported")
        }
        return field
    }
}
