import Foundation
import Testing
import NetplaneTestSupport

let manifest = """
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - name: COLOR
          value: blue
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - name: http
    port: 80
    targetPort: 80
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-frontend
  namespace: shop
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - from:
    - podSelector:
        matchLabels: {role: frontend}
    ports:
    - port: 80
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
spec:
  rules:
  - host: shop.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port: {number: 80}
"""

final class OutputBox: @unchecked Sendable { var text = "" }

@Suite(.serialized) struct KubectlTests {
    @Test(arguments: Backend.allCases) func applyGetEditReapplyScaleDelete(_ backend: Backend) throws {
        let api = try RunningAPIServer(backend: backend)
        defer { api.stop() }
        let applied = try api.kubectlOK(["apply", "-f", "-"], stdin: manifest)
        #expect(applied.contains("namespace/shop created"), "\(applied)")
        #expect(applied.contains("deployment.apps/web created"))
        #expect(applied.contains("service/web created"))
        #expect(applied.contains("ingress.networking.k8s.io/web created"))

        // Defaults and allocation, as `get -o json` shows them.
        let service = try api.kubectlJSON(["get", "service", "web", "-n", "shop"])
        let spec = service["spec"] as? [String: Any] ?? [:]
        let clusterIP = spec["clusterIP"] as? String ?? ""
        #expect(clusterIP.hasPrefix("10.96."), "\(spec)")
        let port = (spec["ports"] as? [[String: Any]])?.first ?? [:]
        let nodePort = port["nodePort"] as? Int ?? 0
        #expect((30000...32767).contains(nodePort), "\(port)")
        #expect(port["protocol"] as? String == "TCP")

        // Edit the manifest: another env var, a label, 3 replicas; apply patches, no conflict.
        let edited = manifest
            .replacingOccurrences(of: "replicas: 2", with: "replicas: 3")
            .replacingOccurrences(of: "          value: blue", with: "          value: blue\n        - name: SIZE\n          value: large")
            .replacingOccurrences(of: "data:\n  color: blue", with: "data:\n  color: green")
        let reapplied = try api.kubectlOK(["apply", "-f", "-"], stdin: edited)
        #expect(reapplied.contains("deployment.apps/web configured"), "\(reapplied)")
        #expect(reapplied.contains("configmap/settings configured"))
        #expect(reapplied.contains("service/web unchanged"))
        let deployment = try api.kubectlJSON(["get", "deploy", "web", "-n", "shop"])
        #expect((deployment["spec"] as? [String: Any])?["replicas"] as? Int == 3)
        let container = (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
            .flatMap { ($0["containers"] as? [[String: Any]])?.first } ?? [:]
        let env = (container["env"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(env == ["COLOR", "SIZE"])
        #expect(((deployment["metadata"] as? [String: Any])?["generation"] as? Int) == 2)
        #expect(try api.kubectlOK(["get", "cm", "settings", "-n", "shop", "-o", "jsonpath={.data.color}"]) == "green")

        // Table output, label selectors, label and annotate, scale.
        let table = try api.kubectlOK(["get", "svc", "-n", "shop"])
        #expect(table.contains("NodePort") && table.contains(clusterIP) && table.contains("80:\(nodePort)/TCP"), "\(table)")
        try api.kubectlOK(["label", "configmap", "settings", "-n", "shop", "tier=backend"])
        try api.kubectlOK(["annotate", "configmap", "settings", "-n", "shop", "owner=team-a"])
        let selected = try api.kubectlOK(["get", "cm", "-n", "shop", "-l", "tier=backend", "-o", "name"])
        #expect(selected.trimmingCharacters(in: .whitespacesAndNewlines) == "configmap/settings")
        // Only the namespace's CA ConfigMap (every namespace has one, as in Kubernetes) is left.
        #expect(try api.kubectlOK(["get", "cm", "-n", "shop", "-l", "tier!=backend", "-o", "name"]) == "configmap/kube-root-ca.crt\n")
        #expect(try api.kubectlOK(["get", "cm", "settings", "-n", "shop", "-o", "jsonpath={.metadata.annotations.owner}"]) == "team-a")
        try api.kubectlOK(["scale", "deployment", "web", "-n", "shop", "--replicas=5"])
        #expect(try api.kubectlOK(["get", "deploy", "web", "-n", "shop", "-o", "jsonpath={.spec.replicas}"]) == "5")

        let resources = try api.kubectlOK(["api-resources"])
        for line in ["networkpolicies", "endpointslices", "deployments", "leases", "ingressclasses"] {
            #expect(resources.contains(line), "\(resources)")
        }

        // Delete: the Service's addresses go back to the pool.
        try api.kubectlOK(["delete", "service", "web", "-n", "shop"])
        #expect(try api.kubectl(["get", "service", "web", "-n", "shop"]).stderr.contains("NotFound"))
        let again = try api.kubectlOK(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Service
            metadata: {name: again, namespace: shop}
            spec:
              type: NodePort
              clusterIP: \(clusterIP)
              ports: [{port: 80, nodePort: \(nodePort)}]
            """)
        #expect(again.contains("service/again created"))
        try api.kubectlOK(["delete", "namespace", "shop"])
        #expect(try api.kubectlOK(["get", "deploy", "-A", "-o", "name"]).isEmpty)
    }

    @Test(arguments: Backend.allCases) func watchSeesChanges(_ backend: Backend) throws {
        let api = try RunningAPIServer(backend: backend)
        defer { api.stop() }
        func configMap(_ name: String, _ value: String) -> String {
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \(name)}\ndata: {a: \"\(value)\"}\n"
        }
        try api.kubectlOK(["apply", "-f", "-"], stdin: configMap("watched", "1"))
        // `kubectl get -w` for a few seconds on another thread, while this one makes changes.
        let done = DispatchSemaphore(value: 0)
        let box = OutputBox()
        let kubeconfig = api.kubeconfig
        DispatchQueue.global().async {
            box.text = (try? Command.run(["timeout", "6", "kubectl", "--kubeconfig", kubeconfig, "get", "configmaps", "-w",
                                          "-o", "jsonpath={.metadata.name}={.data.a}{\"\\n\"}"]))?.stdout ?? ""
            done.signal()
        }
        Thread.sleep(forTimeInterval: 1.5)
        try api.kubectlOK(["patch", "configmap", "watched", "-p", #"{"data":{"a":"2"}}"#])
        try api.kubectlOK(["apply", "-f", "-"], stdin: configMap("second", "9"))
        try api.kubectlOK(["delete", "configmap", "second"])
        done.wait()
        let seen = box.text
        // (The namespace's kube-root-ca.crt, which every namespace has, is listed too.)
        let lines = seen.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("kube-root-ca.crt=") }
        // The listed state first, then every change in order.
        #expect(lines.first == "watched=1", "\(seen)")
        #expect(lines.contains("watched=2"), "\(seen)")
        #expect(lines.filter { $0 == "second=9" }.count == 2, "added, then deleted: \(seen)")
    }

    /// `kubectl get -w` as people type it (the default columns): the watched changes come as
    /// one-row Tables with the list's columns, so kubectl prints them under the list's header
    /// with the kind's own columns (DATA for ConfigMaps) instead of a second, bare header.
    @Test func tableWatchKeepsTheListsColumns() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        try api.kubectlOK(["create", "configmap", "listed", "--from-literal=a=1"])
        let done = DispatchSemaphore(value: 0)
        let box = OutputBox()
        let kubeconfig = api.kubeconfig
        DispatchQueue.global().async {
            box.text = (try? Command.run(["timeout", "5", "kubectl", "--kubeconfig", kubeconfig, "get", "configmaps", "-w",
                                          "--output-watch-events"]))?.stdout ?? ""
            done.signal()
        }
        Thread.sleep(forTimeInterval: 1.5)
        try api.kubectlOK(["create", "configmap", "watched", "--from-literal=a=1", "--from-literal=b=2"])
        try api.kubectlOK(["delete", "configmap", "watched"])
        done.wait()
        let rows = box.text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.filter { $0.first == "EVENT" } == [["EVENT", "NAME", "DATA", "AGE"]], "one header: \(box.text)")
        #expect(rows.contains { $0.prefix(3) == ["ADDED", "listed", "1"] }, "\(box.text)")
        #expect(rows.contains { $0.prefix(3) == ["ADDED", "watched", "2"] }, "\(box.text)")
        #expect(rows.contains { $0.prefix(3) == ["DELETED", "watched", "2"] }, "\(box.text)")
    }

    /// kubectl asks for aggregated discovery and, answered in that form, learns every
    /// resource from `/api` and `/apis` alone: no request per group-version.
    @Test func kubectlDiscoversEverythingFromTwoAggregatedDocuments() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("np-kubectl-cache-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let result = try api.kubectl(["api-resources", "-v=6", "--cache-dir", cache])
        #expect(result.succeeded, "\(result.stderr)")
        let gets = result.stderr.split(separator: "\n").filter { $0.contains(" GET https://") }
        #expect(gets.contains { $0.contains("/api?") } && gets.contains { $0.contains("/apis?") }, "\(gets)")
        #expect(!gets.contains { $0.contains("/api/v1?") || $0.contains("/apis/apps/v1?") }, "per-group discovery: \(gets)")
        // Every resource with its group-version, scope and kind, as the per-group documents give them.
        let rows = Set(result.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") })
        for row in ["deployments deploy apps/v1 true Deployment", "nodes no v1 false Node",
                    "endpointslices discovery.k8s.io/v1 true EndpointSlice",
                    "networkpolicies netpol networking.k8s.io/v1 true NetworkPolicy",
                    "leases coordination.k8s.io/v1 true Lease", "cronjobs cj batch/v1 true CronJob"] {
            #expect(rows.contains(row), "\(row) in \(result.stdout)")
        }
        // The document itself, with the content type that names its form, and scale's kind.
        let doc = try Command.run(["curl", "-sS", "-k", "-D", "-", "-H", "Authorization: Bearer \(api.token)", "-H",
                                   "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
                                   api.server + "/apis"]).stdout
        #expect(doc.lowercased().contains("content-type: application/json;g=apidiscovery.k8s.io;v=v2;as=apigroupdiscoverylist"), "\(doc)")
        #expect(doc.contains(#""subresource":"scale""#) && doc.contains(#""kind":"Scale""#), "\(doc.prefix(2000))")
        // A client that asks for plain JSON still gets the APIGroupList.
        let plain = try api.curl("GET", "/apis")
        #expect(plain.status == 200 && plain.body.contains(#""kind":"APIGroupList""#), "\(plain.body.prefix(300))")
    }

    /// `kubectl explain` walks the schemas of the OpenAPI v3 documents.
    @Test func explainDescribesKindsAndFields() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        let spec = try api.kubectlOK(["explain", "service.spec"])
        #expect(spec.contains("KIND:       Service") && spec.contains("VERSION:    v1"), "\(spec)")
        #expect(spec.contains("FIELD: spec <ServiceSpec>"), "\(spec)")
        for field in ["ports\t<[]ServicePort>", "clusterIP\t<string>", "externalTrafficPolicy\t<string>", "selector\t<map[string]string>"] {
            #expect(spec.contains(field), "\(field) in \(spec)")
        }
        #expect(spec.contains("Cluster, Local") && spec.contains("Local sends it"), "\(spec)")
        #expect(try api.kubectlOK(["explain", "deployment.spec.replicas"]).contains("FIELD: replicas <integer>"))
        let ipBlock = try api.kubectlOK(["explain", "networkpolicy.spec.ingress.from.ipBlock"])
        #expect(ipBlock.contains("GROUP:      networking.k8s.io") && ipBlock.contains("cidr\t<string> -required-"), "\(ipBlock)")
        #expect(try api.kubectlOK(["explain", "endpointslice.endpoints.conditions"]).contains("serving\t<boolean>"))
        #expect(try api.kubectlOK(["explain", "node.spec.podCIDR"]).contains("FIELD: podCIDR <string>"))
        // A kind stored without a detailed schema still lists its top-level fields.
        #expect(try api.kubectlOK(["explain", "lease"]).contains("spec\t<Object>"))
        let missing = try api.kubectl(["explain", "service.spec.nosuch"])
        #expect(!missing.succeeded && missing.stderr.contains("nosuch"), "\(missing.stderr)")
    }

    @Test func appliesAListAndLeavesFieldChecksToTheServer() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        // `kind: List` (what `kubectl get -o yaml` prints) makes kubectl fetch /openapi/v2.
        let list = #"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"l1"},"data":{"a":"1"}},{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"listed"}}]}"#
        let applied = try api.kubectl(["apply", "-f", "-"], stdin: list)
        #expect(applied.succeeded, "\(applied)")
        #expect(applied.stdout.contains("configmap/l1 created") && applied.stdout.contains("namespace/listed created"))
        // A field the kind lacks is still refused, by the server's strict field validation.
        let bogus = try api.kubectl(["apply", "-f", "-"], stdin: #"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"l2"},"bogus":1}]}"#)
        #expect(!bogus.succeeded && bogus.stderr.contains(#"unknown field "bogus""#), "\(bogus)")
        #expect(!(try api.kubectl(["get", "cm", "l2"]).succeeded))
    }

    @Test(arguments: Backend.allCases) func rejectsBadRequestsAndKeepsServing(_ backend: Backend) throws {
        let api = try RunningAPIServer(backend: backend)
        defer { api.stop() }
        let path = "/api/v1/namespaces/default/configmaps"
        #expect(try api.curl("GET", path, token: .some(nil)).status == 401)
        #expect(try api.curl("GET", path, token: "wrong").status == 401)
        let malformed = try api.curl("POST", path, body: #"{"metadata": {"name": "x""#)
        #expect(malformed.status == 400, "\(malformed)")
        #expect(malformed.body.contains(#""kind":"Status""#))
        let big = String(repeating: "x", count: 4 * 1024 * 1024)
        #expect(try api.curl("POST", path, body: #"{"metadata":{"name":"big"},"data":{"a":"\#(big)"}}"#).status == 413)
        let invalid = try api.curl("POST", path, body: #"{"metadata":{"name":"Not_Valid"}}"#)
        #expect(invalid.status == 422, "\(invalid)")
        #expect(invalid.body.contains("metadata.name"))
        let created = try api.curl("POST", path, body: #"{"metadata":{"name":"cm1"},"data":{"a":"1"}}"#)
        #expect(created.status == 201, "\(created)")
        let rv = (try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])
            .flatMap { ($0["metadata"] as? [String: Any])?["resourceVersion"] as? String } ?? ""
        #expect(try api.curl("PUT", path + "/cm1", body: #"{"metadata":{"name":"cm1","resourceVersion":"\#(rv)"},"data":{"a":"2"}}"#).status == 200)
        let stale = try api.curl("PUT", path + "/cm1", body: #"{"metadata":{"name":"cm1","resourceVersion":"\#(rv)"},"data":{"a":"3"}}"#)
        #expect(stale.status == 409, "\(stale)")
        #expect(try api.curl("POST", path, body: #"{"metadata":{"name":"cm1"}}"#).status == 409)
        #expect(try api.curl("GET", path + "/missing").status == 404)
        // Still serving.
        #expect(try api.curl("GET", path + "/cm1").body.contains(#""a":"2""#))
        #expect(try api.kubectl(["get", "cm", "cm1"]).succeeded)
    }
}

/// Deletion that waits: finalizers hold an object until the last one is removed; a pod bound
/// to a node stays (terminating) through status updates until a DELETE with grace period 0.
@Suite(.serialized) struct DeletionTests {
    func field(_ body: String, _ path: [String]) -> Any? {
        var value: Any? = try? JSONSerialization.jsonObject(with: Data(body.utf8))
        for key in path { value = (value as? [String: Any])?[key] }
        return value
    }

    @Test(arguments: Backend.allCases) func finalizersAndGracefulPods(_ backend: Backend) throws {
        let api = try RunningAPIServer(backend: backend)
        defer { api.stop() }
        let cms = "/api/v1/namespaces/default/configmaps"
        #expect(try api.curl("POST", cms, body: #"{"metadata":{"name":"held","finalizers":["example.com/hold"]}}"#).status == 201)
        let marked = try api.curl("DELETE", cms + "/held")
        #expect(marked.status == 200)
        #expect(field(marked.body, ["metadata", "deletionTimestamp"]) is String, "\(marked.body)")
        #expect(try api.curl("GET", cms + "/held").status == 200, "a finalizer holds it")
        #expect(try api.curl("PATCH", cms + "/held", body: #"{"metadata":{"finalizers":null}}"#,
                             contentType: "application/merge-patch+json").status == 200)
        #expect(try api.curl("GET", cms + "/held").status == 404, "gone with its last finalizer")

        let pods = "/api/v1/namespaces/default/pods"
        #expect(try api.curl("POST", pods, body: #"{"metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}"#).status == 201)
        let terminating = try api.curl("DELETE", pods + "/p")
        #expect(field(terminating.body, ["metadata", "deletionGracePeriodSeconds"]) as? Int == 30, "\(terminating.body)")
        #expect(try api.curl("PATCH", pods + "/p/status", body: #"{"status":{"phase":"Running"}}"#,
                             contentType: "application/merge-patch+json").status == 200)
        let still = try api.curl("GET", pods + "/p")
        #expect(still.status == 200, "a status update does not end a terminating pod")
        #expect(field(still.body, ["metadata", "deletionTimestamp"]) is String)
        #expect(try api.curl("DELETE", pods + "/p?gracePeriodSeconds=0").status == 200)
        #expect(try api.curl("GET", pods + "/p").status == 404)
    }
}
