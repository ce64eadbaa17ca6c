import Foundation
import NetplaneTestSupport
import Testing

/// Server-side apply as GitOps tools and people use it: `kubectl apply --server-side`,
/// managedFields per manager, a conflict between two managers refused with the manager and
/// field named, `--force-conflicts`, fields a manager stops applying removed, `kubectl diff
/// --server-side` and `--dry-run=server` storing nothing, list items merged by key (built-in
/// containers, a CRD's list-map-keys).
@Suite struct ServerSideApplyKubectlTests {
    func deployment(replicas: Int, labels: String = "{app: web, tier: front}", image: String = "nginx:1.27") -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: default
          labels: \(labels)
        spec:
          replicas: \(replicas)
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: \(image)
        """
    }

    /// The managers and operations in an object's managedFields.
    func managers(_ api: RunningAPIServer, _ args: [String]) throws -> [String] {
        let object = try api.kubectlJSON(["get"] + args + ["--show-managed-fields"])
        let entries = (object["metadata"] as? [String: Any])?["managedFields"] as? [[String: Any]] ?? []
        return entries.map { "\($0["manager"] ?? "")/\($0["operation"] ?? "")" }
    }

    /// The field set of one manager's entry, as JSON text.
    func fields(_ api: RunningAPIServer, _ args: [String], manager: String) throws -> String {
        let object = try api.kubectlJSON(["get"] + args + ["--show-managed-fields"])
        let entries = (object["metadata"] as? [String: Any])?["managedFields"] as? [[String: Any]] ?? []
        guard let entry = entries.first(where: { $0["manager"] as? String == manager }), let set = entry["fieldsV1"] else { return "" }
        return String(decoding: try JSONSerialization.data(withJSONObject: set, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test func twoManagersConflictForceAndRemoval() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }

        // Created by an apply: the manager owns what it applied.
        let created = try api.kubectlOK(["apply", "--server-side", "-f", "-"], stdin: deployment(replicas: 2))
        #expect(created.contains("deployment.apps/web serverside-applied"), "\(created)")
        #expect(try managers(api, ["deployment", "web"]) == ["kubectl/Apply"])
        let owned = try fields(api, ["deployment", "web"], manager: "kubectl")
        #expect(owned.contains(#""f:replicas":{}"#) && owned.contains(#""k:{\"name\":\"web\"}""#) && owned.contains(#""f:tier":{}"#), "\(owned)")
        // Defaults the server filled belong to nobody.
        #expect(!owned.contains("f:revisionHistoryLimit") && !owned.contains("f:status"), "\(owned)")

        // Another manager wanting a different replicas is refused, naming the owner.
        let conflict = try api.kubectl(["apply", "--server-side", "--field-manager=autoscaler", "-f", "-"],
                                       stdin: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec: {replicas: 5}\n")
        #expect(!conflict.succeeded && conflict.stderr.contains(#"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#),
                "\(conflict.stderr)")
        #expect(conflict.stderr.contains("--force-conflicts"), "kubectl's advice follows the 409: \(conflict.stderr)")
        #expect(try api.kubectlOK(["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]) == "2")
        // The same value is shared, not a conflict.
        try api.kubectlOK(["apply", "--server-side", "--field-manager=auditor", "-f", "-"],
                          stdin: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default, labels: {tier: front}}\n")
        #expect(try fields(api, ["deployment", "web"], manager: "auditor").contains(#""f:tier":{}"#))

        // Forced: the autoscaler takes replicas from kubectl.
        try api.kubectlOK(["apply", "--server-side", "--field-manager=autoscaler", "--force-conflicts", "-f", "-"],
                          stdin: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec: {replicas: 5}\n")
        #expect(try api.kubectlOK(["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]) == "5")
        #expect(try fields(api, ["deployment", "web"], manager: "autoscaler").contains(#""f:replicas":{}"#))
        #expect(!(try fields(api, ["deployment", "web"], manager: "kubectl").contains(#""f:replicas""#)))

        // kubectl stops applying replicas (no conflict now) and both labels: app goes, tier
        // stays (the auditor still applies it).
        try api.kubectlOK(["apply", "--server-side", "-f", "-"], stdin: deployment(replicas: 5, labels: "{}")
                            .replacingOccurrences(of: "  replicas: 5\n", with: "").replacingOccurrences(of: "  labels: {}\n", with: ""))
        let labels = try api.kubectlOK(["get", "deployment", "web", "-o", "jsonpath={.metadata.labels}"])
        #expect(labels == #"{"tier":"front"}"#, "\(labels)")
        #expect(try api.kubectlOK(["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]) == "5")

        // An update by another tool makes it that field's manager: kubectl's next apply of a
        // different image conflicts with it.
        try api.kubectlOK(["set", "image", "deployment/web", "web=nginx:1.28"])
        let setImage = try api.kubectl(["apply", "--server-side", "-f", "-"], stdin: deployment(replicas: 5, image: "nginx:1.27")
            .replacingOccurrences(of: "  replicas: 5\n", with: ""))
        #expect(setImage.stderr.contains(#"conflict with "kubectl-set" using apps/v1: .spec.template.spec.containers[name="web"].image"#),
                "\(setImage.stderr)")

        // diff and dry runs: shown, not stored.
        let diff = try api.kubectl(["diff", "--server-side", "--force-conflicts", "-f", "-"], stdin: deployment(replicas: 3))
        #expect(diff.status == 1 && diff.stdout.contains("-  replicas: 5") && diff.stdout.contains("+  replicas: 3"), "\(diff.stdout) \(diff.stderr)")
        try api.kubectlOK(["apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-"], stdin: deployment(replicas: 3))
        #expect(try api.kubectlOK(["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]) == "5")
        #expect(try api.kubectlOK(["get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]) == "nginx:1.28")

        // Apply needs a manager; force is for apply only.
        let noManager = try api.curl("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", body: "{}",
                                     contentType: "application/apply-patch+yaml")
        #expect(noManager.status == 422 && noManager.body.contains("fieldManager: Required value"), "\(noManager.body)")
        #expect(try api.curl("PATCH", "/apis/apps/v1/namespaces/default/deployments/web?force=true", body: "{}",
                             contentType: "application/merge-patch+json").status == 422)
        // YAML bodies, as other clients send them.
        let yaml = try api.curl("PATCH", "/api/v1/namespaces/default/configmaps/settings?fieldManager=tool", body: """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: settings
            data:
              mode: fast
            """, contentType: "application/apply-patch+yaml")
        #expect(yaml.status == 201 && yaml.body.contains(#""mode":"fast""#), "\(yaml.body)")
    }

    @Test func aCustomResourcesListMergesByItsKeys() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        try api.kubectlOK(["apply", "-f", "-"], stdin: """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: routers.net.example.com}
        spec:
          group: net.example.com
          scope: Namespaced
          names: {plural: routers, kind: Router}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    properties:
                      peers:
                        type: array
                        x-kubernetes-list-type: map
                        x-kubernetes-list-map-keys: [address]
                        items:
                          type: object
                          required: [address]
                          properties:
                            address: {type: string}
                            asNumber: {type: integer}
                      communities:
                        type: array
                        x-kubernetes-list-type: set
                        items: {type: string}
        """)
        try api.kubectlOK(["wait", "--for", "condition=established", "--timeout=30s", "crd/routers.net.example.com"])
        func router(_ peers: String, _ communities: String) -> String {
            "apiVersion: net.example.com/v1\nkind: Router\nmetadata: {name: edge, namespace: default}\nspec: {peers: \(peers), communities: \(communities)}\n"
        }
        // Two teams each own their peer and community; neither removes the other's.
        try api.kubectlOK(["apply", "--server-side", "--field-manager=team-a", "-f", "-"],
                          stdin: router("[{address: 198.18.0.1, asNumber: 64512}]", "[\"64512:1\"]"))
        try api.kubectlOK(["apply", "--server-side", "--field-manager=team-b", "-f", "-"],
                          stdin: router("[{address: 198.18.0.2, asNumber: 64513}]", "[\"64513:1\"]"))
        #expect(try api.kubectlOK(["get", "router", "edge", "-o", "jsonpath={.spec.peers[*].address} {.spec.communities}"])
                == #"198.18.0.1 198.18.0.2 ["64512:1","64513:1"]"#)
        // team-b changing team-a's peer conflicts on that item's field.
        let conflict = try api.kubectl(["apply", "--server-side", "--field-manager=team-b", "-f", "-"],
                                       stdin: router("[{address: 198.18.0.2, asNumber: 64513}, {address: 198.18.0.1, asNumber: 1}]", "[\"64513:1\"]"))
        #expect(conflict.stderr.contains(#"conflict with "team-a": .spec.peers[address="198.18.0.1"].asNumber"#), "\(conflict.stderr)")
        // team-a drops its peer: only that item goes.
        try api.kubectlOK(["apply", "--server-side", "--field-manager=team-a", "-f", "-"], stdin: router("[]", "[\"64512:1\"]"))
        #expect(try api.kubectlOK(["get", "router", "edge", "-o", "jsonpath={.spec.peers[*].address}"]) == "198.18.0.2")
    }
}
