import Foundation
import NetplaneTestSupport
import Testing

/// The first commands people type: kubectl's imperative `create` sends protobuf bodies for
/// built-in kinds (and asks for protobuf answers), which the server decodes with its schema
/// tables. Each object is then read back as JSON with the fields the command set.
@Suite(.serialized) struct KubectlCreateTests {
    @Test(arguments: Backend.allCases) func imperativeCreateCommandsWork(_ backend: Backend) throws {
        let api = try RunningAPIServer(backend: backend)
        func get(_ what: [String], _ path: String) throws -> String {
            try api.kubectlOK(["get"] + what + ["-o", "jsonpath=\(path)"])
        }
        _ = try api.kubectlOK(["create", "namespace", "shop"])
        #expect(try get(["namespace", "shop"], "{.status.phase}") == "Active")

        _ = try api.kubectlOK(["create", "configmap", "settings", "-n", "shop", "--from-literal=color=blue", "--from-literal=size=L"])
        #expect(try get(["configmap", "settings", "-n", "shop"], "{.data.color}/{.data.size}") == "blue/L")

        _ = try api.kubectlOK(["create", "secret", "generic", "db", "-n", "shop", "--from-literal=password=s3cret"])
        #expect(try get(["secret", "db", "-n", "shop"], "{.type} {.data.password}") == "Opaque czNjcmV0")

        _ = try api.kubectlOK(["create", "deployment", "web", "-n", "shop", "--image=nginx:1.25", "--replicas=3", "--port=80"])
        #expect(try get(["deployment", "web", "-n", "shop"], "{.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.selector.matchLabels.app}")
                == "3 nginx:1.25 80 web")

        _ = try api.kubectlOK(["create", "service", "clusterip", "web", "-n", "shop", "--tcp=80:8080"])
        let service = try get(["service", "web", "-n", "shop"], "{.spec.ports[0].port} {.spec.ports[0].targetPort} {.spec.clusterIP}")
        #expect(service.hasPrefix("80 8080 10.96."), "\(service)")

        _ = try api.kubectlOK(["create", "serviceaccount", "builder", "-n", "shop"])
        #expect(try get(["serviceaccount", "builder", "-n", "shop"], "{.metadata.name}") == "builder")

        _ = try api.kubectlOK(["create", "job", "once", "-n", "shop", "--image=busybox", "--", "sh", "-c", "echo hi"])
        #expect(try get(["job", "once", "-n", "shop"], "{.spec.template.spec.containers[0].command}") == #"["sh","-c","echo hi"]"#)

        _ = try api.kubectlOK(["create", "cronjob", "tick", "-n", "shop", "--image=busybox", "--schedule=*/5 * * * *"])
        #expect(try get(["cronjob", "tick", "-n", "shop"], "{.spec.schedule}") == "*/5 * * * *")

        _ = try api.kubectlOK(["create", "ingress", "front", "-n", "shop", "--rule=shop.example.com/=web:80"])
        #expect(try get(["ingress", "front", "-n", "shop"], "{.spec.rules[0].host} {.spec.rules[0].http.paths[0].backend.service.name}:{.spec.rules[0].http.paths[0].backend.service.port.number}")
                == "shop.example.com web:80")

        // The typed commands' other verbs go through protobuf too.
        _ = try api.kubectlOK(["scale", "deployment", "web", "-n", "shop", "--replicas=1"])
        #expect(try get(["deployment", "web", "-n", "shop"], "{.spec.replicas}") == "1")
        _ = try api.kubectlOK(["create", "configmap", "dry", "-n", "shop", "--from-literal=a=b", "--dry-run=server"])
        #expect(try !api.kubectl(["get", "configmap", "dry", "-n", "shop"]).succeeded)
        api.stop()
    }
}
