/// Protocol buffers' wire format, the little of it Kubernetes' objects and etcd's messages use:
/// varints, length-delimited fields and 64-bit fixed fields (no groups).
public struct ProtobufError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum WireType: UInt64, Sendable {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
}

/// Reads fields from a message's bytes.
public struct ProtobufReader {
    public let bytes: [UInt8]
    public var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
    }

    public var atEnd: Bool { offset >= end }

    public mutating func varint() throws(ProtobufError) -> UInt64 {
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
    public mutating func tag() throws(ProtobufError) -> (number: Int, wire: WireType) {
        let key = try varint()
        guard let wire = WireType(rawValue: key & 7) else {
            throw ProtobufError("unsupported wire type \(key & 7) at byte \(offset)")
        }
        guard key >> 3 > 0, key >> 3 <= UInt64(Int32.max) else { throw ProtobufError("invalid field number \(key >> 3)") }
        return (Int(key >> 3), wire)
    }

    /// The bounds of a length-delimited field's contents (the reader moves past them).
    public mutating func lengthDelimited() throws(ProtobufError) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - offset) else { throw ProtobufError("a field of \(length) bytes overruns the message at byte \(offset)") }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        return range
    }

    public mutating func fixed64() throws(ProtobufError) -> UInt64 {
        guard end - offset >= 8 else { throw ProtobufError("truncated 64-bit field at byte \(offset)") }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return value
    }

    public mutating func skip(_ wire: WireType) throws(ProtobufError) {
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
public struct ProtobufWriter {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    public mutating func tag(_ number: Int, _ wire: WireType) { varint(UInt64(number) << 3 | wire.rawValue) }

    public mutating func varintField(_ number: Int, _ value: UInt64) {
        tag(number, .varint)
        varint(value)
    }

    public mutating func bytesField(_ number: Int, _ value: [UInt8]) {
        tag(number, .lengthDelimited)
        varint(UInt64(value.count))
        bytes += value
    }

    public mutating func fixed64Field(_ number: Int, _ value: UInt64) {
        tag(number, .fixed64)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    /// A field holding a message, built by `build` (its length is known once it is written).
    public mutating func messageField(_ number: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytesField(number, inner.bytes)
    }
}

