import Foundation
import Crypto
public import JSON
import APIMachinery

/// Service account tokens as kube-apiserver issues them for TokenRequest (`kubectl create
/// token`): JWTs signed with ES256, naming the account's namespace, name and uid (and the
/// object the token is bound to, if any). The signing key lives in `<data-dir>/pki/sa.key`,
/// so tokens stay valid across restarts and on every API server sharing the data directory.
public struct ServiceAccountTokenIssuer: Sendable {
    /// The `iss` claim, and the audience a token gets when the request names none.
    public static let issuer = "https://kubernetes.default.svc.cluster.local"
    /// The P-256 signing key's raw bytes (the key type itself is not Sendable).
    let rawKey: Data
    var key: P256.Signing.PrivateKey { try! P256.Signing.PrivateKey(rawRepresentation: rawKey) }

    /// An issuer with a new key of its own (its tokens die with it).
    public init() { rawKey = P256.Signing.PrivateKey().rawRepresentation }

    init(key: P256.Signing.PrivateKey) { rawKey = key.rawRepresentation }

    /// The issuer whose key is at `path`, made (mode 0600) on first use.
    public static func loadOrCreate(path: String) throws -> ServiceAccountTokenIssuer {
        if let pem = try? String(contentsOfFile: path, encoding: .utf8) {
            return ServiceAccountTokenIssuer(key: try P256.Signing.PrivateKey(pemRepresentation: pem))
        }
        let key = P256.Signing.PrivateKey()
        try Data(key.pemRepresentation.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return ServiceAccountTokenIssuer(key: key)
    }

    /// A signed token carrying `claims`.
    func sign(_ claims: JSONValue) -> String {
        let header: JSONValue = ["alg": "ES256", "kid": .string(keyID), "typ": "JWT"]
        let input = Self.base64URL(header.jsonBytes()) + "." + Self.base64URL(claims.jsonBytes())
        let signature = (try? key.signature(for: Data(input.utf8)).rawRepresentation) ?? Data()
        return input + "." + Self.base64URL(Array(signature))
    }

    /// The claims of a token this issuer signed, if its signature holds and `now` (Unix
    /// seconds) lies within its validity; nil for anything else (another issuer's token, a
    /// static token, garbage).
    func verify(_ token: String, now: Int) -> JSONValue? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Self.decodeBase64URL(parts[0]), let payload = Self.decodeBase64URL(parts[1]),
              let signatureBytes = Self.decodeBase64URL(parts[2]),
              (try? JSONValue.parse(header))?["alg"] == "ES256",
              let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signatureBytes),
              key.publicKey.isValidSignature(signature, for: Data((parts[0] + "." + parts[1]).utf8)),
              let claims = try? JSONValue.parse(payload),
              claims["iss"]?.stringValue == Self.issuer,
              let exp = claims["exp"]?.int64Value, now < exp,
              (claims["nbf"]?.int64Value ?? 0) <= Int64(now) + 60
        else { return nil }
        return claims
    }

    /// The key's id: a digest of its public key, as Kubernetes derives `kid`.
    var keyID: String { Self.base64URL(Array(SHA256.hash(data: key.publicKey.derRepresentation))) }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: Substring) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map(Array.init)
    }
}

extension APIServer {
    /// The shortest token lifetime a TokenRequest may ask for, as in Kubernetes.
    static let minimumTokenSeconds = 600

