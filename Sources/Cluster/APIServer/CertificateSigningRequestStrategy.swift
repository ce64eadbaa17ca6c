import APIMachinery
import JSON

/// A CertificateSigningRequest records who asked (the server, not the client, fills in the
/// requesting user, as kube-apiserver does), and its spec never changes once made: approval
/// goes through the `approval` subresource and the certificate through `status`.
struct CertificateSigningRequestStrategy: KindStrategy {
    func prepareForCreate(_ object: inout JSONValue, user: TokenAuthenticator.User?) {
        object[path: ["spec", "username"]] = user.map { .string($0.name) }
        object[path: ["spec", "uid"]] = user.map { .string($0.uid) }
        object[path: ["spec", "groups"]] = user.map { .array($0.authenticatedGroups.map { .string($0) }) }
        object[path: ["spec", "extra"]] = nil
    }

    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType) throws(APIError) {
        if next["spec"] != current["spec"] {
            throw .invalid(resource, name: current.name ?? "", [.forbidden("spec", "field is immutable")])
        }
    }
}
