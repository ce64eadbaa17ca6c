import ProtobufWire

/// etcd v3's gRPC messages (etcdserverpb, mvccpb), the few the store sends and reads, written
/// by hand on `ProtobufWire`: a dozen messages do not justify protoc, its plugins and the
/// generated code. Field numbers are those of etcd's rpc.proto and kv.proto. As proto3 does,
/// zero values are left out, except a oneof member (a compare against revision 0).
enum EtcdWire {
    // MARK: - Requests

    /// A compare of a transaction: the key's create or mod revision against a value.
    struct Compare: Sendable {
        enum Result: UInt64, Sendable { case equal = 0, greater = 1, less = 2, notEqual = 3 }
        enum Target: Sendable { case createRevision(Int64), modRevision(Int64) }
        var key: [UInt8]
        var result: Result
        var target: Target

        func encode(into w: inout ProtobufWriter) {
            if result.rawValue != 0 { w.varintField(1, result.rawValue) }
            switch target {
            case .createRevision(let revision):
                w.varintField(2, 1)   // CompareTarget.CREATE
                w.bytesField(3, key)
                w.varintField(5, UInt64(bitPattern: revision))
            case .modRevision(let revision):
                w.varintField(2, 2)   // CompareTarget.MOD
                w.bytesField(3, key)
                w.varintField(6, UInt64(bitPattern: revision))
            }
        }
    }

    /// One operation of a transaction's success or failure branch.
    enum RequestOp: Sendable {
        case range(key: [UInt8])
        case put(key: [UInt8], value: [UInt8], prevKV: Bool)
        case delete(key: [UInt8], prevKV: Bool)

        func encode(into w: inout ProtobufWriter) {
            switch self {
            case .range(let key):
                w.messageField(1) { $0.bytesField(1, key) }
            case .put(let key, let value, let prevKV):
                w.messageField(2) {
                    $0.bytesField(1, key)
                    if !value.isEmpty { $0.bytesField(2, value) }
                    if prevKV { $0.varintField(4, 1) }
                }
            case .delete(let key, let prevKV):
                w.messageField(3) {
                    $0.bytesField(1, key)
                    if prevKV { $0.varintField(3, 1) }
                }
            }
        }
    }

    /// RangeRequest: `key` up to `rangeEnd` (exclusive; empty for the one key).
    static func range(key: [UInt8], rangeEnd: [UInt8] = [], limit: Int64 = 0, countOnly: Bool = false) -> [UInt8] {
        var w = ProtobufWriter()
        w.bytesField(1, key)
        if !rangeEnd.isEmpty { w.bytesField(2, rangeEnd) }
        if limit != 0 { w.varintField(3, UInt64(bitPattern: limit)) }
        if countOnly { w.varintField(9, 1) }
        return w.bytes
    }

    /// TxnRequest.
    static func txn(compare: [Compare], success: [RequestOp], failure: [RequestOp] = []) -> [UInt8] {
        var w = ProtobufWriter()
        for c in compare { w.messageField(1) { c.encode(into: &$0) } }
        for op in success { w.messageField(2) { op.encode(into: &$0) } }
        for op in failure { w.messageField(3) { op.encode(into: &$0) } }
        return w.bytes
    }

    /// CompactionRequest.
    static func compaction(revision: Int64, physical: Bool) -> [UInt8] {
        var w = ProtobufWriter()
        w.varintField(1, UInt64(bitPattern: revision))
        if physical { w.varintField(2, 1) }
        return w.bytes
    }

    /// WatchRequest with a create_request: a watch the client numbers itself (`id`, etcd 3.4+),
    /// so one stream can carry many without waiting for each to be acknowledged.
    static func watchCreate(id: Int64, key: [UInt8], rangeEnd: [UInt8], startRevision: Int64, prevKV: Bool) -> [UInt8] {
        var w = ProtobufWriter()
        w.messageField(1) {
            $0.bytesField(1, key)
            $0.bytesField(2, rangeEnd)
            if startRevision != 0 { $0.varintField(3, UInt64(bitPattern: startRevision)) }
            if prevKV { $0.varintField(6, 1) }
            $0.varintField(7, UInt64(bitPattern: id))
        }
        return w.bytes
    }

    /// WatchRequest with a cancel_request.
    static func watchCancel(id: Int64) -> [UInt8] {
        var w = ProtobufWriter()
        w.messageField(2) { $0.varintField(1, UInt64(bitPattern: id)) }
        return w.bytes
    }

    // MARK: - Responses

    /// Calls `field` with each field of the message in `bytes[range]`; what it does not take
    /// (returns false) is skipped.
    static func read(_ bytes: [UInt8], _ range: Range<Int>,
                     _ field: (Int, WireType, inout ProtobufReader) throws(ProtobufError) -> Bool) throws(ProtobufError) {
        var reader = ProtobufReader(bytes, from: range.lowerBound, to: range.upperBound)
        while !reader.atEnd {
            let (number, wire) = try reader.tag()
            if try !field(number, wire, &reader) { try reader.skip(wire) }
        }
    }

