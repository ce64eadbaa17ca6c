/// A CNI error as the spec defines it: `{"cniVersion","code","msg","details"}` on stdout and a
/// non-zero exit.
public struct CNIError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral {
        public var rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public init(integerLiteral value: Int) { rawValue = value }

        public static let incompatibleVersion: Code = 1
        public static let unsupportedField: Code = 2
        public static let unknownContainer: Code = 3
        public static let invalidEnvironment: Code = 4
        public static let ioFailure: Code = 5
        public static let decodingFailure: Code = 6
        public static let invalidNetworkConfig: Code = 7
        public static let tryAgainLater: Code = 11
        public static let pluginNotAvailable: Code = 50
        public static let limitedConnectivity: Code = 51
        public static let noServiceAvailable: Code = 52
        /// Used for errors that are not CNIErrors (plugin-specific codes are 100 and up).
        public static let generic: Code = 999
    }

    public var code: Code
    public var msg: String
    public var details: String

    public init(code: Code, msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public var description: String {
        details.isEmpty ? "CNI error \(code.rawValue): \(msg)" : "CNI error \(code.rawValue): \(msg); \(details)"
    }

    public func json(cniVersion: String) -> JSONValue {
        var o: [String: JSONValue] = ["cniVersion": .string(cniVersion), "code": .int(Int64(code.rawValue)),
                                      "msg": .string(msg)]
        if !details.isEmpty { o["details"] = .string(details) }
        return .object(o)
    }

    /// Reads an error document as a plugin prints it; nil if `value` is not one.
    public init?(json value: JSONValue) {
        guard let code = value["code"]?.intValue else { return nil }
        self.init(code: Code(rawValue: code), msg: value["msg"]?.stringValue ?? "",
                  details: value["details"]?.stringValue ?? "")
    }
}
