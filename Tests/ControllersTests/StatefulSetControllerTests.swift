import Foundation
import NetplaneTestSupport
import Synchronization
import Testing

/// The StatefulSet controller driven the way people drive it: `kubectl apply` of a headless
/// Service and a StatefulSet with a volumeClaimTemplate, `rollout status`, `set image` with a
/// partition, `rollout history|undo`, `scale`. The test plays the node agent: it reports pods
/// Running and Ready, and finishes the pods being deleted (they are bound to a node through
/// the template's nodeName, so their deletion is graceful and waits for that, as on a real
/// node) — by hand where the order of things is asserted, by a `FakeNodeAgent` elsewhere.
@Suite(.serialized) struct StatefulSetControllerTests {
    struct PodState: Equatable {
        var image: String
        var revision: String
        var ready: Bool
        var terminating: Bool
    }

    /// The set's pods by name.
    static func pods(_ api: APIServerProcess) throws -> [String: PodState] {
        let out = try api.kubectl(["get", "pods", "-l", "app=web", "-o", "json"]).stdout
        let items = ((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["items"] as? [[String: Any]]) ?? []
        var states: [String: PodState] = [:]
        for pod in items {
            let metadata = pod["metadata"] as? [String: Any] ?? [:]
            let status = pod["status"] as? [String: Any] ?? [:]
            let conditions = status["conditions"] as? [[String: Any]] ?? []
            let containers = (pod["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
            let ready = status["phase"] as? String == "Running"
                && conditions.contains { $0["type"] as? String == "Ready" && $0["status"] as? String == "True" }
            states[metadata["name"] as? String ?? ""] = PodState(
                image: containers.first?["image"] as? String ?? "",
                revision: (metadata["labels"] as? [String: String])?["controller-revision-hash"] ?? "",
                ready: ready, terminating: metadata["deletionTimestamp"] != nil)
        }
        return states
    }

    static func markReady(_ api: APIServerProcess, _ pod: String) throws {
        try api.kubectl(["patch", "pod", pod, "--subresource=status", "--type=merge", "-p",
                         #"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#])
    }

    /// The node agent's part of a graceful deletion: the containers have stopped, the pod goes.
    static func finish(_ api: APIServerProcess, _ pod: String) throws {
        try api.kubectl(["delete", "pod", pod, "--grace-period=0", "--force"])
    }

    /// Plays the node agent until stopped: every pod ready, every pod being deleted gone.
    final class FakeNodeAgent: @unchecked Sendable {
        let running = Atomic(true)
        let done = DispatchSemaphore(value: 0)

        init(_ api: APIServerProcess) {
            Thread { [self] in
                while running.load(ordering: .relaxed) {
                    for (name, pod) in (try? StatefulSetControllerTests.pods(api)) ?? [:] {
                        if pod.terminating {
                            try? StatefulSetControllerTests.finish(api, name)
                        } else if !pod.ready {
                            try? StatefulSetControllerTests.markReady(api, name)
                        }
                    }
                    usleep(100_000)
                }
                done.signal()
            }.start()
        }

        /// Stops the agent (once; later calls do nothing).
        func stop() {
            guard running.exchange(false, ordering: .relaxed) else { return }
            done.wait()
        }
    }

    func names(_ api: APIServerProcess) -> [String]? { (try? Self.pods(api))?.keys.sorted() }

    /// The revision numbers `kubectl rollout history` lists.
    func history(_ api: APIServerProcess) throws -> [Int] {
        try api.kubectl(["rollout", "history", "statefulset/web"]).stdout.split(separator: "\n")
            .compactMap { line in line.split(separator: " ").first.flatMap { Int($0) } }
    }

    @Test func orderedPodsWithStableNamesClaimsAndRollingUpdates() throws {
        let dir = try testDirectory("np-sts")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "statefulset,garbagecollector"], dir: dir)
        defer { controllers.stop() }

        let applied = try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Service
            metadata: {name: nginx}
            spec:
              clusterIP: None
              selector: {app: web}
              ports: [{name: web, port: 80}]
            ---
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: web}
            spec:
              serviceName: nginx
              replicas: 3
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  nodeName: n1
                  containers:
                  - name: nginx
                    image: "nginx:1.25"
                    volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]
              volumeClaimTemplates:
              - metadata: {name: www}
                spec:
                  accessModes: [ReadWriteOnce]
                  resources: {requests: {storage: 1Gi}}
            """)
        #expect(applied.succeeded, "\(applied.stderr)")

        // OrderedReady: each pod only once the one before it is Running and Ready, its claim first.
        for (ordinal, pod) in ["web-0", "web-1", "web-2"].enumerated() {
            let expected = (0...ordinal).map { "web-\($0)" }
            #expect(eventually { names(api) == expected }, "\(controllers.logText())")
            #expect(try api.kubectl(["get", "pvc", "www-\(pod)", "-o", "name"]).succeeded)
            usleep(300_000)
            #expect(names(api) == expected, "no pod after \(pod) while it is not ready")
            try Self.markReady(api, pod)
        }
        let agent = FakeNodeAgent(api)
        defer { agent.stop() }
        let first = try api.kubectl(["rollout", "status", "statefulset/web", "--timeout=60s"])
        #expect(first.succeeded, "\(first.stdout)\(first.stderr)\n\(controllers.logText())")

        // Stable identity: hostname and subdomain for the headless Service's DNS, the claim mounted.
        #expect(try api.kubectl(["get", "pod", "web-1", "-o",
                                 #"jsonpath={.spec.hostname}/{.spec.subdomain}/{.metadata.labels.statefulset\.kubernetes\.io/pod-name}"#]).stdout
                == "web-1/nginx/web-1")
        #expect(try api.kubectl(["get", "pod", "web-1", "-o", "jsonpath={.spec.volumes[0].persistentVolumeClaim.claimName}"]).stdout == "www-web-1")
        #expect(try api.kubectl(["get", "pod", "web-1", "-o", "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"]).stdout
                == "StatefulSet/web")
        #expect(try api.kubectl(["get", "pvc", "-o", "jsonpath={.items[*].metadata.name}"]).stdout == "www-web-0 www-web-1 www-web-2")
        let table = try api.kubectl(["get", "sts", "web"]).stdout
        #expect(table.contains("3/3"), "\(table)")

        // A new image with partition 1: web-2, then web-1; web-0 stays.
        #expect(try api.kubectl(["patch", "statefulset", "web", "--type=merge", "-p",
                                 #"{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":1}}}}"#]).succeeded)
        #expect(try api.kubectl(["set", "image", "statefulset/web", "nginx=nginx:1.26"]).succeeded)
        var order: [String] = []
        let rolled = eventually(seconds: 30) {
            for (name, pod) in (try? Self.pods(api)) ?? [:] where pod.image == "nginx:1.26" && pod.ready && !order.contains(name) {
                order.append(name)
            }
            return order.count == 2
        }
        #expect(rolled && order == ["web-2", "web-1"], "\(order)\n\(controllers.logText())")
        let partitioned = try api.kubectl(["rollout", "status", "statefulset/web", "--timeout=60s"])
        #expect(partitioned.succeeded && partitioned.stdout.contains("partitioned roll out complete: 2 new pods"),
                "\(partitioned.stdout)\(partitioned.stderr)")
        usleep(300_000)
        #expect(try Self.pods(api)["web-0"]?.image == "nginx:1.25", "the partition holds web-0 back")

        // Partition 0: web-0 follows.
        #expect(try api.kubectl(["patch", "statefulset", "web", "--type=merge", "-p",
                                 #"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#]).succeeded)
        #expect(try api.kubectl(["rollout", "status", "statefulset/web", "--timeout=60s"]).succeeded)
        #expect(eventually { (try? Self.pods(api))?.values.allSatisfy { $0.image == "nginx:1.26" && $0.ready } == true })
        #expect(eventually {
            let revisions = (try? api.kubectl(["get", "sts", "web", "-o", "jsonpath={.status.currentRevision} {.status.updateRevision}"]))?
                .stdout.split(separator: " ") ?? []
            return revisions.count == 2 && revisions[0] == revisions[1]
        }, "the finished update is the current revision")
        #expect(try history(api) == [1, 2])
        agent.stop()

        // Scale down from the highest ordinal, one pod at a time; the claims stay.
        #expect(try api.kubectl(["scale", "statefulset", "web", "--replicas=1"]).succeeded)
        #expect(eventually { (try? Self.pods(api))?["web-2"]?.terminating == true }, "\(controllers.logText())")
        usleep(300_000)
        #expect(try Self.pods(api)["web-1"]?.terminating == false, "web-1 waits until web-2 is gone")
        try Self.finish(api, "web-2")
        #expect(eventually { (try? Self.pods(api))?["web-1"]?.terminating == true }, "\(controllers.logText())")
        try Self.finish(api, "web-1")
        #expect(eventually { names(api) == ["web-0"] })
        #expect(try api.kubectl(["get", "pvc", "-o", "jsonpath={.items[*].metadata.name}"]).stdout == "www-web-0 www-web-1 www-web-2")
        #expect(eventually {
            (try? api.kubectl(["get", "sts", "web", "-o", "jsonpath={.status.replicas}/{.status.readyReplicas}"]))?.stdout == "1/1"
        }, "\(controllers.logText())")

        // Undo: the first template again, its revision now the third.
        let undoAgent = FakeNodeAgent(api)
        defer { undoAgent.stop() }
        let undo = try api.kubectl(["rollout", "undo", "statefulset/web"])
        #expect(undo.succeeded, "\(undo.stdout)\(undo.stderr)")
        #expect(try api.kubectl(["rollout", "status", "statefulset/web", "--timeout=60s"]).succeeded)
        #expect(eventually { (try? Self.pods(api))?["web-0"].map { $0.image == "nginx:1.25" && $0.ready } == true }, "\(controllers.logText())")
        #expect(eventually { (try? history(api)) == [2, 3] })
    }
}