    /// mvccpb.KeyValue.
    struct KeyValue: Sendable, Equatable {
        var key: [UInt8] = []
        var createRevision: Int64 = 0
        var modRevision: Int64 = 0
        var value: [UInt8] = []

        init() {}

        init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
            try read(bytes, range) { number, wire, r throws(ProtobufError) in
                switch (number, wire) {
                case (1, .lengthDelimited): key = Array(bytes[try r.lengthDelimited()])
                case (2, .varint): createRevision = Int64(bitPattern: try r.varint())
                case (3, .varint): modRevision = Int64(bitPattern: try r.varint())
                case (5, .lengthDelimited): value = Array(bytes[try r.lengthDelimited()])
                default: return false
                }
                return true
            }
        }
    }

    /// The revision of a ResponseHeader.
    static func headerRevision(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) -> Int64 {
        var revision: Int64 = 0
        try read(bytes, range) { number, wire, r throws(ProtobufError) in
            guard number == 3, wire == .varint else { return false }
            revision = Int64(bitPattern: try r.varint())
            return true
        }
        return revision
    }

    /// RangeResponse.
    struct RangeResponse: Sendable {
        var revision: Int64 = 0
        var kvs: [KeyValue] = []
        var more = false

        init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
            try read(bytes, range) { number, wire, r throws(ProtobufError) in
                switch (number, wire) {
                case (1, .lengthDelimited): revision = try headerRevision(bytes, try r.lengthDelimited())
                case (2, .lengthDelimited): kvs.append(try KeyValue(bytes, try r.lengthDelimited()))
                case (3, .varint): more = try r.varint() != 0
                default: return false
                }
                return true
            }
        }
    }

    /// One ResponseOp of a transaction.
    enum ResponseOp: Sendable {
        case range(RangeResponse)
        case put(prevKV: KeyValue?)
        case delete(prevKVs: [KeyValue])
        case other

        init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
            var op = ResponseOp.other
            try read(bytes, range) { number, wire, r throws(ProtobufError) in
                guard wire == .lengthDelimited else { return false }
                switch number {
                case 1:
                    op = .range(try RangeResponse(bytes, try r.lengthDelimited()))
                case 2:
                    var previous: KeyValue?
                    try read(bytes, try r.lengthDelimited()) { number, wire, r throws(ProtobufError) in
                        guard number == 2, wire == .lengthDelimited else { return false }
                        previous = try KeyValue(bytes, try r.lengthDelimited())
                        return true
                    }
                    op = .put(prevKV: previous)
                case 3:
                    var previous: [KeyValue] = []
                    try read(bytes, try r.lengthDelimited()) { number, wire, r throws(ProtobufError) in
                        guard number == 3, wire == .lengthDelimited else { return false }
                        previous.append(try KeyValue(bytes, try r.lengthDelimited()))
                        return true
                    }
                    op = .delete(prevKVs: previous)
                default:
                    return false
                }
                return true
            }
            self = op
        }
    }

    /// TxnResponse.
    struct TxnResponse: Sendable {
        var revision: Int64 = 0
        var succeeded = false
        var responses: [ResponseOp] = []

        init(_ bytes: [UInt8]) throws(ProtobufError) {
            try read(bytes, bytes.indices) { number, wire, r throws(ProtobufError) in
                switch (number, wire) {
                case (1, .lengthDelimited): revision = try headerRevision(bytes, try r.lengthDelimited())
                case (2, .varint): succeeded = try r.varint() != 0
                case (3, .lengthDelimited): responses.append(try ResponseOp(bytes, try r.lengthDelimited()))
                default: return false
                }
                return true
            }
        }
    }

    /// mvccpb.Event.
    struct Event: Sendable {
        var isDelete = false
        var kv = KeyValue()
        var prevKV: KeyValue?

        init(_ bytes: [UInt8], _ range: Range<Int>) throws(ProtobufError) {
            try read(bytes, range) { number, wire, r throws(ProtobufError) in
                switch (number, wire) {
                case (1, .varint): isDelete = try r.varint() == 1   // EventType.DELETE
                case (2, .lengthDelimited): kv = try KeyValue(bytes, try r.lengthDelimited())
                case (3, .lengthDelimited): prevKV = try KeyValue(bytes, try r.lengthDelimited())
                default: return false
                }
                return true
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

        init(_ bytes: [UInt8]) throws(ProtobufError) {
            try read(bytes, bytes.indices) { number, wire, r throws(ProtobufError) in
                switch (number, wire) {
                case (1, .lengthDelimited): revision = try headerRevision(bytes, try r.lengthDelimited())
                case (2, .varint): watchID = Int64(bitPattern: try r.varint())
                case (3, .varint): created = try r.varint() != 0
                case (4, .varint): canceled = try r.varint() != 0
                case (5, .varint): compactRevision = Int64(bitPattern: try r.varint())
                case (6, .lengthDelimited): cancelReason = String(decoding: bytes[try r.lengthDelimited()], as: UTF8.self)
                case (11, .lengthDelimited): events.append(try Event(bytes, try r.lengthDelimited()))
                default: return false
                }
                return true
            }
        }
    }
}
