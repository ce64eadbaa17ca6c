import Testing
import APIMachinery
import JSON

/// The Table columns kubectl prints (`kubectl get`, `-o wide`), as kube-apiserver's printers
/// make them: names, priorities and cells for the kinds whose columns are more than a name.
@Suite struct TableTests {
    let registry = ResourceRegistry.builtin

    func table(_ plural: String, group: String = "", _ object: JSONValue) throws -> (names: [String], wide: [String], cells: [String: JSONValue]) {
        let resource = try #require(registry.resources.first { $0.group == group && $0.plural == plural })
        let table = TableConverter.table([object], resource: resource, includeObject: nil, listMetadata: [:])
        let definitions = table["columnDefinitions"]?.arrayValue ?? []
        let names = definitions.filter { $0["priority"]?.intValue == 0 }.compactMap { $0["name"]?.stringValue }
        let wide = definitions.filter { $0["priority"]?.intValue == 1 }.compactMap { $0["name"]?.stringValue }
        let cells = table["rows"]?.arrayValue?.first?["cells"]?.arrayValue ?? []
        var byName: [String: JSONValue] = [:]
        for (definition, cell) in zip(definitions, cells) { byName[definition["name"]?.stringValue ?? ""] = cell }
        return (names, wide, byName)
    }

    /// kubectl's AGE: apimachinery's HumanDuration, "4m12s" under ten minutes and so on.
    @Test func agesAreKubesHumanDurations() {
        let cases: [(Int, String)] = [
            (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (252, "4m12s"), (600, "10m"),
            (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (5 * 3600 + 30 * 60, "5h30m"), (8 * 3600, "8h"), (47 * 3600, "47h"),
            (48 * 3600, "2d"), (3 * 86400 + 4 * 3600, "3d4h"), (8 * 86400, "8d"), (729 * 86400, "729d"),
            (2 * 365 * 86400, "2y"), (3 * 365 * 86400 + 20 * 86400, "3y20d"), (9 * 365 * 86400, "9y"),
        ]
        for (seconds, printed) in cases { #expect(APITime.humanDuration(seconds) == printed, "\(seconds)") }
    }

    @Test func workloadsCarryTheirTemplateAndSelectorInWide() throws {
        let deployment: JSONValue = try JSONValue.parse(#"""
            {"metadata":{"name":"web","creationTimestamp":"2026-01-01T00:00:00Z"},
             "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["b","a"]},{"key":"canary","operator":"DoesNotExist"}]},
                     "template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"},{"name":"log","image":"busybox"}]}}},
             "status":{"readyReplicas":1,"updatedReplicas":2,"availableReplicas":1}}
            """#)
        let d = try table("deployments", group: "apps", deployment)
        #expect(d.names == ["Name", "Ready", "Up-to-date", "Available", "Age"])
        #expect(d.wide == ["Containers", "Images", "Selector"])
        #expect(d.cells["Containers"] == "nginx,log")
        #expect(d.cells["Images"] == "nginx:1.27,busybox")
        #expect(d.cells["Selector"] == "app=web,!canary,tier in (a,b)")

        let daemonSet = try JSONValue.parse(#"{"metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"spec":{"nodeSelector":{"os":"linux"},"containers":[{"name":"a","image":"a:1"}]}}},"status":{"desiredNumberScheduled":3,"numberAvailable":2}}"#)
        let ds = try table("daemonsets", group: "apps", daemonSet)
        #expect(ds.names == ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"])
        #expect(ds.cells["Node Selector"] == "os=linux")
        #expect(ds.cells["Available"] == .int(2))

        let service = try JSONValue.parse(#"{"metadata":{"name":"web"},"spec":{"selector":{"tier":"front","app":"web"},"ports":[{"port":80}]}}"#)
        let svc = try table("services", service)
        #expect(svc.wide == ["Selector"])
        #expect(svc.cells["Selector"] == "app=web,tier=front")
        let headless = try table("services", try JSONValue.parse(#"{"metadata":{"name":"ext"},"spec":{"type":"ExternalName","externalName":"example.com"}}"#))
        #expect(headless.cells["Selector"] == "<none>")
    }

    @Test func jobsShowStatusCompletionsAndDuration() throws {
        let running = try JSONValue.parse(#"{"metadata":{"name":"pi"},"spec":{"parallelism":3,"template":{"spec":{"containers":[{"name":"pi","image":"perl"}]}}},"status":{"startTime":"2026-01-01T00:00:00Z","succeeded":1}}"#)
        let r = try table("jobs", group: "batch", running)
        #expect(r.names == ["Name", "Status", "Completions", "Duration", "Age"])
        #expect(r.wide == ["Containers", "Images", "Selector"])
        #expect(r.cells["Status"] == "Running")
        #expect(r.cells["Completions"] == "1/1 of 3")
        let done = try JSONValue.parse(#"{"metadata":{"name":"pi"},"spec":{"completions":2},"status":{"startTime":"2026-01-01T00:00:00Z","completionTime":"2026-01-01T00:04:12Z","succeeded":2,"conditions":[{"type":"Complete","status":"True"}]}}"#)
        let c = try table("jobs", group: "batch", done)
        #expect(c.cells["Status"] == "Complete")
        #expect(c.cells["Completions"] == "2/2")
        #expect(c.cells["Duration"] == "4m12s")
        let failed = try JSONValue.parse(#"{"metadata":{"name":"x"},"status":{"conditions":[{"type":"Failed","status":"True"}]}}"#)
        #expect(try table("jobs", group: "batch", failed).cells["Status"] == "Failed")
    }

    @Test func bindingsShowTheirRoleAndSubjects() throws {
        let binding = try JSONValue.parse(#"""
            {"metadata":{"name":"b","namespace":"ns"},"roleRef":{"kind":"ClusterRole","name":"edit"},
             "subjects":[{"kind":"User","name":"alice"},{"kind":"Group","name":"devs"},{"kind":"User","name":"bob"},
                         {"kind":"ServiceAccount","name":"sa","namespace":"ns"}]}
            """#)
        let b = try table("rolebindings", group: "rbac.authorization.k8s.io", binding)
        #expect(b.names == ["Name", "Role", "Age"])
        #expect(b.cells["Role"] == "ClusterRole/edit")
        #expect(b.cells["Users"] == "alice, bob")
        #expect(b.cells["Groups"] == "devs")
        #expect(b.cells["ServiceAccounts"] == "ns/sa")
        let role = try table("clusterroles", group: "rbac.authorization.k8s.io",
                             try JSONValue.parse(#"{"metadata":{"name":"view","creationTimestamp":"2026-01-01T00:00:00Z"}}"#))
        #expect(role.names == ["Name", "Created At"])
        #expect(role.cells["Created At"] == "2026-01-01T00:00:00Z")
        let account = try table("serviceaccounts", try JSONValue.parse(#"{"metadata":{"name":"default"},"secrets":[{"name":"t"}]}"#))
        #expect(account.names == ["Name", "Secrets", "Age"])
        #expect(account.cells["Secrets"] == .int(1))
    }

    @Test func podsWideShowNominatedNodeAndReadinessGates() throws {
        let pod = try JSONValue.parse(#"""
            {"metadata":{"name":"p"},"spec":{"nodeName":"n1","readinessGates":[{"conditionType":"a"},{"conditionType":"b"}],"containers":[{"name":"c"}]},
             "status":{"podIP":"10.244.1.5","conditions":[{"type":"a","status":"True"},{"type":"b","status":"False"}]}}
            """#)
        let p = try table("pods", pod)
        #expect(p.wide == ["IP", "Node", "Nominated Node", "Readiness Gates"])
        #expect(p.cells["Nominated Node"] == "<none>")
        #expect(p.cells["Readiness Gates"] == "1/2")
        let ingress = try table("ingresses", group: "networking.k8s.io",
                                try JSONValue.parse(#"{"metadata":{"name":"i"},"spec":{"tls":[{"hosts":["a"]}],"rules":[{"host":"a"}]}}"#))
        #expect(ingress.cells["Ports"] == "80, 443")
    }
}
