import Foundation
import NetplaneTestSupport
import Testing

/// `netplane scheduler` against a real API server with nodes as a node agent registers them:
/// pods are bound where they fit, and a pod that fits nowhere says why in `kubectl describe`,
/// then is bound as soon as a node that fits appears.
@Suite(.serialized) struct SchedulerTests {
    static func node(_ name: String, cpu: String, taint: String = "") -> String {
        """
        apiVersion: v1
        kind: Node
        metadata: {name: \(name), labels: {kubernetes.io/hostname: \(name)}}
        spec: {\(taint)}
        status:
          capacity: {cpu: "\(cpu)", memory: 8Gi, pods: "110"}
          allocatable: {cpu: "\(cpu)", memory: 8Gi, pods: "110"}
          conditions: [{type: Ready, status: "True", reason: KubeletReady}]
        ---

        """
    }

    func boundNode(_ api: APIServerProcess, _ pod: String) -> String {
        (try? api.kubectl(["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"]).stdout) ?? ""
    }

    @Test func bindsWhereItFitsAndSaysWhyNot() throws {
        let dir = try testDirectory("np-sched")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        // Nodes register their status on create, as a node agent does.
        let nodes = Self.node("small", cpu: "500m") + Self.node("tainted", cpu: "8", taint: "taints: [{key: dedicated, value: gpu, effect: NoSchedule}]")
            + Self.node("big", cpu: "2")
        let registered = try api.kubectl(["apply", "-f", "-"], stdin: nodes)
        #expect(registered.succeeded, "\(registered.stderr)")
        let scheduler = try ControllersProcess(api: api, command: "scheduler", dir: dir)
        defer { scheduler.stop() }

        func run(_ name: String, cpu: String) throws {
            #expect(try api.kubectl(["run", name, "--image=nginx", "--overrides",
                                     #"{"spec":{"containers":[{"name":"\#(name)","image":"nginx","resources":{"requests":{"cpu":"\#(cpu)"}}}]}}"#]).succeeded)
        }
        try run("one", cpu: "1")
        #expect(eventually { boundNode(api, "one") == "big" }, "\(scheduler.logText())")
        #expect(try api.kubectl(["get", "pod", "one", "-o", "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].status}"]).stdout == "True")
        // Too big for what is left anywhere it may go.
        try run("two", cpu: "1500m")
        let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
        #expect(eventually { (try? api.kubectl(["describe", "pod", "two"]).stdout.contains(expected)) == true },
                "\((try? api.kubectl(["describe", "pod", "two"]).stdout) ?? "")\n\(scheduler.logText())")
        #expect(try api.kubectl(["get", "events", "--field-selector", "involvedObject.name=two,reason=FailedScheduling", "-o", "name"]).stdout.count > 0)
        // A node that fits joins: the pod goes there.
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: Self.node("bigger", cpu: "4")).succeeded)
        #expect(eventually { boundNode(api, "two") == "bigger" }, "\(scheduler.logText())")
        // A burst never overfills a node: 6 pods of 500m where 'big' has 1 core left, 'bigger'
        // 2.5, 'small' 0.5, and 'tainted' takes none of them.
        for i in 0..<6 { try run("burst-\(i)", cpu: "500m") }
        #expect(eventually { (0..<6).allSatisfy { !boundNode(api, "burst-\($0)").isEmpty } }, "\(scheduler.logText())")
        let placements = (0..<6).map { boundNode(api, "burst-\($0)") }
        let count = { (node: String) in placements.filter { $0 == node }.count }
        #expect(count("big") <= 2 && count("bigger") <= 5 && count("small") <= 1 && count("tainted") == 0, "\(placements)")
    }

    @Test func aConfigFileChoosesTheStrategyAndWhatItCannotHonourIsRefused() throws {
        let dir = try testDirectory("np-sched-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: Self.node("a", cpu: "4") + Self.node("b", cpu: "4")).succeeded)
        let bad = dir + "/bad.yaml"
        try "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nparallelism: 32\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try Command.run([productsDirectory() + "/netplane", "scheduler", "--kubeconfig", api.kubeconfig, "--config", bad])
        #expect(refused.status != 0 && refused.stderr.contains("parallelism is not supported"), "\(refused.stderr)")
        let config = dir + "/pack.yaml"
        try """
            apiVersion: kubescheduler.config.k8s.io/v1
            kind: KubeSchedulerConfiguration
            percentageOfNodesToScore: 100
            profiles:
            - schedulerName: default-scheduler
              plugins:
                score:
                  disabled: [{name: NodeResourcesBalancedAllocation}]
              pluginConfig:
              - name: NodeResourcesFit
                args: {scoringStrategy: {type: MostAllocated}}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let scheduler = try ControllersProcess(api: api, command: "scheduler", arguments: ["--config", config], dir: dir)
        defer { scheduler.stop() }
        // MostAllocated packs (balance left out): three pods end on one node.
        for i in 0..<3 {
            #expect(try api.kubectl(["run", "p\(i)", "--image=nginx", "--overrides",
                                     #"{"spec":{"containers":[{"name":"c","image":"nginx","resources":{"requests":{"cpu":"500m"}}}]}}"#]).succeeded)
            #expect(eventually { !boundNode(api, "p\(i)").isEmpty }, "\(scheduler.logText())")
        }
        #expect(Set((0..<3).map { boundNode(api, "p\($0)") }).count == 1)
    }
}
