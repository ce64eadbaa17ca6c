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

    static func groups(_ registry: ResourceRegistry) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (group, version) in registry.groupVersions where !group.isEmpty {
            out[group, default: []].append(version)
        }
        return out
    }

    static func groupJSON(_ name: String, _ versions: [String]) -> JSONValue {
        let list: [JSONValue] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["name": .string(name), "versions": .array(list), "preferredVersion": list[0]]
    }

    static func apiGroupList(_ registry: ResourceRegistry) -> JSONValue {
        var seen: [String] = []
        for (group, _) in registry.groupVersions where !group.isEmpty && !seen.contains(group) { seen.append(group) }
        let all = groups(registry)
        return ["kind": "APIGroupList", "apiVersion": "v1",
                "groups": .array(seen.map { groupJSON($0, all[$0]!) })]
    }

    static func apiGroup(_ registry: ResourceRegistry, _ name: String) -> JSONValue? {
        guard let versions = groups(registry)[name] else { return nil }
        var g = groupJSON(name, versions)
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
                                    "verbs": .array(ResourceType.allVerbs.map { .string($0) })]
            if !r.shortNames.isEmpty { entry["shortNames"] = .array(r.shortNames.map { .string($0) }) }
            if !r.categories.isEmpty { entry["categories"] = .array(r.categories.map { .string($0) }) }
            entries.append(entry)
            for sub in r.subresources.sorted() {
                var s: JSONValue = ["name": .string("\(r.plural)/\(sub)"), "singularName": "", "namespaced": .bool(r.namespaced)]
                switch sub {
                case "scale":
                    s["group"] = "autoscaling"; s["version"] = "v1"; s["kind"] = "Scale"
                    s["verbs"] = ["get", "patch", "update"]
                case "binding":
                    s["kind"] = "Binding"; s["verbs"] = ["create"]
                case "finalize":
                    s["kind"] = .string(r.kind); s["verbs"] = ["update"]
                default:
                    s["kind"] = .string(r.kind); s["verbs"] = ["get", "patch", "update"]
                }
                entries.append(s)
            }
        }
        let gv = group.isEmpty ? version : "\(group)/\(version)"
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(gv), "resources": .array(entries)]
    }
}
