import Foundation
import NetplaneTestSupport
import Synchronization
import Testing

/// The Deployment and ReplicaSet controllers together, driven the way people drive them:
/// `kubectl create deployment`, `set image`, `rollout status|history|undo|pause|resume`,
/// `scale`, with a stand-in node agent that reports every pod ready.
@Suite(.serialized) struct DeploymentControllerTests {
    func images(_ api: APIServerProcess) throws -> Set<String> {
        Set(try api.kubectl(["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.containers[0].image}"]).stdout
            .split(separator: " ").map(String.init))
    }

    /// What a failed rollout leaves, for its message: the objects now, the Deployment's
    /// status, and when (to set against the controllers' log).
    func state(_ api: APIServerProcess) -> String {
        let objects = (try? api.kubectl(["get", "deploy,rs,pods", "-o", "wide"]).stdout) ?? ""
        let status = (try? api.kubectl(["get", "deploy", "web", "-o", "jsonpath={.status}"]).stdout) ?? ""
        return "at \(Date()):\n\(objects)\nstatus: \(status)"
    }

    @Test func rolloutUndoPauseAndScale() throws {
        let dir = try testDirectory("np-deploy")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "deployment,replicaset,garbagecollector"], dir: dir)
        defer { controllers.stop() }
        let agent = FakeNodeAgent(api)
        defer { agent.stop() }

        #expect(try api.kubectl(["create", "deployment", "web", "--image=nginx:1.25", "--replicas=4"]).succeeded)
        let first = try api.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"])
        #expect(first.succeeded && first.stdout.contains("successfully rolled out"), "\(first.stdout)\(first.stderr)\n\(state(api))\n\(controllers.logText())")
        #expect(try images(api) == ["nginx:1.25"])
        #expect(try api.kubectl(["get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}/{.status.updatedReplicas}"]).stdout == "4/4")

        // A new image rolls out: a second ReplicaSet, the old one scaled to zero, two revisions.
        #expect(try api.kubectl(["set", "image", "deployment/web", "nginx=nginx:1.26"]).succeeded)
        let second = try api.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"])
        #expect(second.succeeded, "\(second.stdout)\(second.stderr)\n\(state(api))\n\(controllers.logText())")
        #expect(eventually { (try? images(api)) == ["nginx:1.26"] }, "\(controllers.logText())")
        let replicaSets = try api.kubectl(["get", "rs", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.replicas}{\" \"}{end}"]).stdout
        #expect(replicaSets.split(separator: " ").sorted() == ["0", "4"], "\(replicaSets)")
        let history = try api.kubectl(["rollout", "history", "deployment/web"]).stdout
        #expect(history.contains("1 ") && history.contains("2 "), "\(history)")

        // Undo: back to the first template (as revision 3).
        #expect(try api.kubectl(["rollout", "undo", "deployment/web"]).succeeded)
        #expect(try api.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).succeeded)
        #expect(eventually { (try? images(api)) == ["nginx:1.25"] }, "\(controllers.logText())")
        #expect(eventually {
            (try? api.kubectl(["get", "deploy", "web", "-o", "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}"]))?.stdout == "3"
        })

        // Paused: a template change waits for resume.
        #expect(try api.kubectl(["rollout", "pause", "deployment/web"]).succeeded)
        #expect(try api.kubectl(["set", "image", "deployment/web", "nginx=nginx:1.27"]).succeeded)
        usleep(1_000_000)
        #expect(try images(api) == ["nginx:1.25"])
        #expect(try api.kubectl(["rollout", "resume", "deployment/web"]).succeeded)
        #expect(try api.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).succeeded)
        #expect(eventually { (try? images(api)) == ["nginx:1.27"] }, "\(controllers.logText())")

        // Scale.
        #expect(try api.kubectl(["scale", "deployment", "web", "--replicas=2"]).succeeded)
        #expect(eventually { (try? api.kubectl(["get", "pods", "-l", "app=web", "-o", "name"]))?.stdout.split(separator: "\n").count == 2 })

        // Deleting the Deployment in the foreground takes its ReplicaSets and pods first.
        #expect(try api.kubectl(["delete", "deployment", "web", "--cascade=foreground", "--timeout=60s"]).succeeded)
        #expect(try api.kubectl(["get", "rs,pods", "-o", "name"]).stdout.isEmpty)
    }

    @Test func aDeploymentMadeAgainAdoptsItsOrphanedReplicaSet() throws {
        let dir = try testDirectory("np-deploy-adopt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "deployment,replicaset,garbagecollector"], dir: dir)
        defer { controllers.stop() }
        let agent = FakeNodeAgent(api)
        defer { agent.stop() }

        #expect(try api.kubectl(["create", "deployment", "web", "--image=nginx:1.25", "--replicas=3"]).succeeded)
        #expect(try api.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).succeeded, "\(controllers.logText())")
        let replicaSet = jsonpath(api, "rs -l app=web", "{.items[0].metadata.name}")
        let pods = jsonpath(api, "pods -l app=web", "{.items[*].metadata.name}")
        // Deleted leaving its ReplicaSet and pods behind, then made again: the new Deployment
        // takes the ReplicaSet over instead of making a second one, and no pod is replaced.
        #expect(try api.kubectl(["delete", "deployment", "web", "--cascade=orphan"]).succeeded)
        #expect(eventually { jsonpath(api, "rs \(replicaSet)", "{.metadata.ownerReferences}").isEmpty })
        #expect(try api.kubectl(["create", "deployment", "web", "--image=nginx:1.25", "--replicas=3"]).succeeded)
        let uid = jsonpath(api, "deployment web", "{.metadata.uid}")
        #expect(eventually { jsonpath(api, "rs \(replicaSet)", "{.metadata.ownerReferences[0].uid}") == uid }, "\(controllers.logText())")
        #expect(try api.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).succeeded)
        #expect(jsonpath(api, "rs -l app=web", "{.items[*].metadata.name}") == replicaSet)
        #expect(jsonpath(api, "pods -l app=web", "{.items[*].metadata.name}") == pods)
    }
}
