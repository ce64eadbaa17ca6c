import Foundation
import NetplaneTestSupport
import Testing

/// The API server's data directory, tried as another local account would: it holds every
/// Secret (state.db) and the admin token.
@Suite struct DataAtRestTests {
    /// `stat -c %a` of every entry under `dir` (the directory itself as ".").
    func modes(_ dir: String) throws -> [String: String] {
        let out = try Command.check(["find", dir, "-printf", "%P %m %y\n"])
        var modes: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, parts[2] != "l" else { continue }
            modes[parts[0].isEmpty ? "." : parts[0]] = parts[1]
        }
        return modes
    }

    /// What the account `nobody` can read of a file (nil: refused).
    func readAsNobody(_ path: String) throws -> String? {
        let result = try Command.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", path])
        return result.succeeded ? result.stdout : nil
    }

    @Test func onlyTheOwnerCanReadTheDataDirectoryAndAnOlderOneIsClosedOnStart() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("np-rest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let dir = parent + "/data"
        var api = try APIServerProcess(dataDir: dir)
        let created = try api.kubectl(["create", "secret", "generic", "creds", "--from-literal=password=s3cret"])
        #expect(created.succeeded, "\(created.stderr)")

        var found = try modes(dir)
        #expect(found["."] == "700", "\(found)")
        for name in ["state.db", "admin.token", "pki/ca.key", "pki/ca.crt", "pki/sa.key"] {
            #expect(found[name] == "600", "\(name): \(found[name] ?? "missing")")
        }
        #expect(found.filter { $0.key != "." && $0.value != "600" && $0.value != "700" }.isEmpty, "\(found)")
        #expect(try readAsNobody(dir + "/state.db") == nil)
        #expect(try readAsNobody(dir + "/admin.token") == nil)

        // A directory an earlier version left open (0755, files 0644) is closed at the next start.
        _ = api.stop()
        _ = try Command.check(["chmod", "-R", "go+rX", dir])
        #expect(try readAsNobody(dir + "/admin.token") != nil, "the test's own setup did not open the directory")
        api = try APIServerProcess(dataDir: dir)
        #expect(try api.kubectl(["get", "secret", "creds", "-o", "jsonpath={.data.password}"]).stdout == "czNjcmV0")
        found = try modes(dir)
        #expect(found["."] == "700" && found["pki"] == "700" && found["kubeconfigs"] == "700", "\(found)")
        #expect(found.filter { !["." , "pki", "kubeconfigs"].contains($0.key) && $0.value != "600" }.isEmpty, "\(found)")
        // Every identity's kubeconfig (each a bearer token) is the owner's alone.
        #expect(try readAsNobody(dir + "/kubeconfigs/controllers.kubeconfig") == nil)
        #expect(try readAsNobody(dir + "/tokens.csv") == nil)
        #expect(try readAsNobody(dir + "/state.db") == nil)
        #expect(try readAsNobody(dir + "/pki/ca.key") == nil)
        _ = api.stop()
    }
}

/// Secrets encrypted at rest with kube-apiserver's EncryptionConfiguration, seen in the
/// database's own bytes, and a key rotated in and the old one out.
@Suite struct EncryptionAtRestTests {
    /// Every byte the SQLite store has on disk (database, WAL).
    func storedBytes(_ dir: String) throws -> [UInt8] {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("state.db") }
        return try files.flatMap { try Array(Data(contentsOf: URL(fileURLWithPath: "\(dir)/\($0)"))) }
    }

    func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard haystack.count >= n.count else { return false }
        return (0...(haystack.count - n.count)).contains { i in haystack[i] == n[0] && Array(haystack[i..<(i + n.count)]) == n }
    }

    func config(_ providers: String) -> String {
        """
        apiVersion: apiserver.config.k8s.io/v1
        kind: EncryptionConfiguration
        resources:
          - resources: [secrets]
            providers:
        \(providers)
        """
    }

    @Test func secretsAreUnreadableOnDiskAndARotatedKeyRewritesThem() throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("np-enc-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let dir = parent + "/data", file = parent + "/encryption.yaml"
        let key1 = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let key2 = Data((0..<32).map { UInt8(200 - $0) }).base64EncodedString()
        func start(_ providers: String) throws -> APIServerProcess {
            try config(providers).write(toFile: file, atomically: true, encoding: .utf8)
            return try APIServerProcess(dataDir: dir, extraArgs: ["--encryption-provider-config", file])
        }

        var api = try start("""
                  - aescbc: {keys: [{name: key1, secret: "\(key1)"}]}
                  - identity: {}
            """)
        #expect(try api.kubectl(["create", "secret", "generic", "creds", "--from-literal=password=s3cret-value"]).succeeded)
        #expect(try api.kubectl(["create", "configmap", "open", "--from-literal=note=visible-value"]).succeeded)
        #expect(try api.kubectl(["get", "secret", "creds", "-o", "jsonpath={.data.password}"]).stdout == "czNjcmV0LXZhbHVl")
        _ = api.stop()
        var disk = try storedBytes(dir)
        #expect(!contains(disk, "s3cret-value") && !contains(disk, "czNjcmV0LXZhbHVl"), "the Secret's value is on disk in the clear")
        #expect(contains(disk, "k8s:enc:aescbc:v1:key1:"))
        #expect(contains(disk, "visible-value"), "only Secrets are configured: a ConfigMap stays plain")

        // Rotation: key2 (aesgcm) first, key1 still readable; every Secret is rewritten at start.
        api = try start("""
                  - aesgcm: {keys: [{name: key2, secret: "\(key2)"}]}
                  - aescbc: {keys: [{name: key1, secret: "\(key1)"}]}
            """)
        #expect(api.logText().contains("stored value(s) rewritten with the current provider"))
        #expect(try api.kubectl(["get", "secret", "creds", "-o", "jsonpath={.data.password}"]).stdout == "czNjcmV0LXZhbHVl")
        _ = api.stop()
        disk = try storedBytes(dir)
        #expect(contains(disk, "k8s:enc:aesgcm:v1:key2:"))

        // key1 gone: everything current was rewritten, so the server still reads every Secret.
        api = try start("""
                  - aesgcm: {keys: [{name: key2, secret: "\(key2)"}]}
            """)
        #expect(try api.kubectl(["get", "secret", "creds", "-o", "jsonpath={.data.password}"]).stdout == "czNjcmV0LXZhbHVl")
        #expect(try api.kubectl(["get", "secrets", "-A", "-o", "name"]).stdout.contains("secret/creds"))
        _ = api.stop()

        // A configuration without the key the data was written with does not start, and says why.
        do {
            api = try start("""
                      - aescbc: {keys: [{name: key3, secret: "\(key1)"}]}
                """)
            _ = api.stop()
            Issue.record("the server started without the key its Secrets were written with")
        } catch {
            #expect("\(error)".contains("was written with aesgcm key key2, which is not configured"), "\(error)")
        }
        // What it does not implement is refused, not ignored.
        for (providers, message) in [("      - secretbox: {keys: [{name: k, secret: \"\(key1)\"}]}", "secretbox is not supported"),
                                     ("      - kms: {name: vault}", "kms is not supported"),
                                     ("      - aescbc: {keys: [{name: k, secret: \"c2hvcnQ=\"}]}", "must be base64 of a 16, 24 or 32 byte key")] {
            do {
                api = try start(providers)
                _ = api.stop()
                Issue.record("started with \(providers)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
    }
}
