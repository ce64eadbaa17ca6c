import Foundation
import NetplaneTestSupport
import Testing

/// The service account controller with kubectl: every namespace gets its `default`
/// ServiceAccount, made again when deleted, and `kubectl create token default` works on it.
@Suite struct ServiceAccountControllerTests {
    @Test func everyNamespaceHasADefaultServiceAccount() throws {
        let dir = try testDirectory("np-sa")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "serviceaccount"], dir: dir)
        defer { controllers.stop() }

        // The namespaces that exist at start, and one made afterwards.
        for namespace in ["default", "kube-system"] {
            #expect(eventually { jsonpath(api, "serviceaccount default -n \(namespace)", "{.metadata.name}") == "default" },
                    "\(namespace): \(controllers.logText())")
        }
        #expect(try api.kubectl(["create", "namespace", "team-a"]).succeeded)
        #expect(eventually { jsonpath(api, "serviceaccount default -n team-a", "{.metadata.name}") == "default" }, "\(controllers.logText())")
        let token = try api.kubectl(["create", "token", "default", "-n", "team-a"])
        #expect(token.succeeded && token.stdout.split(separator: ".").count == 3, "\(token.stderr)")

        // Deleted, it comes back (a new object).
        let uid = jsonpath(api, "serviceaccount default -n team-a", "{.metadata.uid}")
        #expect(try api.kubectl(["delete", "serviceaccount", "default", "-n", "team-a"]).succeeded)
        #expect(eventually {
            let now = jsonpath(api, "serviceaccount default -n team-a", "{.metadata.uid}")
            return !now.isEmpty && now != uid
        }, "\(controllers.logText())")
        // Other accounts are the user's own: not touched.
        #expect(try api.kubectl(["create", "serviceaccount", "robot", "-n", "team-a"]).succeeded)
        #expect(try api.kubectl(["delete", "serviceaccount", "robot", "-n", "team-a"]).succeeded)
        usleep(500_000)
        #expect(jsonpath(api, "serviceaccount robot -n team-a", "{.metadata.name}") == "")
    }
}
