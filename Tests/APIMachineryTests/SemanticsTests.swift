import Testing
import JSON
import APIMachinery

@Suite struct SelectorTests {
    @Test func labelSelectorGrammar() throws {
        let s = try LabelSelector(parsing: "app=web, tier!=db,env in (prod, staging),!legacy,team")
        #expect(s.matches(["app": "web", "env": "prod", "team": "a"]))
        #expect(!s.matches(["app": "web", "env": "prod", "team": "a", "legacy": "1"]))
        #expect(!s.matches(["app": "web", "env": "dev", "team": "a"]))
        #expect(!s.matches(["app": "web", "env": "prod", "team": "a", "tier": "db"]))
        #expect(!s.matches(["app": "web", "env": "prod"]))
        #expect(try LabelSelector(parsing: "").matches([:]))
        #expect(throws: APIError.self) { try LabelSelector(parsing: "bad key=1") }
        #expect(throws: APIError.self) { try LabelSelector(parsing: "a in x") }
    }

    @Test func structuredSelector() throws {
        let json = try JSONValue.parse(#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"env","operator":"NotIn","values":["dev"]},{"key":"x","operator":"Exists"}]}"#)
        let s = try LabelSelector(json: json)
        #expect(s.matches(["app": "web", "x": ""]))
        #expect(!s.matches(["app": "web", "x": "", "env": "dev"]))
        #expect(throws: APIError.self) { try LabelSelector(json: try JSONValue.parse(#"{"matchExpressions":[{"key":"a","operator":"Near"}]}"#)) }
    }

    @Test func fieldSelectorsPerResource() throws {
        let pods = ResourceRegistry.builtin.resource(group: "", version: "v1", plural: "pods")!
        let pod = try JSONValue.parse(#"{"metadata":{"name":"p","namespace":"d"},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}}"#)
        #expect(try FieldSelector(parsing: "spec.nodeName=n1,status.phase!=Failed", for: pods).matches(pod))
        #expect(try !FieldSelector(parsing: "spec.nodeName=", for: pods).matches(pod))
        #expect(throws: APIError.self) { try FieldSelector(parsing: "spec.containers=x", for: pods) }
    }
}

@Suite struct PatchTests {
    let deployment = try! JSONValue.parse("""
        {"metadata":{"name":"web","labels":{"app":"web","old":"x"},"finalizers":["a"]},
         "spec":{"replicas":2,"template":{"spec":{"containers":[
            {"name":"app","image":"nginx:1","env":[{"name":"A","value":"1"}],"ports":[{"containerPort":80}]},
            {"name":"side","image":"busybox"}]}}}}
        """)

    @Test func strategicMergeByKeys() throws {
        let patch = try JSONValue.parse("""
            {"metadata":{"labels":{"old":null,"new":"y"},"finalizers":["b"]},
             "spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:2","env":[{"name":"B","value":"2"}]},
                                                       {"name":"side","$patch":"delete"}]}}}}
            """)
        let result = try strategicMergePatch(deployment, patch, schema: .forKind("Deployment"))
        #expect(result.labels == ["app": "web", "new": "y"])
        #expect(result.finalizers == ["a", "b"])
        let containers = result[path: ["spec", "template", "spec", "containers"]]?.arrayValue ?? []
        #expect(containers.count == 1)
        #expect(containers.first?["image"] == "nginx:2")
        #expect(containers.first?["env"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["A", "B"])
        #expect(containers.first?["ports"]?.arrayValue?.count == 1, "untouched lists stay")
    }

    @Test func strategicDirectives() throws {
        let patch = try JSONValue.parse("""
            {"$setElementOrder/finalizers":["b","a"],"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]},
             "spec":{"$retainKeys":["template"],"template":{"spec":{"$patch":"replace","containers":[{"name":"only","image":"x"}]}}}}
            """)
        let result = try strategicMergePatch(deployment, patch, schema: .forKind("Deployment"))
        #expect(result.finalizers.isEmpty)
        #expect(result["spec"]?["replicas"] == nil, "retainKeys dropped replicas")
        #expect(result[path: ["spec", "template", "spec"]] == ["containers": [["name": "only", "image": "x"]]])
        #expect(throws: APIError.self) {
            try strategicMergePatch(deployment, ["spec": ["template": ["spec": ["containers": [["image": "nokey"]]]]]], schema: .forKind("Deployment"))
        }
    }

    @Test func mergeAndJSONPatch() throws {
        let merged = mergePatch(deployment, ["spec": ["replicas": 5, "template": nil]])
        #expect(merged["spec"] == ["replicas": 5])
        let patched = try jsonPatch(deployment, try JSONValue.parse("""
            [{"op":"replace","path":"/spec/replicas","value":3},
             {"op":"add","path":"/metadata/labels/a~1b","value":"c"},
             {"op":"remove","path":"/spec/template/spec/containers/1"},
             {"op":"test","path":"/metadata/name","value":"web"}]
            """))
        #expect(patched[path: ["spec", "replicas"]] == 3)
        #expect(patched.labels["a/b"] == "c")
        #expect(patched[path: ["spec", "template", "spec", "containers"]]?.arrayValue?.count == 1)
        #expect(throws: APIError.self) { try jsonPatch(deployment, [["op": "test", "path": "/metadata/name", "value": "other"]]) }
        #expect(throws: APIError.self) { try jsonPatch(deployment, [["op": "remove", "path": "/nope"]]) }
    }
}

@Suite struct ValidationTests {
    @Test func serviceRules() throws {
        let services = ResourceRegistry.builtin.resource(group: "", version: "v1", plural: "services")!
        let bad = try JSONValue.parse("""
            {"metadata":{"name":"Bad_Name","labels":{"ok":"-no"}},"spec":{"type":"Magic","ports":[
              {"port":0},{"port":80,"protocol":"ICMP"}],"clusterIP":"10.96.0.999","sessionAffinity":"Sticky"}}
            """)
        let fields = Set(ObjectValidation.validate(bad, services).map(\.field))
        for f in ["metadata.name", "metadata.labels", "spec.type", "spec.ports[0].port", "spec.ports[0].name",
                  "spec.ports[1].protocol", "spec.clusterIP", "spec.sessionAffinity"] {
            #expect(fields.contains(f), "\(f) in \(fields)")
        }
        let good = try JSONValue.parse(#"{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}"#)
        #expect(ObjectValidation.validate(good, services).isEmpty)
    }

    @Test func timestampsRoundTrip() {
        #expect(APITime.format(0) == "1970-01-01T00:00:00Z")
        #expect(APITime.parse("2026-11-24T10:00:00Z") == APITime.parse("2026-11-24T11:00:00+01:00"))
        #expect(APITime.parse(APITime.format(1_795_000_000)) == 1_795_000_000)
        // Every field zero-padded to its width, at both ends of the four-digit years.
        #expect(APITime.format(1_795_000_000) == "2026-11-18T11:06:40Z")
        #expect(APITime.format(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(APITime.format(-62_135_596_800) == "0001-01-01T00:00:00Z")
        #expect(APITime.format(253_402_300_799) == "9999-12-31T23:59:59Z")
        #expect(APITime.age(since: 0, now: 90) == "90s")
        #expect(APITime.age(since: 0, now: 3 * 86400) == "3d")
    }

    /// The subdomain check agrees with the regex kube-apiserver names in its message, on every
    /// string of up to four characters from an alphabet with each kind of character in it.
    @Test func subdomainCheckAgreesWithTheRegex() throws {
        let regex = try Regex("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
        let alphabet = ["a", "0", "-", ".", "A", "_", "é"]
        var strings = [""]
        var all: [String] = []
        for _ in 1...4 {
            strings = strings.flatMap { s in alphabet.map { s + $0 } }
            all += strings
        }
        var valid = 0
        for s in all {
            let matches = (try? regex.wholeMatch(in: s)) != nil
            #expect((NameRules.dns1123SubdomainProblem(s) == nil) == matches, "\(s)")
            if matches { valid += 1 }
        }
        #expect(valid > 50)
        #expect(NameRules.dns1123SubdomainProblem(String(repeating: "a", count: 254)) == "must be no more than 253 characters")
        #expect(NameRules.dns1123SubdomainProblem("") == "must not be empty")
    }
}
