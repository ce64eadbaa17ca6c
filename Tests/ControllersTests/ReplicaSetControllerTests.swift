import Foundation
import NetplaneTestSupport
import Testing

/// The ReplicaSet controller against a real API server: `kubectl scale` makes and removes
/// pods, a deleted pod is replaced, and the status kubectl prints follows readiness.
@Suite(.serialized) struct ReplicaSetControllerTests {
    func podNames(_ api: APIServerProcess) throws -> [String] {
        try api.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]).stdout
            .split(separator: " ").map(String.init)
    }

    @Test func keepsTheReplicaCountAndReportsIt() throws {
        let dir = try testDirectory("np-rs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "replicaset,garbagecollector"], dir: dir)
        defer { controllers.stop() }

        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: apps/v1
            kind: ReplicaSet
            metadata: {name: web}
            spec:
              replicas: 3
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec: {containers: [{name: nginx, image: nginx}]}
            """).succeeded)
        #expect(eventually { (try? podNames(api))?.count == 3 }, "\(controllers.logText())")
        let first = try podNames(api)
        #expect(first.allSatisfy { $0.hasPrefix("web-") })
        #expect(try api.kubectl(["get", "pod", first[0], "-o", "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"]).stdout
                == "ReplicaSet/web")

        // Scale up and down with kubectl; a deleted pod is replaced.
        #expect(try api.kubectl(["scale", "rs", "web", "--replicas=5"]).succeeded)
        #expect(eventually { (try? podNames(api))?.count == 5 }, "\(controllers.logText())")
        #expect(try api.kubectl(["scale", "rs", "web", "--replicas=2"]).succeeded)
        #expect(eventually { (try? podNames(api))?.count == 2 }, "\(controllers.logText())")
        let kept = try podNames(api)
        #expect(try api.kubectl(["delete", "pod", kept[0]]).succeeded)
        #expect(eventually { let now = (try? podNames(api)) ?? []; return now.count == 2 && !now.contains(kept[0]) }, "\(controllers.logText())")
        // Never more than asked for, once settled.
        usleep(500_000)
        #expect(try podNames(api).count == 2)

        // Readiness shows in the status kubectl prints (the test plays the node agent).
        for pod in try podNames(api) {
            #expect(try api.kubectl(["patch", "pod", pod, "--subresource=status", "--type=merge", "-p",
                                     #"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#]).succeeded)
        }
        #expect(eventually {
            (try? api.kubectl(["get", "rs", "web", "-o", "jsonpath={.status.replicas}/{.status.readyReplicas}/{.status.availableReplicas}"]))?.stdout == "2/2/2"
        }, "\(controllers.logText())")
        let table = try api.kubectl(["get", "rs", "web"]).stdout
        #expect(table.contains("web    2         2         2"), "\(table)")

        // Deleting the ReplicaSet (background): the garbage collector takes its pods.
        #expect(try api.kubectl(["delete", "rs", "web"]).succeeded)
        #expect(eventually { (try? podNames(api))?.isEmpty == true }, "\(controllers.logText())")
    }
}
