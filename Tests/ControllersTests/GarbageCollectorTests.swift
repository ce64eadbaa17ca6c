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

    /// Custom resources own and are owned like built-in kinds: the collector starts an
    /// informer for a CRD applied while it runs, and carries out all three deletion modes on
    /// custom objects (with its own identity, as Tools/up runs it).
    @Test func customResourcesOwnAndAreOwned() throws {
        let dir = try testDirectory("np-gc-cr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "garbagecollector"], dir: dir)
        defer { controllers.stop() }
        func ok(_ arguments: [String], stdin: String? = nil) throws -> String {
            let result = try api.kubectl(arguments, stdin: stdin)
            #expect(result.succeeded, "kubectl \(arguments.joined(separator: " ")): \(result.stderr)\n\(controllers.logText())")
            return result.stdout
        }
        func gone(_ kind: String, _ name: String) -> Bool {
            (try? api.kubectl(["get", kind, name]))?.stderr.contains("NotFound") == true
        }

        _ = try ok(["apply", "-f", "-"], stdin: """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: widgets.example.com}
            spec:
              group: example.com
              scope: Namespaced
              names: {plural: widgets, singular: widget, kind: Widget}
              versions:
              - name: v1beta1
                served: true
                storage: false
                schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
              - name: v1
                served: true
                storage: true
                schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
            """)
        _ = try ok(["wait", "--for", "condition=established", "crd/widgets.example.com", "--timeout=30s"])
        func widget(_ name: String, owner: String = "") throws -> String {
            _ = try ok(["apply", "-f", "-"], stdin: """
                apiVersion: example.com/v1
                kind: Widget
                metadata:
                  name: \(name)
                \(owner.isEmpty ? "" : "  ownerReferences: [\(owner)]")
                spec: {size: 1}
                """)
            return try ok(["get", "widget", name, "-o", "jsonpath={.metadata.uid}"])
        }
        func configMap(_ name: String, ownedBy widgetName: String, uid: String, apiVersion: String = "example.com/v1") throws {
            _ = try ok(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: \(name)
                  ownerReferences: [{apiVersion: \(apiVersion), kind: Widget, name: \(widgetName), uid: \(uid), blockOwnerDeletion: true}]
                data: {k: v}
                """)
        }

        // A custom owner deleted in the background (kubectl's default): what it owns follows,
        // whichever served version the reference names.
        let bg = try widget("bg")
        try configMap("bg-a", ownedBy: "bg", uid: bg)
        try configMap("bg-b", ownedBy: "bg", uid: bg, apiVersion: "example.com/v1beta1")
        _ = try ok(["delete", "widget", "bg"])
        #expect(eventually { gone("cm", "bg-a") && gone("cm", "bg-b") }, "\(controllers.logText())")

        // A custom dependent of a built-in owner.
        _ = try ok(["create", "configmap", "holder", "--from-literal=k=v"])
        let holder = try ok(["get", "cm", "holder", "-o", "jsonpath={.metadata.uid}"])
        _ = try widget("held", owner: "{apiVersion: v1, kind: ConfigMap, name: holder, uid: \(holder)}")
        _ = try ok(["delete", "cm", "holder"])
        #expect(eventually { gone("widget", "held") }, "\(controllers.logText())")

        // Foreground: kubectl returns once the dependents and then the widget are gone.
        let fg = try widget("fg")
        try configMap("fg-a", ownedBy: "fg", uid: fg)
        let child = try widget("fg-child", owner: "{apiVersion: example.com/v1, kind: Widget, name: fg, uid: \(fg), blockOwnerDeletion: true}")
        #expect(!child.isEmpty)
        _ = try ok(["delete", "widget", "fg", "--cascade=foreground", "--timeout=30s"])
        #expect(gone("cm", "fg-a"))
        #expect(gone("widget", "fg-child"))
        #expect(gone("widget", "fg"))

        // Orphan: the widget goes, what it owned stays and is owned no more.
        let orphaned = try widget("or")
        try configMap("or-a", ownedBy: "or", uid: orphaned)
        _ = try ok(["delete", "widget", "or", "--cascade=orphan", "--timeout=30s"])
        #expect(gone("widget", "or"))
        #expect(try ok(["get", "cm", "or-a", "-o", "jsonpath={.metadata.ownerReferences}"]).isEmpty)

        // Once the definition goes, its objects go with it (the server deletes them first),
        // and so does what they owned.
        let last = try widget("last")
        try configMap("last-a", ownedBy: "last", uid: last)
        _ = try ok(["delete", "crd", "widgets.example.com", "--timeout=60s"])
        #expect(eventually { gone("cm", "last-a") }, "\(controllers.logText())")

        // A reference to a kind that was never defined is not taken for a gone owner.
        _ = try ok(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: unknown-owner
              ownerReferences: [{apiVersion: nowhere.example.com/v1, kind: Phantom, name: p, uid: 00000000-0000-0000-0000-000000000001}]
            """)
        Thread.sleep(forTimeInterval: 2)
        #expect(!gone("cm", "unknown-owner"), "\(controllers.logText())")
    }
}

