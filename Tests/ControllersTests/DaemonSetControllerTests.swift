import Foundation
import NetplaneTestSupport
import Testing

/// The DaemonSet controller with the scheduler: a pod bound on every node the DaemonSet may
/// run on, following taints, tolerations and nodes that join.
@Suite(.serialized) struct DaemonSetControllerTests {
    /// The nodes of the running daemon pods. Plays the node agent for pods being deleted:
    /// they are stopped at once (deleted for good).
    func placements(_ api: APIServerProcess) throws -> [String] {
        let out = try api.kubectl(["get", "pods", "-n", "kube-system", "-l", "app=agent", "-o", "json"]).stdout
        let items = ((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["items"] as? [[String: Any]]) ?? []
        var nodes: [String] = []
        for pod in items {
            let metadata = pod["metadata"] as? [String: Any] ?? [:]
            if metadata["deletionTimestamp"] != nil {
                _ = try api.kubectl(["delete", "pod", "-n", "kube-system", metadata["name"] as? String ?? "", "--grace-period=0", "--force"])
                continue
            }
            if let node = (pod["spec"] as? [String: Any])?["nodeName"] as? String { nodes.append(node) }
        }
        return nodes.sorted()
    }

    @Test func aPodOnEveryEligibleNode() throws {
        let dir = try testDirectory("np-ds")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "daemonset"], dir: dir)
        defer { controllers.stop() }
        let scheduler = try ControllersProcess(api: api, command: "scheduler", dir: dir)
        defer { scheduler.stop() }

        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Node
            metadata: {name: n1}
            ---
            apiVersion: v1
            kind: Node
            metadata: {name: n2}
            spec: {taints: [{key: dedicated, value: gpu, effect: NoSchedule}]}
            ---
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent, namespace: kube-system}
            spec:
              selector: {matchLabels: {app: agent}}
              template:
                metadata: {labels: {app: agent}}
                spec: {containers: [{name: agent, image: "agent:1"}]}
            """).succeeded)
        #expect(eventually { (try? placements(api)) == ["n1"] }, "\(controllers.logText())\n\(scheduler.logText())")
        // A node joins: it gets its pod.
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: "apiVersion: v1\nkind: Node\nmetadata: {name: n3}\n").succeeded)
        #expect(eventually { (try? placements(api)) == ["n1", "n3"] }, "\(controllers.logText())")
        // Tolerating the taint brings n2 in.
        #expect(try api.kubectl(["patch", "ds", "agent", "-n", "kube-system", "--type=merge", "-p",
                                 #"{"spec":{"template":{"spec":{"tolerations":[{"key":"dedicated","operator":"Exists"}]}}}}"#]).succeeded)
        #expect(eventually(seconds: 20) { (try? placements(api)) == ["n1", "n2", "n3"] }, "\(controllers.logText())")
        #expect(eventually {
            (try? api.kubectl(["get", "ds", "agent", "-n", "kube-system", "-o", "jsonpath={.status.desiredNumberScheduled}/{.status.currentNumberScheduled}"]))?.stdout == "3/3"
        })
    }

    @Test func rolloutHistoryAndUndo() throws {
        let dir = try testDirectory("np-ds-history")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "daemonset"], dir: dir)
        defer { controllers.stop() }
        let scheduler = try ControllersProcess(api: api, command: "scheduler", dir: dir)
        defer { scheduler.stop() }
        let agent = FakeNodeAgent(api, boundOnly: true, finishTerminating: true, namespace: "kube-system")
        defer { agent.stop() }
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Node
            metadata: {name: n1}
            ---
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent, namespace: kube-system}
            spec:
              selector: {matchLabels: {app: agent}}
              template:
                metadata: {labels: {app: agent}}
                spec: {containers: [{name: agent, image: "agent:1"}]}
            """).succeeded)
        func images() -> String { jsonpath(api, "pods -n kube-system -l app=agent", "{.items[*].spec.containers[0].image}") }
        #expect(eventually { images() == "agent:1" }, "\(controllers.logText())")
        #expect(try api.kubectl(["set", "image", "ds/agent", "-n", "kube-system", "agent=agent:2"]).succeeded)
        #expect(eventually(seconds: 20) { images() == "agent:2" }, "\(controllers.logText())")
        // Each template is a ControllerRevision; the pod carries the current one's hash.
        let history = try api.kubectl(["rollout", "history", "ds/agent", "-n", "kube-system"])
        #expect(history.succeeded && history.stdout.contains("REVISION") && history.stdout.contains("1 ") && history.stdout.contains("2 "),
                "\(history.stdout)\(history.stderr)")
        let first = try api.kubectl(["rollout", "history", "ds/agent", "-n", "kube-system", "--revision=1"]).stdout
        #expect(first.contains("agent:1"), "\(first)")
        let revisions = try api.kubectl(["get", "controllerrevisions", "-n", "kube-system"]).stdout
        #expect(revisions.contains("daemonset.apps/agent"), "\(revisions)")
        let hashes = jsonpath(api, "controllerrevisions -n kube-system", #"{range .items[?(@.revision==2)]}{.metadata.labels.controller-revision-hash}{end}"#)
        #expect(!hashes.isEmpty && jsonpath(api, "pods -n kube-system -l app=agent", "{.items[0].metadata.labels.controller-revision-hash}") == hashes)
        // Undo puts revision 1's template back; it becomes revision 3.
        let undo = try api.kubectl(["rollout", "undo", "ds/agent", "-n", "kube-system"])
        #expect(undo.succeeded, "\(undo.stdout)\(undo.stderr)")
        #expect(eventually(seconds: 20) { images() == "agent:1" }, "\(controllers.logText())")
        #expect(eventually {
            jsonpath(api, "controllerrevisions -n kube-system", "{.items[*].revision}").split(separator: " ").sorted() == ["2", "3"]
        }, "\(jsonpath(api, "controllerrevisions -n kube-system", "{.items[*].revision}"))")
    }
}
