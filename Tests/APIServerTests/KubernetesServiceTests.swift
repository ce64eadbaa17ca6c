import Foundation
import NetplaneTestSupport
import Testing

/// The `kubernetes` Service in `default`, as in-cluster clients expect it, seen with kubectl.
@Suite struct KubernetesServiceTests {
    @Test func theServerPublishesItselfAsTheKubernetesServiceAndKeepsItAcrossRestarts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-kubesvc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Nothing is sent to the advertised address: it is only what the endpoint names.
        var api = try APIServerProcess(dataDir: dir, extraArgs: ["--advertise-address", "198.18.0.11"])
        let port = try #require(api.server.split(separator: ":").last.map(String.init))
        func get(_ what: [String], _ path: String) throws -> String {
            try api.kubectl(["get"] + what + ["-n", "default", "-o", "jsonpath=\(path)"]).stdout
        }
        #expect(try get(["service", "kubernetes"], "{.spec.clusterIP} {.spec.ports[0].name} {.spec.ports[0].port} {.spec.ports[0].targetPort}")
                == "10.96.0.1 https 443 \(port)")
        #expect(try get(["service", "kubernetes"], "{.metadata.labels.component}/{.metadata.labels.provider}") == "apiserver/kubernetes")
        #expect(try get(["endpointslices", "kubernetes"], "{.metadata.labels.kubernetes\\.io/service-name} {.addressType} {.endpoints[0].addresses[0]} {.endpoints[0].conditions.ready} {.ports[0].port}")
                == "kubernetes IPv4 198.18.0.11 true \(port)")
        #expect(try get(["endpoints", "kubernetes"], "{.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}") == "198.18.0.11:\(port)")

        // The ClusterIP is allocated: no other Service can take it.
        let thief = #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"thief","namespace":"default"},"spec":{"clusterIP":"10.96.0.1","ports":[{"port":80}]}}"#
        let taken = try api.kubectl(["apply", "-f", "-"], stdin: thief)
        #expect(!taken.succeeded && taken.stderr.contains("10.96.0.1"), "\(taken.stderr)")

        // A restart on another port, with no address to advertise: one Service, same IP, new
        // target port, no endpoint.
        _ = api.stop()
        api = try APIServerProcess(dataDir: dir)
        let newPort = try #require(api.server.split(separator: ":").last.map(String.init))
        #expect(try api.kubectl(["get", "services", "-n", "default", "-o", "name"]).stdout == "service/kubernetes\n")
        let after = try get(["service", "kubernetes"], "{.spec.clusterIP} {.spec.ports[0].targetPort}")
        #expect(after == "10.96.0.1 \(newPort)", "\(after); \((try? String(contentsOfFile: api.log, encoding: .utf8)) ?? "")")
        let slice = try get(["endpointslices", "kubernetes"], "{.endpoints[*].addresses[*]}|{.ports[0].port}")
        #expect(slice == "|\(newPort)", "\(slice)")
        _ = api.stop()
    }
}
