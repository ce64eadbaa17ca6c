/// The protobuf shape of Kubernetes API types, as data: for each message, its fields by
/// number with their JSON names and types. Written by the project from the facts in the
/// upstream `generated.proto` files (k8s.io/api, k8s.io/apimachinery); the codec
/// (`ProtobufCodec`) walks these tables, so a new kind is a data change, not new code.
public struct MessageSchema: Sendable {
    /// The upstream message's full name, e.g. "k8s.io.api.core.v1.ConfigMap".
    public let name: String
    public let fields: [FieldSchema]

    public init(_ name: String, _ fields: [FieldSchema]) {
        self.name = name
        self.fields = fields
    }
}

/// One field of a message.
public struct FieldSchema: Sendable {
    public let number: Int
    /// The field's name in JSON (`metadata`, `binaryData`).
    public let json: String
    public let type: FieldType
    /// `repeated` in the .proto (a JSON array); maps are not marked repeated.
    public let repeated: Bool

    public init(_ number: Int, _ json: String, _ type: FieldType, repeated: Bool = false) {
        self.number = number
        self.json = json
        self.type = type
        self.repeated = repeated
    }
}

/// What a field holds, and how it appears in JSON.
public indirect enum FieldType: Sendable {
    /// `string`.
    case string
    /// `bytes`: base64 in JSON.
    case bytes
    case bool
    /// `int32`/`int64` (varint, two's complement for negatives).
    case int32, int64
    /// `double` (fixed 64-bit).
    case double
    /// Another message, by its full name in the table.
    case message(String)
    /// `map<string, V>`: a JSON object (the key is always a string in Kubernetes' types).
    case map(FieldType)
    /// meta/v1 Time and MicroTime: `{int64 seconds = 1; int32 nanos = 2}`, an RFC 3339 string
    /// in JSON (MicroTime with six fractional digits).
    case time, microTime
    /// meta/v1 Duration: `{int64 duration = 1}` (nanoseconds), Go's duration text in JSON ("1h0m0s").
    case duration
    /// resource.Quantity: `{string string = 1}`, the quantity's text in JSON.
    case quantity
    /// util/intstr IntOrString: `{int64 type = 1; int32 intVal = 2; string strVal = 3}`, a
    /// number or a string in JSON.
    case intOrString
    /// runtime.RawExtension: `{bytes raw = 1}`, the embedded JSON object itself in JSON.
    case rawExtension
    /// A message `{repeated string items = 1}` that is a plain list of strings in JSON
    /// (the ExtraValue of a user's extra attributes).
    case stringList
}
