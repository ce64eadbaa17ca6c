/// The CNI verbs.
public enum CNICommand: String, Sendable, CaseIterable {
    case add = "ADD", del = "DEL", check = "CHECK", version = "VERSION", gc = "GC", status = "STATUS"
}

/// The CNI_* environment variables of one invocation, checked as the spec requires.
public struct CNIEnvironment: Hashable, Sendable {
    public var command: CNICommand
    public var containerID: String
    public var netns: String
    public var ifname: String
    /// CNI_ARGS, `K=V;K=V`, in order.
    public var args: [(key: String, value: String)] { argPairs.map { ($0.key, $0.value) } }
    public var path: [String]
    var argPairs: [Pair]

    struct Pair: Hashable, Sendable {
        var key: String
        var value: String
        init(_ key: String, _ value: String) { self.key = key; self.value = value }
    }

    public func arg(_ key: String) -> String? { argPairs.first { $0.key == key }?.value }

    /// Parses `environment`. Missing required variables (per command, spec 1.1.0 section
    /// "Parameters") give code 4.
    public init(_ environment: [String: String]) throws(CNIError) {
        func invalid(_ msg: String) -> CNIError { CNIError(code: .invalidEnvironment, msg: msg) }
        guard let raw = environment["CNI_COMMAND"], !raw.isEmpty else {
            throw invalid("required env variables [CNI_COMMAND] missing")
        }
        guard let command = CNICommand(rawValue: raw) else {
            throw invalid("unknown CNI_COMMAND: \(raw)")
        }
        self.command = command
        let required: [String]
        switch command {
        case .add, .check: required = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
        case .del: required = ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]
        case .gc, .status: required = ["CNI_PATH"]
        case .version: required = []
        }
        let missing = required.filter { (environment[$0] ?? "").isEmpty }
        if !missing.isEmpty {
            throw invalid("required env variables [\(missing.joined(separator: ","))] missing")
        }
        containerID = environment["CNI_CONTAINERID"] ?? ""
        netns = environment["CNI_NETNS"] ?? ""
        ifname = environment["CNI_IFNAME"] ?? ""
        path = (environment["CNI_PATH"] ?? "").split(separator: ":").map(String.init)
        argPairs = []
        for part in (environment["CNI_ARGS"] ?? "").split(separator: ";") where !part.isEmpty {
            guard let eq = part.firstIndex(of: "="), eq != part.startIndex else {
                throw invalid("CNI_ARGS: \"\(part)\" is not KEY=VALUE")
            }
            argPairs.append(Pair(String(part[..<eq]), String(part[part.index(after: eq)...])))
        }
        if command != .version, command != .gc, command != .status {
            try Self.validate(containerID: containerID)
            try Self.validate(ifname: ifname)
        }
    }

    /// Spec: container ID is alphanumeric plus `.`, `-`, `_`, starting alphanumeric.
    static func validate(containerID id: String) throws(CNIError) {
        let ok = id.unicodeScalars.allSatisfy { $0.isASCIIAlnum || $0 == "." || $0 == "-" || $0 == "_" }
        guard ok, let first = id.unicodeScalars.first, first.isASCIIAlnum else {
            throw CNIError(code: .invalidEnvironment, msg: "invalid characters in CNI_CONTAINERID", details: id)
        }
    }

    /// Spec: at most 15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
    static func validate(ifname: String) throws(CNIError) {
        let bad = ifname.utf8.count > 15 || ifname == "." || ifname == ".."
            || ifname.unicodeScalars.contains { $0 == "/" || $0 == ":" || $0 == " " || $0 == "\t" || $0 == "\n" }
        if bad { throw CNIError(code: .invalidEnvironment, msg: "invalid CNI_IFNAME", details: ifname) }
    }
}

extension Unicode.Scalar {
    var isASCIIAlnum: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
    }
}
