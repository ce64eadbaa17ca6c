import Foundation
import Yams

/// Where the API server is and how to prove who we are: what a kubeconfig's current context
/// says (the same file kubectl uses), or what a daemon is given on its command line.
public struct ClientConfig: Sendable {
    /// "https://127.0.0.1:6443".
    public var server: String
    /// PEM of the CA that signed the server's certificate (nil: the system's roots).
    public var caPEM: String?
    public var token: String?
    /// PEM client certificate and key, for kubeconfigs that authenticate with them.
    public var clientCertificatePEM: String?
    public var clientKeyPEM: String?
    public var insecureSkipTLSVerify: Bool
    /// The context's namespace ("default" when it names none).
    public var namespace: String

    public init(server: String, caPEM: String? = nil, token: String? = nil, clientCertificatePEM: String? = nil,
                clientKeyPEM: String? = nil, insecureSkipTLSVerify: Bool = false, namespace: String = "default") {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.caPEM = caPEM
        self.token = token
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.namespace = namespace
    }

    /// Reads a kubeconfig file: its current context (or `context`), that context's cluster
    /// and user. File references (`certificate-authority`, `tokenFile`, …) are relative to
    /// the kubeconfig's directory, as kubectl resolves them.
    public static func kubeconfig(_ path: String, context: String? = nil) throws(ClientError) -> ClientConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .config("kubeconfig \(path): \(error.localizedDescription)")
        }
        let root: [String: Any]
        do {
            guard let loaded = try Yams.load(yaml: text) as? [String: Any] else { throw ClientError.config("not a mapping") }
            root = loaded
        } catch {
            throw .config("kubeconfig \(path): \(error)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        func named(_ list: String, _ name: String, _ field: String) throws(ClientError) -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { $0["name"] as? String == name }),
                  let body = entry[field] as? [String: Any]
            else { throw .config("kubeconfig \(path): no \(field) named \"\(name)\"") }
            return body
        }
        func file(_ value: Any?) throws(ClientError) -> String? {
            guard let name = value as? String else { return nil }
            let full = name.hasPrefix("/") ? name : directory + "/" + name
            do { return try String(contentsOfFile: full, encoding: .utf8) } catch {
                throw .config("kubeconfig \(path): reading \(full): \(error.localizedDescription)")
            }
        }
        func base64(_ value: Any?, _ field: String) throws(ClientError) -> String? {
            guard let text = value as? String else { return nil }
            guard let data = Data(base64Encoded: text) else { throw .config("kubeconfig \(path): \(field) is not base64") }
            return String(decoding: data, as: UTF8.self)
        }

        guard let contextName = context ?? root["current-context"] as? String, !contextName.isEmpty else {
            throw .config("kubeconfig \(path): no current-context")
        }
        let ctx = try named("contexts", contextName, "context")
        guard let clusterName = ctx["cluster"] as? String else { throw .config("kubeconfig \(path): context \(contextName) names no cluster") }
        let cluster = try named("clusters", clusterName, "cluster")
        let user = try (ctx["user"] as? String).map { name throws(ClientError) in try named("users", name, "user") } ?? [:]
        guard let server = cluster["server"] as? String else { throw .config("kubeconfig \(path): cluster \(clusterName) has no server") }

        var token = user["token"] as? String
        if token == nil, let fromFile = try file(user["tokenFile"]) {
            token = fromFile.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        /// Inline base64 data, else the file the other field names.
        func material(_ data: String, _ path: String, in section: [String: Any]) throws(ClientError) -> String? {
            if let inline = try base64(section[data], data) { return inline }
            return try file(section[path])
        }
        return ClientConfig(
            server: server,
            caPEM: try material("certificate-authority-data", "certificate-authority", in: cluster),
            token: token,
            clientCertificatePEM: try material("client-certificate-data", "client-certificate", in: user),
            clientKeyPEM: try material("client-key-data", "client-key", in: user),
            insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] as? Bool ?? false,
            namespace: ctx["namespace"] as? String ?? "default")
    }
}
