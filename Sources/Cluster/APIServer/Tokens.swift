import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

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

        /// Its groups with `system:authenticated`, which every authenticated user is in.
        public var authenticatedGroups: [String] {
            groups.contains("system:authenticated") ? groups : groups + ["system:authenticated"]
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
        // Lines split on any newline (a "\r\n" is one Character, never equal to "\n").
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
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

/// A token file that is read again when it changes: checked at most once a second (and at
/// once for a token not known), by its modification time, size and inode, so a lookup stays a
/// dictionary read. A file that cannot be read whole keeps the last good set in force.
public final class IssuedTokens: Sendable {
    public let path: String
    private struct Version: Equatable {
        var modified: Date?
        var size: Int
        var inode: Int
    }
    private struct State {
        var users: [String: TokenAuthenticator.User] = [:]
        var version: Version?
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
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let version = attributes.map {
            Version(modified: $0[.modificationDate] as? Date, size: ($0[.size] as? Int) ?? -1,
                    inode: ($0[.systemFileNumber] as? Int) ?? -1)
        }
        guard version != state.withLock({ $0.version }) else { return }
        var file = TokenAuthenticator()
        if version != nil {
            do { try file.load(file: path) } catch { return }
        }
        let users = file.users
        state.withLock {
            $0.users = users
            $0.version = version
        }
    }

    /// Whether a user or group name can be written as a field of the file.
    public static func fieldProblem(_ value: String) -> String? {
        if value.isEmpty { return "may not be empty" }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "," || $0 == "\"" }) {
            return "may not contain a comma, a quote or a control character"
        }
        return nil
    }

    /// Adds a line for a new identity and returns its token. The file is made 0600, the line
    /// appended under an exclusive lock (two issuers at once each keep theirs).
    public static func issue(path: String, user: String, groups: [String]) throws -> String {
        for value in [user] + groups {
            if let problem = fieldProblem(value) { throw TokenFileError(message: "\"\(value)\": \(problem)") }
        }
        let token = TokenAuthenticator.generateToken()
        let quotedGroups = groups.isEmpty ? "" : ",\"\(groups.joined(separator: ","))\""
        let line = Array("\(token),\(user),\(user)\(quotedGroups)\n".utf8)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw TokenFileError(message: "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw TokenFileError(message: "\(path): cannot lock: \(String(cString: strerror(errno)))") }
        defer { flock(fd, LOCK_UN) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw TokenFileError(message: "\(path): short write") }
        return token
    }

    /// The token already issued to `user`, if any (the first line naming it).
    public static func existing(path: String, user: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = TokenAuthenticator.csvFields(String(line))
            if fields.count >= 3, fields[1] == user { return fields[0] }
        }
        return nil
    }
}
