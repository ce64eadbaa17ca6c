import APIMachinery
import APITypes
import JSON
import SchedulerCore
import Testing

/// The scheduler's filters and scores on hand-made nodes and pods.
@Suite struct SchedulingTests {
    static func node(_ name: String, cpu: String = "4", memory: String = "8Gi", pods: Int = 110, labels: String = "{}",
                     taints: String = "[]", unschedulable: Bool = false) -> Node {
        Node(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(name)","labels":\#(labels)},"spec":{"taints":\#(taints),"unschedulable":\#(unschedulable)},"status":{"allocatable":{"cpu":"\#(cpu)","memory":"\#(memory)","pods":"\#(pods)"}}}"#))
    }

    static func pod(_ name: String = "p", cpu: String? = nil, memory: String? = nil, spec: String = "") -> Pod {
        var requests: [String] = []
        if let cpu { requests.append(#""cpu":"\#(cpu)""#) }
        if let memory { requests.append(#""memory":"\#(memory)""#) }
        return Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"default"},"spec":{"containers":[{"name":"c","resources":{"requests":{\#(requests.joined(separator: ","))}}}]\#(spec)}}"#))
    }

    static func infos(_ nodes: [Node], placed: [String: [Pod]] = [:]) -> [Scheduling.NodeInfo] {
        nodes.map { Scheduling.NodeInfo(node: $0, pods: placed[$0.name] ?? []) }
    }

    @Test func quantitiesParseAsKubernetesWritesThem() {
        #expect(Quantity.milli("100m") == 100 && Quantity.milli("1.5") == 1500 && Quantity.milli("2") == 2000)
        #expect(Quantity.whole("128Mi") == 134_217_728 && Quantity.whole("1G") == 1_000_000_000 && Quantity.whole("1e3") == 1000)
        #expect(Quantity.whole("1Ki") == 1024 && Quantity.value("x") == nil)
    }

    @Test func reasonsAreCountedAsKubectlDescribeShowsThem() {
        let nodes = [Self.node("a", taints: #"[{"key":"dedicated","value":"gpu","effect":"NoSchedule"}]"#),
                     Self.node("b", cpu: "500m"), Self.node("c", cpu: "1")]
        let decision = Scheduling.schedule(Self.pod(cpu: "2"), nodes: Self.infos(nodes))
        #expect(decision.message == "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu.")
        // Tolerating the taint makes that node fit.
        let tolerant = Self.pod(cpu: "2", spec: #","tolerations":[{"key":"dedicated","operator":"Equal","value":"gpu","effect":"NoSchedule"}]"#)
        #expect(Scheduling.schedule(tolerant, nodes: Self.infos(nodes)) == .node("a"))
    }

    @Test func resourcesCountWhatIsAlreadyPlacedAndInitContainers() {
        let nodes = [Self.node("a", cpu: "1", memory: "1Gi")]
        let placed = ["a": [Self.pod("x", cpu: "600m", memory: "512Mi")]]
        #expect(Scheduling.schedule(Self.pod(cpu: "500m"), nodes: Self.infos(nodes, placed: placed)) == .unschedulable(reasons: ["a": "Insufficient cpu"]))
        #expect(Scheduling.schedule(Self.pod(cpu: "400m"), nodes: Self.infos(nodes, placed: placed)) == .node("a"))
        let initHeavy = Self.pod(cpu: "100m", spec: #","initContainers":[{"name":"i","resources":{"requests":{"memory":"768Mi"}}}]"#)
        #expect(Scheduling.schedule(initHeavy, nodes: Self.infos(nodes, placed: placed)) == .unschedulable(reasons: ["a": "Insufficient memory"]))
        #expect(Scheduling.schedule(Self.pod(), nodes: Self.infos([Self.node("full", pods: 1)], placed: ["full": [Self.pod("x")]]))
                == .unschedulable(reasons: ["full": "Too many pods"]))
    }

    @Test func selectorsAffinityPortsAndUnschedulableNodes() {
        let nodes = [Self.node("a", labels: #"{"zone":"z1","disk":"hdd"}"#), Self.node("b", labels: #"{"zone":"z2","disk":"ssd"}"#),
                     Self.node("c", labels: #"{"zone":"z3","disk":"ssd"}"#, unschedulable: true)]
        #expect(Scheduling.schedule(Self.pod(spec: #","nodeSelector":{"disk":"ssd"}"#), nodes: Self.infos(nodes)) == .node("b"))
        let affinity = #","affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"NotIn","values":["z2"]}]}]}}}"#
        #expect(Scheduling.schedule(Self.pod(spec: affinity), nodes: Self.infos(nodes)) == .node("a"))
        let preferred = #","affinity":{"nodeAffinity":{"preferredDuringSchedulingIgnoredDuringExecution":[{"weight":50,"preference":{"matchExpressions":[{"key":"zone","operator":"In","values":["z2"]}]}}]}}"#
        #expect(Scheduling.schedule(Self.pod(spec: preferred), nodes: Self.infos(nodes)) == .node("b"))
        let hostPort = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"h"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":80,"hostPort":8080}]}]}}"#
        let placed = ["a": [Pod(json: try! JSONValue.parse(hostPort))]]
        #expect(Scheduling.schedule(Pod(json: try! JSONValue.parse(hostPort)), nodes: Self.infos(Array(nodes.prefix(1)), placed: placed))
                == .unschedulable(reasons: ["a": "node(s) didn't have free ports for the requested pod ports"]))
        #expect(Scheduling.filter(Self.pod(), Self.infos([nodes[2]])[0]) == "node(s) were unschedulable")
    }

    @Test func leastAllocatedSpreadsAndMostAllocatedPacks() {
        let nodes = [Self.node("a"), Self.node("b")]
        let placed = ["a": [Self.pod("x", cpu: "2", memory: "4Gi")]]
        #expect(Scheduling.schedule(Self.pod(cpu: "1", memory: "1Gi"), nodes: Self.infos(nodes, placed: placed)) == .node("b"))
        var packing = Scheduling.Settings()
        packing.strategy = .mostAllocated
        #expect(Scheduling.schedule(Self.pod(cpu: "1", memory: "1Gi"), nodes: Self.infos(nodes, placed: placed), settings: packing) == .node("a"))
        // Pods that ask for nothing still spread (each counts 100m and 200 MiB for scoring).
        #expect(Scheduling.schedule(Self.pod(), nodes: Self.infos(nodes, placed: ["a": [Self.pod("y")]])) == .node("b"))
        // A PreferNoSchedule taint weighs against a node.
        let soft = [Self.node("a", taints: #"[{"key":"k","value":"v","effect":"PreferNoSchedule"}]"#), Self.node("b")]
        #expect(Scheduling.schedule(Self.pod(), nodes: Self.infos(soft)) == .node("b"))
    }
}
