import Foundation
import NetplaneTestSupport
import Testing

/// RBAC and the Node authorizer as people meet them: `kubectl create role/rolebinding`
/// (protobuf bodies), `kubectl auth can-i [--list]`, `--as`, 403s in Kubernetes' words,
/// privilege escalation refused, aggregation, the daemons' own identities, and a node agent
/// kept to its own node's objects.
@Suite struct RBACKubectlTests {
    func tempDir(_ tag: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("np-\(tag)-\(UUID().uuidString)").path
    }

    /// kubectl with another identity's kubeconfig.
    func kubectl(_ kubeconfig: String, _ args: [String], stdin: String? = nil) throws -> CommandResult {
        try Command.run(["kubectl", "--kubeconfig", kubeconfig] + args, stdin: stdin)
    }

    /// `kubectl auth can-i`'s answer: "yes" (exit 0) or "no" (exit 1), checked to agree.
    func canI(_ kubeconfig: String, _ args: [String]) throws -> String {
        let result = try kubectl(kubeconfig, ["auth", "can-i"] + args)
        // "yes", "no", or "no - <the authorizer's reason>".
        let answer = String(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).prefix { $0 != " " })
        #expect((answer == "yes") == result.succeeded, "can-i \(args): \(answer) exit \(result.status) \(result.stderr)")
        return answer
    }

    /// Prometheus' scrape of the API server, as with kube-apiserver: `/metrics` in the text
    /// format with the request counters and durations by verb, resource and code, for
    /// cluster-admin and the system:monitoring group, refused to others and without a token.
    @Test func metricsAreServedToMonitoringAndRefusedToOthers() throws {
        let dir = tempDir("metrics")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var api = try APIServerProcess(dataDir: dir)
        defer { api.stop() }
        let admin = api.kubeconfig
        let monitor = try api.kubeconfig(user: "prometheus", groups: ["system:monitoring"])
        let bob = try api.kubeconfig(user: "bob")
        #expect(try kubectl(admin, ["create", "configmap", "counted", "--from-literal=a=1"]).succeeded)
        #expect(!(try kubectl(admin, ["get", "configmap", "missing"])).succeeded)
        let scraped = try kubectl(monitor, ["get", "--raw", "/metrics"])
        #expect(scraped.succeeded, "\(scraped.stderr)")
        let lines = scraped.stdout.split(separator: "\n").map(String.init)
        func sample(_ name: String, _ labels: [String]) -> String? {
            lines.first { $0.hasPrefix(name + "{") && labels.allSatisfy($0.contains) }
        }
        #expect(sample("apiserver_request_total", [#"verb="create""#, #"resource="configmaps""#, #"code="201""#])?.hasSuffix(" 1") == true,
                "\(lines.filter { $0.contains("configmaps") })")
        #expect(sample("apiserver_request_total", [#"verb="get""#, #"resource="configmaps""#, #"code="404""#]) != nil)
        #expect(sample("apiserver_request_duration_seconds_bucket", [#"verb="create""#, #"resource="configmaps""#]) != nil)
        #expect(lines.contains("# TYPE apiserver_request_total counter"))
        #expect(try kubectl(admin, ["get", "--raw", "/metrics"]).succeeded)
        let refused = try kubectl(bob, ["get", "--raw", "/metrics"])
        #expect(!refused.succeeded && refused.stderr.contains("forbidden"), "\(refused.stderr)")
        let anonymous = try Command.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", api.server + "/metrics"])
        #expect(anonymous.stdout == "401")
    }

    @Test func rolesBindingsAndCanIAsPeopleUseThem() throws {
        let dir = tempDir("rbac")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var api = try APIServerProcess(dataDir: dir)
        defer { api.stop() }
        let admin = api.kubeconfig
        let bob = try api.kubeconfig(user: "bob", groups: ["developers"])

        // The admin token is in system:masters: everything. bob: nothing but asking.
        #expect(try canI(admin, ["*", "*", "--all-namespaces"]) == "yes")
        #expect(try kubectl(bob, ["auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}"]).stdout
                == #"["developers","system:authenticated"]"#)
        #expect(try canI(bob, ["list", "pods", "-n", "team-a"]) == "no")
        let refused = try kubectl(bob, ["get", "pods", "-n", "team-a"])
        #expect(!refused.succeeded && refused.stderr.contains(
            #"pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "team-a""#), "\(refused.stderr)")
        let refusedNamed = try kubectl(bob, ["get", "deployment", "web", "-n", "team-a"])
        #expect(refusedNamed.stderr.contains(
            #"deployments.apps "web" is forbidden: User "bob" cannot get resource "deployments" in API group "apps" in the namespace "team-a""#),
                "\(refusedNamed.stderr)")
        #expect(try kubectl(bob, ["get", "nodes"]).stderr.contains(#"cannot list resource "nodes" in API group "" at the cluster scope"#))

        // A Role and a RoleBinding, made the way people make them (kubectl sends protobuf).
        #expect(try api.kubectl(["create", "namespace", "team-a"]).succeeded)
        let role = try api.kubectl(["create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,pods/log", "-n", "team-a"])
        #expect(role.succeeded, "\(role.stderr)")
        let binding = try api.kubectl(["create", "rolebinding", "bob-reads", "--role=pod-reader", "--user=bob", "-n", "team-a"])
        #expect(binding.succeeded, "\(binding.stderr)")
        #expect(try api.kubectl(["get", "rolebinding", "bob-reads", "-n", "team-a", "-o", "jsonpath={.roleRef.name} {.subjects[0].name}"]).stdout
                == "pod-reader bob")
        #expect(try canI(bob, ["list", "pods", "-n", "team-a"]) == "yes")
        #expect(try canI(bob, ["get", "pods", "--subresource=log", "-n", "team-a"]) == "yes")
        #expect(try canI(bob, ["list", "pods", "-n", "default"]) == "no")
        #expect(try canI(bob, ["delete", "pods", "-n", "team-a"]) == "no")
        #expect(try kubectl(bob, ["get", "pods", "-n", "team-a"]).succeeded)
        // Reading pods is not running commands in them (WebSocket, then SPDY: both refused).
        #expect(try api.kubectl(["run", "web-0", "--image=busybox", "-n", "team-a"]).succeeded)
        let exec = try kubectl(bob, ["exec", "-n", "team-a", "web-0", "--", "true"])
        #expect(!exec.succeeded && exec.stderr.contains(#"cannot create resource "pods/exec" in API group "" in the namespace "team-a""#),
                "\(exec.stderr)")
        let list = try kubectl(bob, ["auth", "can-i", "--list", "-n", "team-a"])
        #expect(list.succeeded && list.stdout.contains("pods/log") && list.stdout.contains("[get list watch]")
                && list.stdout.contains("selfsubjectaccessreviews.authorization.k8s.io"), "\(list.stdout)\(list.stderr)")

        // --as: the admin may impersonate; bob may not.
        #expect(try canI(admin, ["list", "pods", "-n", "team-a", "--as", "bob"]) == "yes")
        #expect(try canI(admin, ["list", "pods", "-n", "team-a", "--as", "carol"]) == "no")
        let impersonation = try kubectl(bob, ["get", "pods", "-n", "team-a", "--as", "carol"])
        #expect(impersonation.stderr.contains(#"users "carol" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope"#),
                "\(impersonation.stderr)")

        // A group binding to the aggregated `edit` role.
        #expect(try api.kubectl(["create", "rolebinding", "devs-edit", "--clusterrole=edit", "--group=developers", "-n", "team-a"]).succeeded)
        #expect(try canI(bob, ["create", "deployments.apps", "-n", "team-a"]) == "yes")
        #expect(try canI(bob, ["get", "secrets", "-n", "team-a"]) == "yes")
        #expect(try canI(bob, ["create", "rolebindings", "-n", "team-a"]) == "no")
        // A Namespace is judged in itself: a binding in team-a lets bob read team-a's object.
        #expect(try kubectl(bob, ["get", "namespace", "team-a"]).succeeded)
        #expect(!(try kubectl(bob, ["get", "namespace", "default"])).succeeded)
        #expect(try kubectl(bob, ["create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "-n", "team-a"]).succeeded)

        // Escalation: with `admin` in team-a bob may hand out what he holds, nothing more.
        #expect(try api.kubectl(["create", "rolebinding", "bob-admin", "--clusterrole=admin", "--user=bob", "-n", "team-a"]).succeeded)
        #expect(try kubectl(bob, ["create", "role", "secret-reader", "--verb=get", "--resource=secrets", "-n", "team-a"]).succeeded)
        let tooMuch = try kubectl(bob, ["create", "role", "node-reader", "--verb=get", "--resource=nodes", "-n", "team-a"])
        #expect(!tooMuch.succeeded && tooMuch.stderr.contains("is attempting to grant RBAC permissions not currently held")
                && tooMuch.stderr.contains(#"Resources:["nodes"]"#), "\(tooMuch.stderr)")
        let bindAdmin = try kubectl(bob, ["create", "rolebinding", "grab", "--clusterrole=cluster-admin", "--user=bob", "-n", "team-a"])
        #expect(!bindAdmin.succeeded && bindAdmin.stderr.contains("is attempting to grant RBAC permissions not currently held"), "\(bindAdmin.stderr)")
        #expect(try kubectl(bob, ["create", "rolebinding", "carol-reads", "--role=secret-reader", "--user=carol", "-n", "team-a"]).succeeded)
        #expect(try kubectl(bob, ["create", "rolebinding", "x", "--role=secret-reader", "--user=carol", "-n", "default"]).stderr.contains("forbidden"))

        // Rules written into an aggregated role are checked like any other: patching `view`
        // to grant everything needs everything (or `escalate`).
        #expect(try api.kubectl(["create", "clusterrole", "role-editor", "--verb=get,patch,update", "--resource=clusterroles"]).succeeded)
        #expect(try api.kubectl(["create", "clusterrolebinding", "dave-edits-roles", "--clusterrole=role-editor", "--user=dave"]).succeeded)
        let dave = try api.kubeconfig(user: "dave")
        let widened = try kubectl(dave, ["patch", "clusterrole", "view", "--type=merge", "-p",
                                         #"{"rules":[{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}"#])
        #expect(!widened.succeeded && widened.stderr.contains("is attempting to grant RBAC permissions not currently held"), "\(widened.stderr)")
        #expect(!(try api.kubectl(["get", "clusterrole", "view", "-o", "jsonpath={.rules[*].verbs}"])).stdout.contains("*"))

        // A binding written without apiGroups gets rbac/v1's defaults.
        let bare = try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: bare, namespace: team-a}
            roleRef: {kind: ClusterRole, name: view}
            subjects: [{kind: User, name: erin}]
            """)
        #expect(bare.succeeded, "\(bare.stderr)")
        #expect(try api.kubectl(["get", "rolebinding", "bare", "-n", "team-a", "-o", "jsonpath={.roleRef.apiGroup} {.subjects[0].apiGroup}"]).stdout
                == "rbac.authorization.k8s.io rbac.authorization.k8s.io")
        #expect(try canI(admin, ["get", "pods", "-n", "team-a", "--as", "erin"]) == "yes")

        // A binding's role is fixed once made; an invalid object is refused with field paths.
        let changed = try api.kubectl(["patch", "rolebinding", "bob-reads", "-n", "team-a", "--type=merge", "-p", #"{"roleRef":{"name":"admin"}}"#])
        #expect(!changed.succeeded && changed.stderr.contains("cannot change roleRef"), "\(changed.stderr)")
        let invalid = try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: broken, namespace: team-a}
            rules: [{verbs: [], apiGroups: [""], resources: [pods]}]
            """)
        #expect(!invalid.succeeded && invalid.stderr.contains("rules[0].verbs: Required value"), "\(invalid.stderr)")

        // Aggregation: a ClusterRole labelled for `view` reaches view, edit and admin (and so
        // bob, admin in team-a, who could not read Leases before).
        #expect(try canI(admin, ["list", "leases.coordination.k8s.io", "-n", "team-a", "--as", "bob"]) == "no")
        let leases = try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: lease-viewer
              labels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}
            rules: [{verbs: [get, list], apiGroups: [coordination.k8s.io], resources: [leases]}]
            """)
        #expect(leases.succeeded, "\(leases.stderr)")
        var aggregated = ""
        for _ in 0..<50 {
            aggregated = try ["view", "edit", "admin"].map {
                try api.kubectl(["get", "clusterrole", $0, "-o", "jsonpath={.rules[*].resources}"]).stdout
            }.joined(separator: " | ")
            if aggregated.components(separatedBy: "leases").count == 4 { break }
            usleep(100_000)
        }
        #expect(aggregated.components(separatedBy: "leases").count == 4 && aggregated.contains("deployments"), "\(aggregated)")
        #expect(try canI(admin, ["list", "leases.coordination.k8s.io", "-n", "team-a", "--as", "bob"]) == "yes")

        // Taking the bindings away takes the rights away at once.
        #expect(try api.kubectl(["delete", "rolebinding", "bob-reads", "devs-edit", "bob-admin", "-n", "team-a"]).succeeded)
        #expect(try canI(bob, ["list", "pods", "-n", "team-a"]) == "no")

        // Each daemon's own kubeconfig: its work and no more.
        let proxy = api.kubeconfig(daemon: "proxy")
        #expect(try kubectl(proxy, ["get", "endpointslices", "-A"]).succeeded)
        #expect(try kubectl(proxy, ["get", "secrets", "-A"]).stderr.contains(#"User "system:netplane:proxy" cannot list resource "secrets""#))
        #expect(try canI(api.kubeconfig(daemon: "scheduler"), ["create", "pods", "--subresource=binding", "-n", "team-a"]) == "yes")
        #expect(try canI(api.kubeconfig(daemon: "scheduler"), ["create", "pods", "-n", "team-a"]) == "no")
        #expect(try canI(api.kubeconfig(daemon: "controllers"), ["update", "deployments.apps", "--subresource=status", "-n", "team-a"]) == "yes")
        #expect(try canI(api.kubeconfig(daemon: "policy"), ["watch", "networkpolicies", "-A"]) == "yes")
        #expect(try canI(api.kubeconfig(daemon: "flanneld"), ["list", "pods", "-A"]) == "no")
        #expect(try canI(api.kubeconfig(daemon: "flanneld"), ["patch", "nodes", "--subresource=status"]) == "yes")
        #expect(try canI(api.kubeconfig(daemon: "flanneld"), ["patch", "nodes"]) == "no")

        // A revoked token (its line removed from tokens.csv) stops working without a restart.
        let tokens = try String(contentsOfFile: dir + "/tokens.csv", encoding: .utf8)
        try tokens.split(separator: "\n").filter { !$0.contains(",bob,") }.map { $0 + "\n" }.joined()
            .write(toFile: dir + "/tokens.csv", atomically: false, encoding: .utf8)
        var revoked = try kubectl(bob, ["auth", "whoami"])
        for _ in 0..<30 where revoked.succeeded {
            usleep(100_000)
            revoked = try kubectl(bob, ["auth", "whoami"])
        }
        #expect(!revoked.succeeded && revoked.stderr.contains("Unauthorized"), "\(revoked.stderr)")

        // --authorization-mode AlwaysAllow lets every authenticated user do anything.
        api.stop()
        api = try APIServerProcess(dataDir: dir, extraArgs: ["--authorization-mode", "AlwaysAllow"])
        let carol = try api.kubeconfig(user: "carol")
        #expect(try canI(carol, ["delete", "nodes"]) == "yes")
        #expect(try kubectl(carol, ["get", "secrets", "-A"]).succeeded)
        api.stop()
        let bad = try Command.run([productsDirectory() + "/netplane", "apiserver", "--data-dir", dir, "--authorization-mode", "ABAC"])
        #expect(!bad.succeeded && bad.stderr.contains("--authorization-mode: ABAC is not one of Node, RBAC, AlwaysAllow"), "\(bad.stderr)")
    }

    @Test func issuedTokensSurviveConcurrentIssuersAndRefuseControlCharacters() throws {
        let dir = tempDir("issue")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir)
        defer { api.stop() }
        let netplane = productsDirectory() + "/netplane"
        // Eight issuers at once: every line is kept and every token works at once.
        let issuers = (0..<8).map { i -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: netplane)
            p.arguments = ["kubeconfig", "--data-dir", dir, "--user", "user-\(i)", "--output", "\(dir)/user-\(i).kubeconfig"]
            try? p.run()
            return p
        }
        for p in issuers { p.waitUntilExit() }
        for i in 0..<8 {
            #expect(try kubectl("\(dir)/user-\(i).kubeconfig", ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]).stdout
                    == "user-\(i)")
            #expect(try Command.check(["stat", "-c", "%a", "\(dir)/user-\(i).kubeconfig"]).trimmingCharacters(in: .whitespacesAndNewlines) == "600")
        }
        // A name that would break the file's lines is refused, and nothing is written.
        let before = try String(contentsOfFile: dir + "/tokens.csv", encoding: .utf8)
        for bad in ["x\r", "a,b", "q\"", ""] {
            let refused = try Command.run([netplane, "kubeconfig", "--data-dir", dir, "--user", bad])
            #expect(!refused.succeeded && (refused.stderr.contains("a user or group name") || refused.stderr.contains("name the identity")), "\(bad.debugDescription): \(refused.stderr)")
        }
        #expect(try String(contentsOfFile: dir + "/tokens.csv", encoding: .utf8) == before)
    }

    @Test func aNodeAgentTouchesOnlyItsOwnNodeAndPods() throws {
        let dir = tempDir("noderbac")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir)
        defer { api.stop() }
        let node1 = try api.kubeconfig(node: "n1")
        let setup = try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: Node, metadata: {name: n1}}
            - {apiVersion: v1, kind: Node, metadata: {name: n2}}
            - {apiVersion: v1, kind: ServiceAccount, metadata: {name: default}}
            - {apiVersion: v1, kind: ServiceAccount, metadata: {name: deployer}}
            - {apiVersion: v1, kind: Secret, metadata: {name: mine}, stringData: {k: v}}
            - {apiVersion: v1, kind: Secret, metadata: {name: theirs}, stringData: {k: v}}
            - apiVersion: v1
              kind: Pod
              metadata: {name: p1}
              spec:
                nodeName: n1
                containers: [{name: c, image: busybox, envFrom: [{secretRef: {name: mine}}]}]
            - apiVersion: v1
              kind: Pod
              metadata: {name: p2}
              spec:
                nodeName: n2
                containers: [{name: c, image: busybox, envFrom: [{secretRef: {name: theirs}}]}]
            """)
        #expect(setup.succeeded, "\(setup.stderr)")
        #expect(try kubectl(node1, ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]).stdout == "system:node:n1")

        // Its own pod, yes; another node's, no, in Kubernetes' words.
        #expect(try kubectl(node1, ["get", "pod", "p1"]).succeeded)
        let other = try kubectl(node1, ["get", "pod", "p2"])
        #expect(!other.succeeded && other.stderr.contains(
            #"pods "p2" is forbidden: User "system:node:n1" cannot get resource "pods" in API group "" in the namespace "default": no relationship found between node 'n1' and this object"#),
                "\(other.stderr)")
        #expect(!(try kubectl(node1, ["delete", "pod", "p2", "--wait=false"])).succeeded)
        #expect(!(try kubectl(node1, ["label", "pod", "p2", "x=y"])).succeeded)
        // Even its own pod's object is not its to change (only the status): a node that could
        // rewrite a spec could point it at any Secret.
        let respec = try kubectl(node1, ["patch", "pod", "p1", "--type=json", "-p",
                                         #"[{"op":"add","path":"/spec/volumes","value":[{"name":"x","secret":{"secretName":"theirs"}}]}]"#])
        #expect(!respec.succeeded && respec.stderr.contains("forbidden"), "\(respec.stderr)")
        // Nor anyone's: a pod's spec is fixed once made, but for its images (and the few
        // fields Kubernetes lets change), even for the admin.
        let adminRespec = try api.kubectl(["patch", "pod", "p1", "--type=json", "-p",
                                           #"[{"op":"add","path":"/spec/volumes","value":[{"name":"x","secret":{"secretName":"theirs"}}]}]"#])
        #expect(!adminRespec.succeeded && adminRespec.stderr.contains("pod updates may not change fields other than"), "\(adminRespec.stderr)")
        #expect(try api.kubectl(["set", "image", "pod/p1", "c=busybox:1.36"]).succeeded)
        #expect(try api.kubectl(["label", "pod", "p1", "tier=web"]).succeeded)
        let p1 = try api.kubectl(["get", "pod", "p1", "-o", "jsonpath={.spec.containers[0].image} {.spec.volumes[*].name}"]).stdout
        #expect(p1.hasPrefix("busybox:1.36 kube-api-access-") && !p1.contains(" x"), "only admission's token volume: \(p1)")
        #expect(try api.kubectl(["get", "pod", "p2"]).succeeded, "a refused delete removed the pod")
        // Lists only of its own pods, by field selector, as the node agent asks.
        #expect(try kubectl(node1, ["get", "pods", "-A"]).stderr.contains("can only list pods with fieldSelector spec.nodeName=n1"))
        #expect(try kubectl(node1, ["get", "pods", "-A", "--field-selector", "spec.nodeName=n1", "-o", "name"]).stdout == "pod/p1\n")
        #expect(!(try kubectl(node1, ["get", "pods", "-A", "--field-selector", "spec.nodeName=n2"])).succeeded)

        // The Secrets its pods use, and no other.
        #expect(try kubectl(node1, ["get", "secret", "mine"]).succeeded)
        #expect(!(try kubectl(node1, ["get", "secret", "theirs"])).succeeded)
        #expect(!(try kubectl(node1, ["get", "secrets"])).succeeded)

        // Its own Node and Lease; not another's, and it cannot make one in another's name.
        #expect(try kubectl(node1, ["label", "node", "n1", "disk=ssd"]).succeeded)
        // A Node's status writer may set its annotations (what flannel's role relies on).
        #expect(try kubectl(node1, ["patch", "node", "n1", "--subresource=status", "--type=merge", "-p",
                                    #"{"metadata":{"annotations":{"flannel.alpha.coreos.com/backend-type":"vxlan"}}}"#]).succeeded)
        #expect(try api.kubectl(["get", "node", "n1", "-o", #"jsonpath={.metadata.annotations.flannel\.alpha\.coreos\.com/backend-type}"#]).stdout
                == "vxlan")
        let otherNode = try kubectl(node1, ["label", "node", "n2", "disk=ssd"])
        #expect(!otherNode.succeeded && otherNode.stderr.contains("forbidden"), "\(otherNode.stderr)")
        let impostor = try kubectl(node1, ["create", "-f", "-"], stdin: "apiVersion: v1\nkind: Node\nmetadata:\n  name: n3\n")
        #expect(!impostor.succeeded && impostor.stderr.contains(#"node "n1" is not allowed to modify node "n3""#), "\(impostor.stderr)")
        let lease = """
            apiVersion: coordination.k8s.io/v1
            kind: Lease
            metadata: {name: NAME, namespace: kube-node-lease}
            spec: {holderIdentity: NAME, leaseDurationSeconds: 40}
            """
        #expect(try kubectl(node1, ["create", "-f", "-"], stdin: lease.replacingOccurrences(of: "NAME", with: "n1")).succeeded)
        #expect(!(try kubectl(node1, ["create", "-f", "-"], stdin: lease.replacingOccurrences(of: "NAME", with: "n2"))).succeeded)
        // A token only for a pod on this node.
        let own = try kubectl(node1, ["create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "p1"])
        #expect(own.succeeded, "\(own.stderr)")
        let token = try kubectl(node1, ["create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "p2"])
        #expect(!token.succeeded && token.stderr.contains("forbidden"), "\(token.stderr)")
        // Nor another account's token through its own pod.
        let borrowed = try kubectl(node1, ["create", "token", "deployer", "--bound-object-kind", "Pod", "--bound-object-name", "p1"])
        #expect(!borrowed.succeeded && borrowed.stderr.contains("forbidden"), "\(borrowed.stderr)")
        // Nothing else: RBAC binds nodes to nothing.
        #expect(try canI(node1, ["list", "deployments.apps", "-A"]) == "no")
        #expect(try canI(node1, ["patch", "nodes/n1"]) == "yes")
        #expect(try canI(node1, ["patch", "nodes/n2"]) == "no")
        // Once its pod is gone, so is the node's right to the pod's Secret (the server's own
        // watch of the pods answers these questions, and must forget the pod too).
        #expect(try api.kubectl(["delete", "pod", "p1", "--grace-period=0", "--force"]).succeeded)
        #expect(eventually { (try? kubectl(node1, ["get", "secret", "mine"]))?.succeeded == false })
    }
}
