import Foundation
import NetplaneTestSupport
import Testing

/// The garbage collector of `netplane controllers` with real kubectl: the three deletion
/// modes over a ReplicaSet and the pods it owns, and objects whose owners are gone.
@Suite(.serialized) struct GarbageCollectorTests {
    /// A ReplicaSet `name` and `count` pods it controls (written by hand: the test plays its
    /// controller).
    func replicaSetWithPods(_ api: APIServerProcess, _ name: String, count: Int) throws {
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: apps/v1
            kind: ReplicaSet
            metadata: {name: \(name)}
            spec:
              replicas: \(count)
              selector: {matchLabels: {app: \(name)}}
              template:
                metadata: {labels: {app: \(name)}}
                spec: {containers: [{name: c, image: busybox}]}
            """).succeeded)
        let uid = try api.kubectl(["get", "rs", name, "-o", "jsonpath={.metadata.uid}"]).stdout
        for i in 0..<count {
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata:
                  name: \(name)-\(i)
                  labels: {app: \(name)}
                  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: \(name), uid: \(uid), controller: true, blockOwnerDeletion: true}]
                spec: {containers: [{name: c, image: busybox}]}
                """).succeeded)
        }
    }

    func pods(_ api: APIServerProcess, _ app: String) throws -> [String] {
        try api.kubectl(["get", "pods", "-l", "app=\(app)", "-o", "name"]).stdout.split(separator: "\n").map(String.init)
    }

    @Test func backgroundForegroundOrphanAndDanglingOwners() throws {
        let dir = try testDirectory("np-gc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "garbagecollector"], dir: dir)
        defer { controllers.stop() }

        // Background (kubectl's default): the ReplicaSet goes at once, its pods after it.
        try replicaSetWithPods(api, "bg", count: 3)
        #expect(try api.kubectl(["delete", "rs", "bg"]).succeeded)
        #expect(eventually { (try? pods(api, "bg"))?.isEmpty == true }, "\(controllers.logText())")

        // Foreground: kubectl returns once the pods and then the ReplicaSet are gone.
        try replicaSetWithPods(api, "fg", count: 3)
        let foreground = try api.kubectl(["delete", "rs", "fg", "--cascade=foreground", "--timeout=30s"])
        #expect(foreground.succeeded, "\(foreground.stderr)\n\(controllers.logText())")
        #expect(try pods(api, "fg").isEmpty)
        #expect(try api.kubectl(["get", "rs", "fg"]).stderr.contains("NotFound"))

        // Orphan: the ReplicaSet goes, its pods stay, no longer owned.
        try replicaSetWithPods(api, "or", count: 2)
        let orphan = try api.kubectl(["delete", "rs", "or", "--cascade=orphan", "--timeout=30s"])
        #expect(orphan.succeeded, "\(orphan.stderr)\n\(controllers.logText())")
        #expect(try api.kubectl(["get", "rs", "or"]).stderr.contains("NotFound"))
        #expect(try pods(api, "or").count == 2)
        #expect(try api.kubectl(["get", "pods", "-l", "app=or", "-o", "jsonpath={.items[*].metadata.ownerReferences}"]).stdout.isEmpty)

        // An owner that never existed: its dependent goes. Two owners, one gone: only that
        // reference goes.
        try replicaSetWithPods(api, "keep", count: 1)
        let keepUID = try api.kubectl(["get", "rs", "keep", "-o", "jsonpath={.metadata.uid}"]).stdout
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: stray
              ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: ghost, uid: 00000000-0000-0000-0000-000000000000}]
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: shared
              ownerReferences:
              - {apiVersion: apps/v1, kind: ReplicaSet, name: keep, uid: \(keepUID)}
              - {apiVersion: apps/v1, kind: ReplicaSet, name: ghost, uid: 00000000-0000-0000-0000-000000000000}
            """).succeeded)
        #expect(eventually { (try? api.kubectl(["get", "cm", "stray"]))?.stderr.contains("NotFound") == true }, "\(controllers.logText())")
        #expect(eventually {
            (try? api.kubectl(["get", "cm", "shared", "-o", "jsonpath={.metadata.ownerReferences[*].name}"]))?.stdout == "keep"
        }, "\(controllers.logText())")
        // What has a live owner stays.
        #expect(try pods(api, "keep").count == 1)
    }
}
