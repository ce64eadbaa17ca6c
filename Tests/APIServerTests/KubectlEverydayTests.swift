import Foundation
import NetplaneTestSupport
import Testing

/// The commands people type every day, each with real kubectl against a fresh server, each
/// checked the way its user would check it (the object has the fields the command set, diff
/// shows the change and writes nothing, wait returns once the condition holds).
@Suite(.serialized) struct KubectlEverydayTests {
    @Test func everydayVerbsWork() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-kubectl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The garbage collector carries out `delete --cascade=orphan|foreground`.
        let controllers = try ControllersProcess(api: api.apiserver, arguments: ["--controllers", "garbagecollector"], dir: dir)
        defer { controllers.stop() }
        func ok(_ args: [String], stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            try api.kubectlOK(args, stdin: stdin, sourceLocation: sourceLocation)
        }
        func get(_ what: [String], _ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
            try ok(["get"] + what + ["-o", "jsonpath=\(path)"], sourceLocation: sourceLocation)
        }
        func lines(_ text: String) -> [String] {
            text.split(separator: "\n").map { String($0).trimmingCharacters(in: .whitespaces) }
        }

        // The cluster: version, groups, where it is, the kubeconfig.
        #expect(try ok(["version"]).contains("Server Version: v1.32"))
        let versions = lines(try ok(["api-versions"]))
        for gv in ["v1", "apps/v1", "events.k8s.io/v1", "certificates.k8s.io/v1", "authentication.k8s.io/v1"] {
            #expect(versions.contains(gv), "\(versions)")
        }
        #expect(try ok(["cluster-info"]).contains("Kubernetes control plane is running at \(api.server)"))
        #expect(try ok(["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]) == api.server)

