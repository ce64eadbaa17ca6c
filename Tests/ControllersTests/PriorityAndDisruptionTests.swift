import Foundation
import NetplaneTestSupport
import Testing

/// Pod priority, preemption, topology spread and voluntary disruption, driven with kubectl
/// against a real API server, `netplane scheduler` and `netplane controllers`, with nodes as a
/// node agent registers them and a stand-in node agent that runs and stops pods.
@Suite(.serialized) struct PriorityAndDisruptionTests {
    static func node(_ name: String, cpu: String, zone: String = "z") -> String {
        """
        apiVersion: v1
        kind: Node
        metadata: {name: \(name), labels: {kubernetes.io/hostname: \(name), topology.kubernetes.io/zone: \(zone)}}
        status:
          capacity: {cpu: "\(cpu)", memory: 8Gi, pods: "110"}
          allocatable: {cpu: "\(cpu)", memory: 8Gi, pods: "110"}
          conditions: [{type: Ready, status: "True", reason: KubeletReady}]
        ---

        """
    }


    @Test func anImportantPodPreemptsTheLeastImportant() throws {
        let dir = try testDirectory("np-preempt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: Self.node("n1", cpu: "1") + Self.node("n2", cpu: "1")).succeeded)
        let scheduler = try ControllersProcess(api: api, command: "scheduler", dir: dir)
        defer { scheduler.stop() }
        let agent = FakeNodeAgent(api, boundOnly: true, finishTerminating: true)
        defer { agent.stop() }

        // The system classes exist; user classes are checked as kube-apiserver checks them.
        let classes = try api.kubectl(["get", "priorityclasses"])
        #expect(classes.stdout.contains("system-node-critical") && classes.stdout.contains("2000001000"), "\(classes.stdout)")
        #expect(try api.kubectl(["create", "priorityclass", "low", "--value=10", "--global-default=true"]).succeeded)
        #expect(try api.kubectl(["create", "priorityclass", "high", "--value=1000", "--description=urgent work"]).succeeded)
        let second = try api.kubectl(["create", "priorityclass", "also-default", "--value=5", "--global-default=true"])
        #expect(!second.succeeded && second.stderr.contains("PriorityClass low is already marked as default"), "\(second.stderr)")
        let reserved = try api.kubectl(["create", "priorityclass", "system-mine", "--value=5"])
        #expect(!reserved.succeeded && reserved.stderr.contains("'system-' prefix are reserved"), "\(reserved.stderr)")
        let tooHigh = try api.kubectl(["create", "priorityclass", "huge", "--value=2000000000"])
        #expect(!tooHigh.succeeded && tooHigh.stderr.contains("maximum allowed value"), "\(tooHigh.stderr)")
        #expect(!(try api.kubectl(["patch", "priorityclass", "high", "--type=merge", "-p", #"{"value":7}"#]).succeeded))

        func run(_ name: String, cpu: String, priorityClass: String? = nil) throws -> CommandResult {
            let pc = priorityClass.map { #","priorityClassName":"\#($0)""# } ?? ""
            return try api.kubectl(["run", name, "--image=nginx", "--overrides",
                                    #"{"spec":{"containers":[{"name":"\#(name)","image":"nginx","resources":{"requests":{"cpu":"\#(cpu)"}}}]\#(pc)}}"#])
        }
        let unknown = try run("lost", cpu: "100m", priorityClass: "missing")
        #expect(!unknown.succeeded && unknown.stderr.contains("no PriorityClass with name missing was found"), "\(unknown.stderr)")
        // Two fillers at the default priority take both nodes.
        #expect(try run("filler-a", cpu: "800m").succeeded)
        #expect(try run("filler-b", cpu: "800m").succeeded)
        #expect(eventually { !jsonpath(api, "pod filler-a", "{.spec.nodeName}").isEmpty && !jsonpath(api, "pod filler-b", "{.spec.nodeName}").isEmpty },
                "\(scheduler.logText())")
        #expect(jsonpath(api, "pod filler-a", "{.spec.priority}/{.spec.priorityClassName}") == "10/low")
        // The important pod fits nowhere until one filler goes.
        #expect(try run("vip", cpu: "800m", priorityClass: "high").succeeded)
        #expect(jsonpath(api, "pod vip", "{.spec.priority}/{.spec.preemptionPolicy}") == "1000/PreemptLowerPriority")
        #expect(eventually(seconds: 30) { !jsonpath(api, "pod vip", "{.spec.nodeName}").isEmpty }, "\(scheduler.logText())")
        let vipNode = jsonpath(api, "pod vip", "{.spec.nodeName}")
        let left = try api.kubectl(["get", "pods", "-o", "name"]).stdout.split(separator: "\n").map(String.init).sorted()
        #expect(left.count == 2 && left.contains("pod/vip"), "\(left)")
        #expect(jsonpath(api, "pod vip", "{.status.nominatedNodeName}") == vipNode)
        let preempted = try api.kubectl(["get", "events", "--field-selector", "reason=Preempted", "-o", "jsonpath={.items[*].message}"]).stdout
        #expect(preempted.contains("on node \(vipNode)"), "\(preempted)")
        // A pod of the same priority as the fillers waits instead of preempting.
        #expect(try run("patient", cpu: "800m").succeeded)
        #expect(eventually {
            (try? api.kubectl(["describe", "pod", "patient"]).stdout.contains("0/2 nodes are available: 2 Insufficient cpu.")) == true
        })
        #expect(jsonpath(api, "pod patient", "{.spec.nodeName}").isEmpty)
    }

    @Test func aDeploymentSpreadsOverZonesAndKeepsReplicasApart() throws {
        let dir = try testDirectory("np-spread")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        let nodes = Self.node("a1", cpu: "8", zone: "a") + Self.node("a2", cpu: "8", zone: "a") + Self.node("a3", cpu: "8", zone: "a")
            + Self.node("b1", cpu: "8", zone: "b") + Self.node("c1", cpu: "8", zone: "c")
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: nodes).succeeded)
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "deployment,replicaset"], dir: dir)
        defer { controllers.stop() }
        let scheduler = try ControllersProcess(api: api, command: "scheduler", dir: dir)
        defer { scheduler.stop() }
        let deployment = """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 6
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  topologySpreadConstraints:
                  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
                  containers: [{name: web, image: nginx}]
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: cache}
            spec:
              replicas: 6
              selector: {matchLabels: {app: cache}}
              template:
                metadata: {labels: {app: cache}}
                spec:
                  affinity:
                    podAntiAffinity:
                      requiredDuringSchedulingIgnoredDuringExecution:
                      - {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: cache}}}
                  containers: [{name: cache, image: redis}]
            """
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: deployment).succeeded)
        func placements(_ app: String) -> [String] {
            jsonpath(api, "pods -l app=\(app)", "{.items[*].spec.nodeName}").split(separator: " ").map(String.init)
        }
        #expect(eventually(seconds: 30) { placements("web").count == 6 }, "\(scheduler.logText())")
        var zones: [Character: Int] = [:]
        for node in placements("web") { zones[node.first!, default: 0] += 1 }
        #expect(zones == ["a": 2, "b": 2, "c": 2], "\(placements("web"))")
        // Five nodes for six cache replicas kept apart: five bound, one says why not.
        #expect(eventually(seconds: 30) { placements("cache").count == 5 }, "\(scheduler.logText())")
        #expect(Set(placements("cache")).count == 5)
        let pending = jsonpath(api, "pods -l app=cache", #"{range .items[?(@.status.phase=="Pending")]}{.metadata.name} {.spec.nodeName}{"\n"}{end}"#)
            .split(separator: "\n").filter { $0.split(separator: " ").count == 1 }.map { String($0.split(separator: " ")[0]) }
        #expect(pending.count == 1)
        if let name = pending.first {
            #expect(eventually {
                (try? api.kubectl(["describe", "pod", name]).stdout.contains("0/5 nodes are available: 5 node(s) didn't match pod anti-affinity rules.")) == true
            }, "\((try? api.kubectl(["describe", "pod", name]).stdout) ?? "")")
        }
    }

    @Test func drainEvictsWithinTheDisruptionBudget() throws {
        let dir = try testDirectory("np-drain")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try APIServerProcess(dataDir: dir + "/api")
        defer { _ = api.stop() }
        #expect(try api.kubectl(["apply", "-f", "-"], stdin: Self.node("n1", cpu: "4") + Self.node("n2", cpu: "4")).succeeded)
        let controllers = try ControllersProcess(api: api, arguments: ["--controllers", "deployment,replicaset,disruption"], dir: dir)
        defer { controllers.stop() }
        let scheduler = try ControllersProcess(api: api, command: "scheduler", dir: dir)
        defer { scheduler.stop() }
        let agent = FakeNodeAgent(api, boundOnly: true, finishTerminating: true)
        defer { agent.stop() }

        #expect(try api.kubectl(["create", "deployment", "web", "--image=nginx", "--replicas=4"]).succeeded)
        #expect(try api.kubectl(["rollout", "status", "deployment/web", "--timeout=60s"]).succeeded, "\(controllers.logText())")
        #expect(try api.kubectl(["create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=3"]).succeeded)
        #expect(eventually { jsonpath(api, "pdb web", "{.status.disruptionsAllowed}/{.status.currentHealthy}/{.status.desiredHealthy}") == "1/4/3" },
                "\(jsonpath(api, "pdb web", "{.status}"))\n\(controllers.logText())")
        let table = try api.kubectl(["get", "pdb", "web"]).stdout
        #expect(table.contains("MIN AVAILABLE") && table.contains("ALLOWED DISRUPTIONS"), "\(table)")

        // Draining a node evicts its pods one disruption at a time; their replacements go to
        // the other node, and the drain returns when the node is empty.
        let onN1 = jsonpath(api, "pods -l app=web", "{.items[*].spec.nodeName}").split(separator: " ").filter { $0 == "n1" }.count
        #expect(onN1 > 0)
        let drain = try api.kubectl(["drain", "n1", "--ignore-daemonsets", "--timeout=90s"])
        #expect(drain.succeeded && drain.stdout.contains("node/n1 drained"), "\(drain.stdout)\(drain.stderr)\n\(scheduler.logText())")
        #expect(jsonpath(api, "node n1", "{.spec.unschedulable}") == "true")
        #expect(eventually { Set(jsonpath(api, "pods -l app=web", "{.items[*].spec.nodeName}").split(separator: " ")) == ["n2"] })

        // With every pod needed, an eviction is refused with the budget's reason.
        #expect(try api.kubectl(["patch", "pdb", "web", "--type=merge", "-p", #"{"spec":{"minAvailable":4}}"#]).succeeded)
        #expect(eventually { jsonpath(api, "pdb web", "{.status.disruptionsAllowed}/{.status.observedGeneration}") == "0/2" })
        let refused = try api.kubectl(["drain", "n2", "--ignore-daemonsets", "--timeout=3s"])
        #expect(!refused.succeeded && refused.stderr.contains("Cannot evict pod as it would violate the pod's disruption budget"),
                "\(refused.stdout)\(refused.stderr)")
        #expect(jsonpath(api, "pods -l app=web", "{.items[*].metadata.name}").split(separator: " ").count == 4)
    }
}
