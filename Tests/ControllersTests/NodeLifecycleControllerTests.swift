import Foundation
import NetplaneTestSupport
import Synchronization
import Testing

/// A node whose agent stops renewing its Lease, as the node lifecycle controller handles it:
/// Unknown, tainted unreachable, its pods not ready and evicted when their default toleration
/// (set by the API server, 3 s here) runs out, a pod that tolerates longer kept; the agent's
/// return clears the taints.
@Suite(.serialized) struct NodeLifecycleControllerTests {
    final class LeaseRenewer: @unchecked Sendable {
        let running = Atomic(true)
        let paused = Atomic(false)
        let done = DispatchSemaphore(value: 0)

        init(_ api: APIServerProcess, node: String) {
            Thread { [self] in
                while running.load(ordering: .relaxed) {
                    if !paused.load(ordering: .relaxed) {
                        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!,
                                                                formatOptions: [.withInternetDateTime, .withFractionalSeconds])
                        _ = try? api.kubectl(["apply", "-f", "-"], stdin: """
                            apiVersion: coordination.k8s.io/v1
                            kind: Lease
                            metadata: {name: \(node), namespace: kube-node-lease}
                            spec: {holderIdentity: \(node), leaseDurationSeconds: 40, renewTime: "\(stamp.replacingOccurrences(of: "Z", with: "000Z"))"}
                            """)
                    }
                    usleep(300_000)
                }
                done.signal()
            }.start()
        }

        func stop() {
            running.store(false, ordering: .relaxed)
            done.wait()
        }
    }


    @Test func aSilentNodeIsTaintedAndItsPodsEvicted() throws {
        let dir = try testDirectory("np-nodelife")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api", extraArgs: ["--default-unreachable-toleration-seconds", "3"])
        defer { _ = api.stop() }
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Node
            metadata: {name: n1}
            status:
              allocatable: {cpu: "4", memory: 8Gi, pods: "110"}
              conditions: [{type: Ready, status: "True", reason: KubeletReady, lastHeartbeatTime: "2026-12-06T10:00:00Z"}]
            """).succeeded)
        let renewer = LeaseRenewer(api, node: "n1")
        defer { renewer.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "nodelifecycle", "--node-monitor-grace-period", "2s",
                                                                        "--node-monitor-period", "500ms"], dir: dir)
        defer { controllers.stop() }

        for (name, extra) in [("plain", ""), ("patient", #","tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":3600}]"#)] {
            #expect(try api.kubectl(["run", name, "--image=nginx", "--overrides", #"{"spec":{"nodeName":"n1"\#(extra)}}"#]).succeeded)
            #expect(try api.kubectl(["patch", "pod", name, "--subresource=status", "--type=merge", "-p",
                                     #"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#]).succeeded)
        }
        // The API server gave the plain pod the default tolerations.
        #expect(jsonpath(api, "pod plain", #"{.spec.tolerations[?(@.key=="node.kubernetes.io/unreachable")].tolerationSeconds}"#) == "3")
        // Renewing: healthy well past the grace period.
        Thread.sleep(forTimeInterval: 4)
        #expect(jsonpath(api, "node n1", #"{.status.conditions[?(@.type=="Ready")].status}"#) == "True", "\(controllers.logText())")
        #expect(jsonpath(api, "node n1", "{.spec.taints}").isEmpty)

        renewer.paused.store(true, ordering: .relaxed)
        #expect(eventually(seconds: 15) { jsonpath(api, "node n1", #"{.status.conditions[?(@.type=="Ready")].reason}"#) == "NodeStatusUnknown" },
                "\(controllers.logText())")
        #expect(eventually { jsonpath(api, "node n1", "{.spec.taints[*].key}").contains("node.kubernetes.io/unreachable") })
        let described = try api.kubectl(["describe", "node", "n1"]).stdout
        #expect(described.contains("node.kubernetes.io/unreachable:NoExecute"), "\(described)")
        #expect(eventually { jsonpath(api, "pod patient", #"{.status.conditions[?(@.type=="Ready")].status}"#) == "False" })
        // The plain pod goes after its 3 s (bound, so gracefully: it is marked for deletion);
        // the patient one stays.
        #expect(eventually(seconds: 15) { !jsonpath(api, "pod plain", "{.metadata.deletionTimestamp}").isEmpty }, "\(controllers.logText())")
        #expect(jsonpath(api, "pod plain", #"{.status.conditions[?(@.type=="DisruptionTarget")].reason}"#) == "DeletionByTaintManager")
        #expect(jsonpath(api, "pod patient", "{.metadata.deletionTimestamp}").isEmpty)

        // The agent comes back and reports Ready: the taints go.
        renewer.paused.store(false, ordering: .relaxed)
        #expect(try api.kubectl(["patch", "node", "n1", "--subresource=status", "--type=merge", "-p",
                                 #"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","lastHeartbeatTime":"2026-12-06T10:05:00Z"}]}}"#]).succeeded)
        #expect(eventually(seconds: 15) { !jsonpath(api, "node n1", "{.spec.taints[*].key}").contains("node.kubernetes.io/unreachable") },
                "\(jsonpath(api, "node n1", "{.spec.taints}"))\n\(controllers.logText())")
    }
}
