import Foundation
import NetplaneTestSupport
import Testing

/// The EndpointSlice controller against a real API server, driven with kubectl: slices follow
/// pods as a node agent reports them, and a user's slice is never touched.
@Suite(.serialized) struct EndpointSliceControllerTests {
    /// Plays the node agent: the pod runs on `node` at `ip`, ready or not.
    func report(_ api: APIServerProcess, _ pod: String, ip: String, ready: Bool) throws {
        let status = #"{"status":{"phase":"Running","podIP":"\#(ip)","podIPs":[{"ip":"\#(ip)"}],"conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}}"#
        let result = try api.kubectl(["patch", "pod", pod, "--subresource=status", "--type=merge", "-p", status])
        #expect(result.succeeded, "\(result.stderr)")
    }

    func slice(_ api: APIServerProcess, _ service: String) throws -> String {
        try api.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=\(service)", "-o",
                         #"jsonpath={range .items[*].endpoints[*]}{.addresses[0]}:{.conditions.ready}{" "}{end}"#]).stdout
    }

    @Test func slicesFollowPodsAndLeaveUserSlicesAlone() throws {
        let dir = try testDirectory("np-eps")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "endpointslice,garbagecollector"], dir: dir)
        defer { controllers.stop() }

        #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Node
            metadata: {name: n1, labels: {topology.kubernetes.io/zone: zone-a}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 80, targetPort: http}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: external}
            spec:
              ports: [{port: 443}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: external-1, labels: {kubernetes.io/service-name: external}}
            addressType: IPv4
            endpoints: [{addresses: [203.0.113.7]}]
            ports: [{port: 443}]
            """).succeeded)
        for (i, port) in [(1, 8080), (2, 8080)] {
            #expect(try api.kubectl(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: web-\(i), labels: {app: web}}
                spec:
                  nodeName: n1
                  containers: [{name: c, image: nginx, ports: [{name: http, containerPort: \(port)}]}]
                """).succeeded)
        }
        // No addresses yet: the placeholder slice, with no endpoints.
        #expect(eventually { (try? api.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "name"]))?.stdout.isEmpty == false },
                "\(controllers.logText())")
        try report(api, "web-1", ip: "10.244.1.2", ready: true)
        try report(api, "web-2", ip: "10.244.1.3", ready: false)
        #expect(eventually { (try? slice(api, "web")) == "10.244.1.2:true 10.244.1.3:false " }, "\((try? slice(api, "web")) ?? "")\n\(controllers.logText())")
        let details = try api.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o",
                                       "jsonpath={.items[0].ports[0].port} {.items[0].endpoints[0].zone} {.items[0].metadata.ownerReferences[0].name}"]).stdout
        #expect(details == "8080 zone-a web")
        // Readiness changes, and the legacy Endpoints follows.
        try report(api, "web-2", ip: "10.244.1.3", ready: true)
        #expect(eventually { (try? slice(api, "web")) == "10.244.1.2:true 10.244.1.3:true " }, "\(controllers.logText())")
        #expect(eventually {
            (try? api.kubectl(["get", "endpoints", "web", "-o", "jsonpath={.subsets[0].addresses[*].ip}"]))?.stdout == "10.244.1.2 10.244.1.3"
        })
        let table = try api.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=web"]).stdout
        #expect(table.contains("IPv4          8080    10.244.1.2,10.244.1.3"), "\(table)")
        let described = try api.kubectl(["describe", "service", "web"]).stdout
        #expect(described.contains("10.244.1.2:8080,10.244.1.3:8080"), "\(described)")
        // A pod on a node is deleted: its endpoint is terminating (not ready, still serving)
        // until the node agent has stopped it, then gone.
        #expect(try api.kubectl(["delete", "pod", "web-1", "--wait=false"]).succeeded)
        let terminating = #"jsonpath={range .items[*].endpoints[*]}{.addresses[0]}:{.conditions.ready}/{.conditions.serving}/{.conditions.terminating}{" "}{end}"#
        #expect(eventually {
            (try? api.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", terminating]))?.stdout
                == "10.244.1.2:false/true/true 10.244.1.3:true/true/false "
        }, "\(controllers.logText())")
        #expect(try api.kubectl(["delete", "pod", "web-1", "--grace-period=0", "--force"]).succeeded)
        #expect(eventually { (try? slice(api, "web")) == "10.244.1.3:true " }, "\(controllers.logText())")
        // The user's slice of the Service without a selector is as written.
        #expect(try slice(api, "external") == "203.0.113.7: ")
        // The Service goes: its slices and Endpoints go with it.
        #expect(try api.kubectl(["delete", "service", "web"]).succeeded)
        #expect(eventually {
            (try? api.kubectl(["get", "endpointslices,endpoints", "-o", "name"]))?.stdout.split(separator: "\n").sorted()
                == ["endpoints/kubernetes", "endpointslice.discovery.k8s.io/external-1", "endpointslice.discovery.k8s.io/kubernetes"]
        }, "\((try? api.kubectl(["get", "endpointslices,endpoints", "-o", "name"]).stdout) ?? "")")
    }
}