    /// POST serviceaccounts/<name>/token: a token for the account, valid for
    /// `spec.expirationSeconds` (an hour by default), for `spec.audiences`, and bound to
    /// `spec.boundObjectRef` (a Pod, Secret or Node) when given: it stops working when that
    /// object goes.
    func requestToken(_ body: JSONValue, serviceAccount name: String, namespace: String,
                      dryRun: Bool) async throws(APIError) -> JSONValue {
        let serviceAccounts = registry.resource(group: "", version: "v1", plural: "serviceaccounts")!
        if let kind = body["kind"]?.stringValue, kind != "TokenRequest" {
            throw .badRequest("the body must be a TokenRequest, not a \(kind)")
        }
        let (account, _) = try await objects.get(serviceAccounts, namespace: namespace, name: name)
        let seconds = body[path: ["spec", "expirationSeconds"]]?.intValue ?? 3600
        guard seconds >= Self.minimumTokenSeconds, seconds <= 1 << 32 else {
            throw .invalid(serviceAccounts, name: name, [.invalid("spec.expirationSeconds", String(seconds),
                "may not specify a duration less than 10 minutes or greater than 2^32 seconds")])
        }
        let audiences = body[path: ["spec", "audiences"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        let now = APITime.now()
        var scope: JSONValue = ["namespace": .string(namespace),
                                "serviceaccount": ["name": .string(name), "uid": .string(account.uid ?? "")]]
        if let ref = body[path: ["spec", "boundObjectRef"]], !ref.isNull {
            let kind = ref["kind"]?.stringValue ?? ""
            let plural = ["Pod": "pods", "Secret": "secrets", "Node": "nodes"][kind]
            guard let plural, let resource = registry.resource(group: "", version: "v1", plural: plural) else {
                throw .invalid(serviceAccounts, name: name, [.notSupported("spec.boundObjectRef.kind", kind, ["Pod", "Secret", "Node"])])
            }
            let objectName = ref["name"]?.stringValue ?? ""
            let (bound, _) = try await objects.get(resource, namespace: resource.namespaced ? namespace : nil, name: objectName)
            if let uid = ref["uid"]?.stringValue, !uid.isEmpty, uid != bound.uid {
                throw .conflict(resource, name: objectName, "the uid in the binding (\(uid)) does not match the object's (\(bound.uid ?? ""))")
            }
            scope[kind.lowercased()] = ["name": .string(objectName), "uid": .string(bound.uid ?? "")]
        }
        let claims: JSONValue = [
            "aud": .array((audiences.isEmpty ? [ServiceAccountTokenIssuer.issuer] : audiences).map { .string($0) }),
            "exp": .int(Int64(now + seconds)), "iat": .int(Int64(now)), "nbf": .int(Int64(now)),
            "iss": .string(ServiceAccountTokenIssuer.issuer), "jti": .string(UIDGenerator.make()),
            "kubernetes.io": scope, "sub": .string("system:serviceaccount:\(namespace):\(name)"),
        ]
        var answer = body
        answer["apiVersion"] = "authentication.k8s.io/v1"
        answer["kind"] = "TokenRequest"
        answer[path: ["metadata", "name"]] = .string(name)
        answer[path: ["metadata", "namespace"]] = .string(namespace)
        answer[path: ["metadata", "creationTimestamp"]] = .string(APITime.format(now))
        answer[path: ["spec", "expirationSeconds"]] = .int(Int64(seconds))
        answer[path: ["spec", "audiences"]] = claims["aud"]
        answer["status"] = ["token": .string(dryRun ? "" : tokenIssuer.sign(claims)),
                            "expirationTimestamp": .string(APITime.format(now + seconds))]
        return answer
    }

    /// The service account a token names, if this server issued it, it has not expired, and
    /// the account and any object it is bound to still exist with the uids it names.
    public func authenticateServiceAccountToken(_ token: String) async -> TokenAuthenticator.User? {
        guard let claims = tokenIssuer.verify(token, now: APITime.now()),
              let scope = claims["kubernetes.io"], let namespace = scope["namespace"]?.stringValue,
              let name = scope[path: ["serviceaccount", "name"]]?.stringValue,
              let uid = scope[path: ["serviceaccount", "uid"]]?.stringValue else { return nil }
        let audiences = claims["aud"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard audiences.contains(ServiceAccountTokenIssuer.issuer) else { return nil }
        let serviceAccounts = registry.resource(group: "", version: "v1", plural: "serviceaccounts")!
        guard let (account, _) = try? await objects.get(serviceAccounts, namespace: namespace, name: name), account.uid == uid else {
            return nil
        }
        for (kind, plural) in [("pod", "pods"), ("secret", "secrets"), ("node", "nodes")] {
            guard let bound = scope[kind], let boundName = bound["name"]?.stringValue else { continue }
            let resource = registry.resource(group: "", version: "v1", plural: plural)!
            guard let (object, _) = try? await objects.get(resource, namespace: resource.namespaced ? namespace : nil, name: boundName),
                  object.uid == bound["uid"]?.stringValue, object.deletionTimestamp == nil else { return nil }
        }
        return TokenAuthenticator.User(name: "system:serviceaccount:\(namespace):\(name)", uid: uid,
                                       groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }

    /// POST selfsubjectreviews (`kubectl auth whoami`): who the caller is.
    func selfSubjectReview(_ request: APIRequest) throws(APIError) -> JSONValue {
        guard let user = request.user else { throw .unauthorized() }
        let groups = user.authenticatedGroups
        return ["kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": ["creationTimestamp": .string(APITime.format(APITime.now()))],
                "status": ["userInfo": ["username": .string(user.name), "uid": .string(user.uid),
                                        "groups": .array(groups.map { .string($0) })]]]
    }
}
