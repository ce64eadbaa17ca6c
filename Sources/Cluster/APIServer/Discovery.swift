import JSON
import APIMachinery

/// The discovery documents clients read to learn which resources exist where.
enum Discovery {
    static let version: JSONValue = [
        "major": "1", "minor": "32", "gitVersion": "v1.32.0+netplane", "gitCommit": "", "gitTreeState": "clean",
        "buildDate": "2026-11-24T00:00:00Z", "goVersion": "swift6", "compiler": "swift", "platform": "linux/amd64",
    ]

    static func apiVersions() -> JSONValue {
        ["kind": "APIVersions", "versions": ["v1"],
         "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": ""]]]
    }

    /// Every API group in the registry's order (the core group as ""), each with its
    /// versions, preferred first.
    static func groups(_ registry: ResourceRegistry) -> [(name: String, versions: [String])] {
        var out: [(name: String, versions: [String])] = []
        for (group, version) in registry.groupVersions {
            if let i = out.firstIndex(where: { $0.name == group }) { out[i].versions.append(version) } else { out.append((group, [version])) }
        }
        return out
    }

    static func groupJSON(_ name: String, _ versions: [String]) -> JSONValue {
        let list: [JSONValue] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["name": .string(name), "versions": .array(list), "preferredVersion": list[0]]
    }

    static func apiGroupList(_ registry: ResourceRegistry) -> JSONValue {
        ["kind": "APIGroupList", "apiVersion": "v1",
         "groups": .array(groups(registry).filter { !$0.name.isEmpty }.map { groupJSON($0.name, $0.versions) })]
    }

    static func apiGroup(_ registry: ResourceRegistry, _ name: String) -> JSONValue? {
        guard !name.isEmpty, let group = groups(registry).first(where: { $0.name == name }) else { return nil }
        var g = groupJSON(name, group.versions)
        g["kind"] = "APIGroup"
        g["apiVersion"] = "v1"
        return g
    }

    static func resourceList(_ registry: ResourceRegistry, group: String, version: String) -> JSONValue? {
        let resources = registry.resources.filter { $0.group == group && $0.version == version }
        guard !resources.isEmpty else { return nil }
        var entries: [JSONValue] = []
        for r in resources {
            var entry: JSONValue = ["name": .string(r.plural), "singularName": .string(r.singular),
                                    "namespaced": .bool(r.namespaced), "kind": .string(r.kind),
                                    "verbs": .array(r.verbs.map { .string($0) })]
            if !r.shortNames.isEmpty { entry["shortNames"] = .array(r.shortNames.map { .string($0) }) }
            if !r.categories.isEmpty { entry["categories"] = .array(r.categories.map { .string($0) }) }
            entries.append(entry)
            for sub in r.subresources.sorted() {
                let shape = subresource(sub, of: r)
                var s: JSONValue = ["name": .string("\(r.plural)/\(sub)"), "singularName": "", "namespaced": .bool(r.namespaced),
                                    "kind": .string(shape.kind), "verbs": .array(shape.verbs.map { .string($0) })]
                if let group = shape.group { s["group"] = .string(group); s["version"] = .string(shape.version!) }
                entries.append(s)
            }
        }
        let gv = group.isEmpty ? version : "\(group)/\(version)"
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(gv), "resources": .array(entries)]
    }

    /// What a subresource answers with and which verbs it takes (`group` and `version` only
    /// when they differ from the parent's, as for `scale`).
    static func subresource(_ name: String, of r: ResourceType) -> (group: String?, version: String?, kind: String, verbs: [String]) {
        switch name {
        case "scale": return ("autoscaling", "v1", "Scale", ["get", "patch", "update"])
        case "binding": return (nil, nil, "Binding", ["create"])
        case "eviction": return ("policy", "v1", "Eviction", ["create"])
        case "token": return ("authentication.k8s.io", "v1", "TokenRequest", ["create"])
        case "finalize": return (nil, nil, r.kind, ["update"])
        default: return (nil, nil, r.kind, ["get", "patch", "update"])
        }
    }

    // MARK: - Aggregated discovery (apidiscovery.k8s.io)

    /// The aggregated discovery version a client accepts for `/api` or `/apis`, if any.
    /// kubectl (1.30 and later) asks with
    /// `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,…,application/json`
    /// and, answered in that form, learns every resource from two requests instead of one
    /// per group-version. The first acceptable media range wins, as its order is the
    /// client's preference.
    static func aggregatedVersion(accept: String) -> String? {
        for range in accept.split(separator: ",") {
            var params: [String: String] = [:]
            let parts = range.split(separator: ";").map { String($0.trimmingSpaces) }
            guard parts.first == "application/json" else { continue }
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { params[kv[0]] = kv[1] }
            }
            if params["g"] == nil { return nil }  // plain JSON preferred over what follows
            if params["g"] == "apidiscovery.k8s.io", params["as"] == "APIGroupDiscoveryList",
               let v = params["v"], v == "v2" || v == "v2beta1" {
                return v
            }
        }
        return nil
    }

    /// The content type of an aggregated discovery document of `version`.
    static func aggregatedContentType(_ version: String) -> String {
        "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList"
    }

    /// `APIGroupDiscoveryList` for the core group (`/api`, `core: true`) or the named
    /// groups (`/apis`): every group with its versions, preferred first, and each
    /// version's resources with their kinds, scope, verbs and subresources.
    static func aggregated(_ registry: ResourceRegistry, core: Bool, version: String) -> JSONValue {
        let items: [JSONValue] = groups(registry).filter { $0.name.isEmpty == core }.map { (group, versions) in
            let versionEntries: [JSONValue] = versions.map { v in
                let resources: [JSONValue] = registry.resources.filter { $0.group == group && $0.version == v }.map { r in
                    var entry: JSONValue = [
                        "resource": .string(r.plural), "singularResource": .string(r.singular),
                        "responseKind": ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)],
                        "scope": r.namespaced ? "Namespaced" : "Cluster",
                        "verbs": .array(r.verbs.map { .string($0) }),
                    ]
                    if !r.shortNames.isEmpty { entry["shortNames"] = .array(r.shortNames.map { .string($0) }) }
                    if !r.categories.isEmpty { entry["categories"] = .array(r.categories.map { .string($0) }) }
                    if !r.subresources.isEmpty {
                        entry["subresources"] = .array(r.subresources.sorted().map { sub in
                            let shape = subresource(sub, of: r)
                            return ["subresource": .string(sub),
                                    "responseKind": ["group": .string(shape.group ?? r.group),
                                                     "version": .string(shape.version ?? r.version), "kind": .string(shape.kind)],
                                    "verbs": .array(shape.verbs.map { .string($0) })]
                        })
                    }
                    return entry
                }
                return ["version": .string(v), "resources": .array(resources), "freshness": "Current"]
            }
            let metadata: JSONValue = group.isEmpty ? .emptyObject : ["name": .string(group)]
            return ["metadata": metadata, "versions": .array(versionEntries)]
        }
        return ["kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(version)"),
                "metadata": .emptyObject, "items": .array(items)]
    }
}
