import Foundation

/// Bearer tokens, kube-apiserver's static token file format: one `token,user,uid[,"group1,group2"]`
/// per line. Anything else is 401.
public struct TokenAuthenticator: Sendable {
    public struct User: Sendable, Equatable {
        public var name: String
        public var uid: String
        public var groups: [String]

        public init(name: String, uid: String, groups: [String]) {
            self.name = name
            self.uid = uid
            self.groups = groups
        }
    }
    var users: [String: User]

    public init(users: [String: User] = [:]) { self.users = users }

    public func user(for token: String) -> User? { users[token] }

    /// Reads a token file; a line that is not `token,user,uid[,groups]` is an error naming it.
    public mutating func load(file path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = Self.csvFields(line)
            guard fields.count >= 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw TokenFileError(message: "\(path):\(number + 1): expected token,user,uid[,groups]")
            }
            let groups = fields.count > 3 ? fields[3].split(separator: ",").map(String.init) : []
            users[fields[0]] = User(name: fields[1], uid: fields[2], groups: groups)
        }
    }

    static func csvFields(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        for ch in line {
            if ch == "\"" { quoted.toggle(); continue }
            if ch == "," && !quoted { fields.append(current); current = ""; continue }
            current.append(ch)
        }
        fields.append(current)
        return fields
    }

    /// A random 32-byte token, hex-encoded.
    public static func generateToken() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }
}

public struct TokenFileError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
