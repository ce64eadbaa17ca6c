import Foundation
import Synchronization

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
    /// Tokens issued by `netplane kubeconfig` (the data directory's tokens.csv), read again
    /// when the file changes, so a new identity works and a removed line stops working
    /// without a restart.
    var issued: IssuedTokens?

    public init(users: [String: User] = [:], issued: IssuedTokens? = nil) {
        self.users = users
        self.issued = issued
    }

    public func user(for token: String) -> User? { users[token] ?? issued?.user(for: token) }

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

/// A token file that is read again when it changes: checked at most once a second, and only
/// its modification time, so the lookup stays a dictionary read.
public final class IssuedTokens: Sendable {
    public let path: String
    private struct State {
        var users: [String: TokenAuthenticator.User] = [:]
        var modified: Date?
        var checked = ContinuousClock.Instant.now - .seconds(10)
    }
    private let state = Mutex(State())

    public init(path: String) { self.path = path }

    public func user(for token: String) -> TokenAuthenticator.User? {
        reloadIfChanged(force: false)
        if let user = state.withLock({ $0.users[token] }) { return user }
        // A token not known may be one issued a moment ago: look at the file now.
        reloadIfChanged(force: true)
        return state.withLock { $0.users[token] }
    }

    func reloadIfChanged(force: Bool) {
        let now = ContinuousClock.now
        let due = state.withLock { state -> Bool in
            guard force || now - state.checked >= .seconds(1) else { return false }
            state.checked = now
            return true
        }
        guard due else { return }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        guard modified != state.withLock({ $0.modified }) else { return }
        var file = TokenAuthenticator()
        if modified != nil { try? file.load(file: path) }
        let users = file.users
        state.withLock {
            $0.users = users
            $0.modified = modified
        }
    }

    /// Adds a line for a new identity and returns its token (the file is made 0600).
    public static func issue(path: String, user: String, groups: [String]) throws -> String {
        let token = TokenAuthenticator.generateToken()
        let quotedGroups = groups.isEmpty ? "" : ",\"\(groups.joined(separator: ","))\""
        let line = "\(token),\(user),\(user)\(quotedGroups)\n"
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
        return token
    }

    /// The token already issued to `user` (the first line naming it), if any.
    public static func existing(path: String, user: String) -> String? {
        var file = TokenAuthenticator()
        guard (try? file.load(file: path)) != nil else { return nil }
        return file.users.filter { $0.value.name == user }.keys.sorted().first
    }
}
