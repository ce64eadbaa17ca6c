/// What a request asks to do, as an authorizer judges it (k8s.io/apiserver's
/// authorizer.Attributes): a verb on a resource, or on a non-resource URL.
public struct RequestAttributes: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        /// `namespace` is "" for a cluster-scoped request (or one across all namespaces);
        /// `name` is "" for collections and creates.
        case resource(group: String, resource: String, subresource: String, namespace: String, name: String)
        case nonResource(path: String)
    }
    public var user: UserInfo
    /// get, list, watch, create, update, patch, delete, deletecollection; impersonate, bind,
    /// escalate, approve for the checks named so; get/post/put/… on non-resource URLs.
    public var verb: String
    public var target: Target
    /// The request's field selector (`?fieldSelector=`), which the Node authorizer reads.
    public var fieldSelector: String

    public init(user: UserInfo, verb: String, target: Target, fieldSelector: String = "") {
        self.user = user
        self.verb = verb
        self.target = target
        self.fieldSelector = fieldSelector
    }

    public var namespace: String {
        if case .resource(_, _, _, let namespace, _) = target { return namespace }
        return ""
    }

    /// Kubernetes' own words for a refusal: `User "bob" cannot list resource "pods" in API
    /// group "" in the namespace "default"`.
    public var forbiddenMessage: String {
        switch target {
        case .resource(let group, let resource, let subresource, let namespace, _):
            let what = subresource.isEmpty ? resource : "\(resource)/\(subresource)"
            let scope = namespace.isEmpty ? "at the cluster scope" : "in the namespace \"\(namespace)\""
            return "User \"\(user.name)\" cannot \(verb) resource \"\(what)\" in API group \"\(group)\" \(scope)"
        case .nonResource(let path):
            return "User \"\(user.name)\" cannot \(verb) path \"\(path)\""
        }
    }
}

/// An authorizer's answer. `noOpinion` lets the next authorizer judge; when none allows,
/// the request is forbidden.
public enum Decision: Sendable, Equatable {
    case allow(reason: String)
    case deny(reason: String)
    case noOpinion(reason: String)

    public var allowed: Bool { if case .allow = self { true } else { false } }
    public var reason: String {
        switch self {
        case .allow(let r), .deny(let r), .noOpinion(let r): return r
        }
    }
}
