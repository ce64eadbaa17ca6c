import Foundation
import NetplaneTestSupport
import Testing

/// Server-side dry run on every write verb, tried with real kubectl the way people use it:
/// each answers what the write would do and leaves the object, the store's revision and the
/// allocators as they were. And the query parameters the server does not implement are
/// refused by name, never ignored.
@Suite(.serialized) struct DryRunTests {
    static func configMap(_ color: String) -> String {
        #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","namespace":"default","labels":{"app":"shop"}},"data":{"color":"\#(color)"}}"#
    }

    static let deployment = #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}"#

    /// The store's revision: unchanged means nothing was written (and no watcher heard of anything).
    func revision(_ api: RunningAPIServer) throws -> String {
        try api.kubectlOK(["get", "configmaps", "-A", "-o", "jsonpath={.metadata.resourceVersion}"])
    }

    @Test(arguments: Backend.allCases) func everyWriteVerbHonoursServerSideDryRun(_ backend: Backend) throws {
        let api = try RunningAPIServer(backend: backend)
        _ = try api.kubectlOK(["apply", "-f", "-"], stdin: Self.configMap("blue"))
        _ = try api.kubectlOK(["apply", "-f", "-"], stdin: Self.deployment)
        let before = try revision(api)
        func color() throws -> String { try api.kubectlOK(["get", "configmap", "c1", "-o", "jsonpath={.data.color}"]) }

        // kubectl diff: shows the change, writes nothing (exit 1 means "differences found").
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("np-dryrun-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Self.configMap("red").write(toFile: file, atomically: true, encoding: .utf8)
        let diff = try api.kubectl(["diff", "-f", file])
        #expect(diff.status == 1 && diff.stdout.contains("-  color: blue") && diff.stdout.contains("+  color: red"), "\(diff.stdout)\(diff.stderr)")

        // apply, replace, patch (all three types), label, scale, delete: each says
        // "(server dry run)" and shows the change, and the object stays.
        let said = try api.kubectlOK(["apply", "--dry-run=server", "-f", file, "-o", "jsonpath={.data.color}"])
        #expect(said == "red")
        #expect(try api.kubectlOK(["replace", "--dry-run=server", "-f", file]).contains("(server dry run)"))
        for (type, patch) in [("merge", #"{"data":{"color":"green"}}"#), ("strategic", #"{"data":{"color":"green"}}"#),
                              ("json", #"[{"op":"replace","path":"/data/color","value":"green"}]"#)] {
            let patched = try api.kubectlOK(["patch", "configmap", "c1", "--type", type, "-p", patch, "--dry-run=server",
                                             "-o", "jsonpath={.data.color}"])
            #expect(patched == "green", "\(type)")
        }
        #expect(try api.kubectlOK(["label", "configmap", "c1", "tier=gold", "--dry-run=server"]).contains("(server dry run)"))
        #expect(try api.kubectlOK(["scale", "deployment", "web", "--replicas=5", "--dry-run=server"]).contains("(server dry run)"))
        #expect(try api.kubectlOK(["delete", "configmap", "c1", "--dry-run=server"]).contains("(server dry run)"))
        #expect(try api.kubectlOK(["delete", "deployment", "web", "--dry-run=server"]).contains("(server dry run)"))
        #expect(try api.kubectlOK(["delete", "configmaps", "--all", "--dry-run=server"]).contains("(server dry run)"))

        #expect(try color() == "blue")
        #expect(try api.kubectlOK(["get", "configmap", "c1", "-o", "jsonpath={.metadata.labels.tier}"]) == "")
        #expect(try api.kubectlOK(["get", "deployment", "web", "-o", "jsonpath={.spec.replicas}"]) == "2")
        #expect(try revision(api) == before, "a dry run wrote to the store")

        // The real writes still work afterwards.
        _ = try api.kubectlOK(["apply", "-f", file])
        #expect(try color() == "red")
        api.stop()
    }

    @Test func aDryRunServiceShowsItsAddressesAndKeepsNone() throws {
        let api = try RunningAPIServer()
        let service = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default"},"spec":{"type":"NodePort","clusterIP":"10.96.5.5","ports":[{"port":80,"nodePort":30080}]}}"#
        let shown = try api.kubectlOK(["apply", "--dry-run=server", "-f", "-", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}"],
                                      stdin: service)
        #expect(shown == "10.96.5.5 30080")
        #expect(try !api.kubectl(["get", "service", "web"]).succeeded)
        // Nothing stayed allocated: the same address and node port can be taken for real.
        let other = service.replacingOccurrences(of: #""name":"web""#, with: #""name":"web2""#)
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: other).succeeded)
        // A dry-run namespace deletion leaves it and its contents.
        _ = try api.kubectlOK(["apply", "-f", "-"],
                              stdin: #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#)
        _ = try api.kubectlOK(["apply", "-f", "-"], stdin: Self.configMap("blue").replacingOccurrences(of: "\"default\"", with: "\"shop\""))
        #expect(try api.kubectlOK(["delete", "namespace", "shop", "--dry-run=server"]).contains("(server dry run)"))
        #expect(try api.kubectlOK(["get", "configmap", "c1", "-n", "shop", "-o", "jsonpath={.data.color}"]) == "blue")
        #expect(try api.kubectlOK(["get", "namespace", "shop", "-o", "jsonpath={.status.phase}"]) == "Active")
        api.stop()
    }

    @Test func whatTheServerDoesNotImplementIsRefusedByName() throws {
        let api = try RunningAPIServer()
        let unknown = try api.curl("GET", "/api/v1/namespaces/default/configmaps?frobnicate=1")
        #expect(unknown.status == 400 && unknown.body.contains("frobnicate"), "\(unknown)")
        let badDryRun = try api.curl("POST", "/api/v1/namespaces/default/configmaps?dryRun=Some", body: Self.configMap("blue"))
        #expect(badDryRun.status == 400 && badDryRun.body.contains("dryRun"), "\(badDryRun)")
        #expect(try !api.kubectl(["get", "configmap", "c1"]).succeeded, "a refused request must not write")
        let exact = try api.curl("GET", "/api/v1/configmaps?resourceVersion=1&resourceVersionMatch=Exact")
        #expect(exact.status == 400 && exact.body.contains("resourceVersionMatch"), "\(exact)")
        _ = try api.kubectlOK(["apply", "-f", "-"], stdin: Self.configMap("blue"))
        let sideways = try api.curl("DELETE", "/api/v1/namespaces/default/configmaps/c1?propagationPolicy=Sideways")
        #expect(sideways.status == 400 && sideways.body.contains("propagationPolicy=Sideways"), "\(sideways)")
        #expect(try api.kubectl(["get", "configmap", "c1"]).succeeded)
        api.stop()
    }
}
