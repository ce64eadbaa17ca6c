/// Protocol buffers' wire format, the little of it Kubernetes uses: varints, length-delimited
/// fields and 64-bit fixed fields (proto2, no groups).
public struct ProtobufError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

enum WireType: UInt64 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
}

/// Reads fields from a message's bytes.
struct ProtobufReader {
    let bytes: [UInt8]
    var offset: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    var atEnd: Bool { offset >= end }

    mutating func varint() throws(ProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end {
            let byte = bytes[offset]
            offset += 1
            guard shift < 64 else { break }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw ProtobufError("truncated or overlong varint at byte \(offset)")
    }

    /// The next field's number and wire type.
    mutating func tag() throws(ProtobufError) -> (number: Int, wire: WireType) {
        let key = try varint()
        guard let wire = WireType(rawValue: key & 7) else {
            throw ProtobufError("unsupported wire type \(key & 7) at byte \(offset)")
        }
        guard key >> 3 > 0, key >> 3 <= UInt64(Int32.max) else { throw ProtobufError("invalid field number \(key >> 3)") }
        return (Int(key >> 3), wire)
    }

    /// The bounds of a length-delimited field's contents (the reader moves past them).
    mutating func lengthDelimited() throws(ProtobufError) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - offset) else { throw ProtobufError("a field of \(length) bytes overruns the message at byte \(offset)") }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        return range
    }

    mutating func fixed64() throws(ProtobufError) -> UInt64 {
        guard end - offset >= 8 else { throw ProtobufError("truncated 64-bit field at byte \(offset)") }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return value
    }

    mutating func skip(_ wire: WireType) throws(ProtobufError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .lengthDelimited: _ = try lengthDelimited()
        case .fixed32:
            guard end - offset >= 4 else { throw ProtobufError("truncated 32-bit field at byte \(offset)") }
            offset += 4
        }
    }
}

/// Writes fields into a message's bytes.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ number: Int, _ wire: WireType) { varint(UInt64(number) << 3 | wire.rawValue) }

    mutating func varintField(_ number: Int, _ value: UInt64) {
        tag(number, .varint)
        varint(value)
    }

    mutating func bytesField(_ number: Int, _ value: [UInt8]) {
        tag(number, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func fixed64Field(_ number: Int, _ value: UInt64) {
        tag(number, .fixed64)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }
}

/// Base64 (RFC 4648, padded), how `bytes` fields appear in JSON.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ data: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = data.startIndex
        while i < data.endIndex {
            let b0 = data[i], b1 = i + 1 < data.endIndex ? data[i + 1] : 0, b2 = i + 2 < data.endIndex ? data[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < data.endIndex ? alphabet[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < data.endIndex ? alphabet[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        for c in text.utf8 where c != UInt8(ascii: "=") {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(c - 71)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(c + 4)
            case UInt8(ascii: "+"): values.append(62)
            case UInt8(ascii: "/"): values.append(63)
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(i + 4, values.count)]
            let a = chunk[i], b = chunk[i + 1]
            out.append(a << 2 | b >> 4)
            if chunk.count > 2 { out.append((b & 15) << 4 | chunk[i + 2] >> 2) }
            if chunk.count > 3 { out.append((chunk[i + 2] & 3) << 6 | chunk[i + 3]) }
            i += 4
        }
        return out
    }
}