        // run, create, expose, set, scale, label, annotate.
        _ = try ok(["run", "web-1", "--image=nginx:1.25", "--labels=app=web,tier=front", "--port=80"])
        #expect(try get(["pod", "web-1"], "{.spec.containers[0].image} {.metadata.labels.tier}") == "nginx:1.25 front")
        _ = try ok(["create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80"])
        _ = try ok(["expose", "deployment", "web", "--port=80", "--target-port=8080"])
        #expect(try get(["service", "web"], "{.spec.selector.app} {.spec.ports[0].port}:{.spec.ports[0].targetPort}") == "web 80:8080")
        _ = try ok(["set", "image", "deployment/web", "nginx=nginx:1.26"])
        _ = try ok(["set", "env", "deployment/web", "COLOR=blue"])
        _ = try ok(["set", "resources", "deployment/web", "--limits=cpu=200m,memory=256Mi", "--requests=cpu=100m"])
        let container = "{.spec.template.spec.containers[0]"
        #expect(try get(["deployment", "web"], "\(container).image} \(container).env[0].name}=\(container).env[0].value} \(container).resources.limits.cpu} \(container).resources.limits.memory} \(container).resources.requests.cpu}")
                == "nginx:1.26 COLOR=blue 200m 256Mi 100m")
        _ = try ok(["scale", "deployment", "web", "--replicas=3"])
        _ = try ok(["label", "deployment", "web", "tier=backend"])
        _ = try ok(["annotate", "deployment", "web", "owner=team-a"])
        #expect(try get(["deployment", "web"], "{.spec.replicas} {.metadata.labels.tier} {.metadata.annotations.owner}") == "3 backend team-a")

        // patch, all three types: a strategic merge keeps the other container fields.
        _ = try ok(["patch", "deployment", "web", "-p", #"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}}}"#])
        #expect(try get(["deployment", "web"], "\(container).image} \(container).env[0].value}") == "nginx:1.27 blue")
        _ = try ok(["patch", "deployment", "web", "--type=merge", "-p", #"{"spec":{"replicas":4}}"#])
        _ = try ok(["patch", "deployment", "web", "--type=json", "-p", #"[{"op":"add","path":"/metadata/labels/stage","value":"prod"}]"#])
        #expect(try get(["deployment", "web"], "{.spec.replicas} {.metadata.labels.stage}") == "4 prod")

        // edit, with EDITOR set to a script that changes the file kubectl hands it.
        let editor = dir + "/editor.sh"
        try "#!/bin/sh\nsed -i 's/replicas: 4/replicas: 5/' \"$1\"\n".write(toFile: editor, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: editor)
        let edited = try Command.run(["EDITOR=\(editor)", "kubectl", "--kubeconfig", api.kubeconfig, "edit", "deployment", "web"])
        #expect(edited.succeeded && edited.stdout.contains("deployment.apps/web edited"), "\(edited.stderr)")
        #expect(try get(["deployment", "web"], "{.spec.replicas}") == "5")

        // replace: what `get -o json` printed, changed, put back whole.
        _ = try ok(["create", "configmap", "settings", "--from-literal=color=blue"])
        let file = dir + "/settings.json"
        try ok(["get", "configmap", "settings", "-o", "json"]).replacingOccurrences(of: #""color": "blue""#, with: #""color": "red""#)
            .write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try ok(["replace", "-f", file]).contains("configmap/settings replaced"))
        #expect(try get(["configmap", "settings"], "{.data.color}") == "red")

        // diff shows the change and writes nothing (exit 1: there are differences).
        let changed = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"default"},"data":{"color":"green"}}"#
        let diff = try api.kubectl(["diff", "-f", "-"], stdin: changed)
        #expect(diff.status == 1 && diff.stdout.contains("-  color: red") && diff.stdout.contains("+  color: green"), "\(diff.stdout)\(diff.stderr)")
        #expect(try get(["configmap", "settings"], "{.data.color}") == "red")

        // get: every output form people use.
        _ = try ok(["create", "configmap", "zeta", "--from-literal=a=1"])
        _ = try ok(["create", "configmap", "alpha", "--from-literal=a=1", "--from-literal=b=2"])
        #expect(lines(try ok(["get", "pods", "-o", "wide"])).first?.contains("IP") == true)
        // -o wide adds what kube-apiserver's printers add: a workload's containers, images
        // and selector.
        let wide = lines(try ok(["get", "deployments", "-o", "wide"])).map { $0.split(separator: " ").map(String.init) }
        #expect(wide.first?.suffix(3) == ["CONTAINERS", "IMAGES", "SELECTOR"], "\(wide)")
        #expect(wide.contains { $0.first == "web" && $0.contains("nginx:1.27") && $0.last == "app=web" }, "\(wide)")
        #expect(try ok(["get", "deployment", "web", "-o", "yaml"]).contains("kind: Deployment"))
        let json = try api.kubectlJSON(["get", "deployment", "web"])
        #expect((json["spec"] as? [String: Any])?["replicas"] as? Int == 5)
        let columns = lines(try ok(["get", "deployments", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[0].image"]))
        #expect(columns == ["NAME   IMAGE", "web    nginx:1.27"], "\(columns)")
        #expect(try ok(["get", "pods", "--show-labels"]).contains("app=web,tier=front"))
        // Set-based selectors travel with spaces (kubectl writes them as '+').
        #expect(try ok(["get", "pods", "-l", "app in (web,db),tier notin (back)", "-o", "name"]) == "pod/web-1\n")
        let labelled = lines(try ok(["get", "deployments", "-L", "tier,stage"]))
        #expect(labelled.first?.hasSuffix("TIER      STAGE") == true && labelled.last?.hasSuffix("backend   prod") == true, "\(labelled)")
        let sorted = try ok(["get", "configmaps", "--sort-by=.metadata.name", "-o", "custom-columns=NAME:.metadata.name", "--no-headers"])
        #expect(lines(sorted).filter { ["alpha", "settings", "zeta"].contains($0) } == ["alpha", "settings", "zeta"], "\(sorted)")

        // apply --prune -l: what the label selects and the files no longer hold goes.
        let two = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: a1, labels: {set: s}}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: a2, labels: {set: s}}
            """
        _ = try ok(["apply", "-f", "-"], stdin: two)
        let pruned = try ok(["apply", "--prune", "-l", "set=s", "-f", "-"], stdin: String(two.prefix { $0 != "-" }))
        #expect(pruned.contains("configmap/a2 pruned"), "\(pruned)")
        #expect(try ok(["get", "configmaps", "-l", "set=s", "-o", "name"]) == "configmap/a1\n")

        // explain --recursive walks the published schemas.
        let explained = try ok(["explain", "deployment.spec", "--recursive"])
        #expect(explained.contains("replicas") && explained.contains("template"), "\(explained)")

        // Events through both APIs: kubectl events, describe, get --field-selector.
        let podUID = try get(["pod", "web-1"], "{.metadata.uid}")
        _ = try ok(["create", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Event
            metadata: {name: web-1.started}
            involvedObject: {apiVersion: v1, kind: Pod, name: web-1, namespace: default, uid: \(podUID)}
            reason: Started
            message: Started container nginx
            type: Normal
            source: {component: kubelet, host: node1}
            firstTimestamp: "2026-12-06T10:00:00Z"
            lastTimestamp: "2026-12-06T10:00:00Z"
            count: 1
            """)
        _ = try ok(["create", "-f", "-"], stdin: """
            apiVersion: events.k8s.io/v1
            kind: Event
            metadata: {name: web-1.pulled}
            regarding: {apiVersion: v1, kind: Pod, name: web-1, namespace: default, uid: \(podUID)}
            reason: Pulled
            note: Pulled image nginx
            type: Normal
            eventTime: "2026-12-06T10:00:01.000000Z"
            reportingController: kubelet
            reportingInstance: node1
            action: Pull
            """)
        #expect(try ok(["get", "events", "--field-selector", "involvedObject.name=web-1", "-o", "name"]) == "event/web-1.pulled\nevent/web-1.started\n")
        #expect(try ok(["get", "events", "--field-selector", "reason=Pulled", "-o", "jsonpath={.items[*].message}"]) == "Pulled image nginx")
        #expect(try ok(["get", "events", "--field-selector", "source=kubelet", "-o", "name"]) == "event/web-1.started\n")
        #expect(try ok(["get", "events.v1.events.k8s.io", "--field-selector", "regarding.name=web-1", "-o", "jsonpath={.items[*].note}"])
                == "Pulled image nginx Started container nginx")
        let events = try ok(["events", "--for", "pod/web-1"])
        #expect(events.contains("Started container nginx") && events.contains("Pulled image nginx"), "\(events)")
        let described = try ok(["describe", "pod", "web-1"])
        #expect(described.contains("Events:") && described.contains("Started container nginx") && described.contains("Pulled image nginx"), "\(described)")

        // describe of every kind, with the Events about it where kubectl shows them.
        _ = try ok(["apply", "-f", "-"], stdin: Self.everyOtherKind)
        _ = try ok(["create", "serviceaccount", "builder"])
        _ = try ok(["create", "secret", "generic", "db", "--from-literal=password=s3cret"])
        _ = try ok(["create", "job", "once", "--image=busybox"])
        _ = try ok(["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *"])
        _ = try ok(["create", "ingress", "front", "--rule=shop.example.com/=web:80"])
        let withEvents = ["configmap/settings", "deployment/web", "service/web", "serviceaccount/builder", "job/once", "cronjob/tick",
                          "ingress/front", "node/node1", "endpointslice/web-abc", "lease/holder", "replicaset/web-1", "daemonset/agent",
                          "statefulset/db", "persistentvolumeclaim/data", "persistentvolume/pv1", "replicationcontroller/legacy",
                          "ingressclass/nginx"]
        for object in withEvents + ["namespace/default", "secret/db", "networkpolicy/deny"] {
            let meta = try get([object], "{.kind} {.apiVersion} {.metadata.uid} {.metadata.namespace}").split(separator: " ").map(String.init)
            let reason = "Probe\(meta[0])"
            _ = try ok(["create", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Event
                metadata: {generateName: probe-}
                involvedObject: {kind: \(meta[0]), apiVersion: \(meta[1]), uid: \(meta[2]), name: \(object.split(separator: "/")[1]), namespace: "\(meta.count > 3 ? meta[3] : "")"}
                reason: \(reason)
                message: looked at
                type: Normal
                """)
            let text = try ok(["describe", object])
            #expect(text.contains("Name:"), "\(object): \(text)")
            if withEvents.contains(object) { #expect(text.contains(reason), "describe \(object) shows no event: \(text)") }
        }

        // wait: for a condition (set while kubectl waits), a jsonpath value, and a deletion.
        let readyWait = Thread.detachedResult { [api] in
            try api.kubectl(["wait", "--for=condition=Ready", "pod/web-1", "--timeout=30s"])
        }
        Thread.sleep(forTimeInterval: 1)
        _ = try ok(["patch", "pod", "web-1", "--subresource=status", "--type=merge", "-p",
                    #"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#])
        let ready = try readyWait()
        #expect(ready.succeeded && ready.stdout.contains("pod/web-1 condition met"), "\(ready.stdout)\(ready.stderr)")
        #expect(try ok(["wait", "--for=jsonpath={.spec.replicas}=5", "deployment/web", "--timeout=10s"]).contains("condition met"))
        _ = try ok(["run", "doomed", "--image=busybox"])
        let deleteWait = Thread.detachedResult { [api] in try api.kubectl(["wait", "--for=delete", "pod/doomed", "--timeout=30s"]) }
        Thread.sleep(forTimeInterval: 1)
        _ = try ok(["delete", "pod", "doomed", "--wait"])
        let gone = try deleteWait()
        #expect(gone.succeeded && gone.stdout.contains("condition met"), "\(gone.stdout)\(gone.stderr)")

        // rollout status and history of a Deployment whose status and ReplicaSets the test writes
        // (as its controller would).
        let uid = try get(["deployment", "web"], "{.metadata.uid}")
        let generation = try get(["deployment", "web"], "{.metadata.generation}")
        for revision in [1, 2] {
            _ = try ok(["apply", "-f", "-"], stdin: """
                apiVersion: apps/v1
                kind: ReplicaSet
                metadata:
                  name: web-r\(revision)
                  labels: {app: web, pod-template-hash: h\(revision)}
                  annotations: {deployment.kubernetes.io/revision: "\(revision)"}
                  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: \(uid), controller: true}]
                spec:
                  replicas: 0
                  selector: {matchLabels: {app: web, pod-template-hash: h\(revision)}}
                  template:
                    metadata: {labels: {app: web, pod-template-hash: h\(revision)}}
                    spec: {containers: [{name: nginx, image: "nginx:1.2\(5 + revision)"}]}
                """)
        }
        let history = try ok(["rollout", "history", "deployment/web"])
        #expect(lines(history).filter { $0.hasPrefix("1 ") || $0.hasPrefix("2 ") }.count == 2, "\(history)")
        #expect(try ok(["rollout", "history", "deployment/web", "--revision=2"]).contains("nginx:1.27"))
        let statusWait = Thread.detachedResult { [api] in try api.kubectl(["rollout", "status", "deployment/web", "--timeout=30s"]) }
        Thread.sleep(forTimeInterval: 1)
        _ = try ok(["patch", "deployment", "web", "--subresource=status", "--type=merge", "-p", """
            {"status":{"observedGeneration":\(generation),"replicas":5,"updatedReplicas":5,"readyReplicas":5,"availableReplicas":5,\
            "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},\
            {"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}}
            """])
        let rolledOut = try statusWait()
        #expect(rolledOut.succeeded && rolledOut.stdout.contains("deployment \"web\" successfully rolled out"), "\(rolledOut.stdout)\(rolledOut.stderr)")

        // create token: the token authenticates as the service account, until it is deleted.
        let token = try ok(["create", "token", "builder"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let whoami = try ok(["--token=\(token)", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"])
        #expect(whoami == "system:serviceaccount:default:builder")
        let short = try api.kubectl(["create", "token", "builder", "--duration=1m"])
        #expect(!short.succeeded && short.stderr.contains("less than 10 minutes"), "\(short.stderr)")
        // A token bound to a pod works while the pod exists.
        _ = try ok(["run", "holder", "--image=busybox"])
        let bound = try ok(["create", "token", "builder", "--bound-object-kind=Pod", "--bound-object-name=holder"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try ok(["--token=\(bound)", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]) == "system:serviceaccount:default:builder")
        _ = try ok(["delete", "pod", "holder"])
        let unbound = try api.kubectl(["--token=\(bound)", "get", "pods"])
        #expect(!unbound.succeeded && unbound.stderr.contains("Unauthorized"), "\(unbound.stderr)")
        _ = try ok(["delete", "serviceaccount", "builder"])
        let revoked = try api.kubectl(["--token=\(token)", "get", "pods"])
        #expect(!revoked.succeeded && revoked.stderr.contains("Unauthorized"), "\(revoked.stderr)")

        // certificate approve: the CSR records who asked and that it was approved.
        let key = dir + "/jane.key", csr = dir + "/jane.csr"
        try Command.check(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                           "-keyout", key, "-subj", "/CN=jane", "-out", csr])
        let request = try Data(contentsOf: URL(fileURLWithPath: csr)).base64EncodedString()
        _ = try ok(["create", "-f", "-"], stdin: """
            apiVersion: certificates.k8s.io/v1
            kind: CertificateSigningRequest
            metadata: {name: jane}
            spec: {request: \(request), signerName: kubernetes.io/kube-apiserver-client, usages: [client auth]}
            """)
        #expect(try ok(["certificate", "approve", "jane"]).contains("approved"))
        #expect(try get(["csr", "jane"], "{.status.conditions[0].type}={.status.conditions[0].status} {.spec.username}") == "Approved=True admin")
        #expect(try ok(["get", "csr", "jane"]).contains("Approved"))

        // delete: --wait returns with the object gone; orphan deletes the owner only.
        _ = try ok(["delete", "configmap", "zeta", "--wait"])
        #expect(try api.kubectl(["get", "configmap", "zeta"]).stderr.contains("NotFound"))
        _ = try ok(["delete", "deployment", "web", "--cascade=orphan", "--timeout=30s"])
        #expect(try ok(["get", "replicasets", "-o", "name"]).contains("replicaset.apps/web-r1"))
        #expect(try get(["replicaset", "web-r1"], "{.metadata.ownerReferences}").isEmpty)
        // Foreground: the pods a ReplicaSet owns go first, then the ReplicaSet.
        let rsUID = try get(["replicaset", "web-r1"], "{.metadata.uid}")
        _ = try ok(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-r1-a
              ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-r1, uid: \(rsUID), controller: true, blockOwnerDeletion: true}]
            spec: {containers: [{name: nginx, image: nginx}]}
            """)
        let foreground = try api.kubectl(["delete", "replicaset", "web-r1", "--cascade=foreground", "--timeout=30s"])
        #expect(foreground.succeeded, "\(foreground.stderr)\n\(controllers.logText())")
        #expect(try api.kubectl(["get", "pod", "web-r1-a"]).stderr.contains("NotFound"))

        // The metrics API is served (discovered: kubectl does not say "Metrics API not
        // available"), but no node agent runs here to measure the pods, and kubectl says so.
        let top = try api.kubectl(["top", "pods"])
        #expect(!top.succeeded && top.stderr.contains("metrics not available yet"), "\(top.stderr)")
    }

    static let everyOtherKind = """
        apiVersion: v1
        kind: Node
        metadata: {name: node1, labels: {kubernetes.io/hostname: node1}}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints: [{addresses: [10.244.0.5]}]
        ports: [{port: 8080}]
        ---
        apiVersion: coordination.k8s.io/v1
        kind: Lease
        metadata: {name: holder}
        spec: {holderIdentity: me}
        ---
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata: {name: web-1}
        spec: {selector: {matchLabels: {app: rs}}, template: {metadata: {labels: {app: rs}}, spec: {containers: [{name: c, image: busybox}]}}}
        ---
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent}
        spec: {selector: {matchLabels: {app: agent}}, template: {metadata: {labels: {app: agent}}, spec: {containers: [{name: c, image: busybox}]}}}
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec: {serviceName: db, selector: {matchLabels: {app: db}}, template: {metadata: {labels: {app: db}}, spec: {containers: [{name: c, image: busybox}]}}}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
        ---
        apiVersion: v1
        kind: PersistentVolume
        metadata: {name: pv1}
        spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /srv/pv1}}
        ---
        apiVersion: v1
        kind: ReplicationController
        metadata: {name: legacy}
        spec: {replicas: 1, selector: {app: legacy}, template: {metadata: {labels: {app: legacy}}, spec: {containers: [{name: c, image: busybox}]}}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny}
        spec: {podSelector: {}, policyTypes: [Ingress]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata: {name: nginx}
        spec: {controller: k8s.io/ingress-nginx}
        """
}
