import APIMachinery
import JSON
import NodeAgentCore
import Testing

struct Inputs: PodInputs {
    var configMaps: [String: [String: String]] = [:]
    var secrets: [String: [String: [UInt8]]] = [:]
    func configMap(_ namespace: String, _ name: String) -> [String: String]? { configMaps[name] }
    func secret(_ namespace: String, _ name: String) -> [String: [UInt8]]? { secrets[name] }
}

func json(_ text: String) -> JSONValue { try! JSONValue.parse(text) }

let placement = ContainerPlacement(networkNamespace: "/proc/9/ns/net", ipcNamespace: "/proc/9/ns/ipc", utsNamespace: "/proc/9/ns/uts",
                                   cgroupsPath: "/netplane/n1/podU/c-0", rootfs: "/b/rootfs")

@Suite struct ContainerSpecTests {
    @Test func commandAndArgsOverTheImagesEntrypointAndCmd() throws {
        let image = ImageConfig(entrypoint: ["/entry"], cmd: ["--default"])
        #expect(try ContainerSpec.argv(container: json(#"{}"#), image: image, env: [:]) == ["/entry", "--default"])
        #expect(try ContainerSpec.argv(container: json(#"{"args":["x"]}"#), image: image, env: [:]) == ["/entry", "x"])
        #expect(try ContainerSpec.argv(container: json(#"{"command":["/bin/sh"]}"#), image: image, env: [:]) == ["/bin/sh"])
        #expect(try ContainerSpec.argv(container: json(#"{"command":["echo"],"args":["$(A)","$$(A)","$(B)"]}"#), image: image,
                                       env: ["A": "1"]) == ["echo", "1", "$(A)", "$(B)"])
        #expect(throws: ContainerConfigError.self) { try ContainerSpec.argv(container: json("{}"), image: ImageConfig(), env: [:]) }
    }

    @Test func theRuntimeSpecJoinsTheSandboxAndCarriesLimitsUserAndCapabilities() throws {
        let pod = json(#"{"metadata":{"name":"p","namespace":"ns","uid":"U"},"spec":{"securityContext":{"runAsGroup":3000,"supplementalGroups":[4000]}}}"#)
        let container = json("""
            {"name":"c","command":["sleep","1"],"workingDir":"/data",
             "resources":{"limits":{"memory":"64Mi","cpu":"500m"},"requests":{"cpu":"250m"}},
             "securityContext":{"runAsUser":1000,"readOnlyRootFilesystem":true,"capabilities":{"add":["NET_ADMIN"],"drop":["KILL"]}}}
            """)
        let spec = try ContainerSpec.runtimeSpec(pod: pod, container: container, image: ImageConfig(env: ["PATH=/bin"]),
                                                 env: [("PATH", "/bin"), ("A", "b")], mounts: [ContainerMount(source: "/v", destination: "/data", readOnly: true)],
                                                 placement: placement)
        #expect(spec[path: ["process", "user"]] == json(#"{"uid":1000,"gid":3000,"additionalGids":[4000]}"#))
        #expect(spec[path: ["process", "cwd"]] == "/data")
        #expect(spec[path: ["process", "env"]] == json(#"["PATH=/bin","A=b"]"#))
        let bounding = spec[path: ["process", "capabilities", "bounding"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(bounding.contains("CAP_NET_ADMIN") && !bounding.contains("CAP_KILL") && bounding.contains("CAP_CHOWN"))
        // Not root: no effective capabilities.
        #expect(spec[path: ["process", "capabilities", "effective"]] == json("[]"))
        #expect(spec[path: ["root", "readonly"]] == true)
        #expect(spec[path: ["linux", "resources", "memory", "limit"]] == 67_108_864)
        #expect(spec[path: ["linux", "resources", "cpu"]] == json(#"{"shares":256,"quota":50000,"period":100000}"#))
        #expect(spec[path: ["linux", "cgroupsPath"]] == "/netplane/n1/podU/c-0")
        let namespaces = spec[path: ["linux", "namespaces"]]?.arrayValue ?? []
        #expect(namespaces.contains(json(#"{"type":"network","path":"/proc/9/ns/net"}"#)))
        #expect(namespaces.contains(json(#"{"type":"ipc","path":"/proc/9/ns/ipc"}"#)))
        #expect(namespaces.contains(json(#"{"type":"pid"}"#)))
        #expect(spec["mounts"]?.arrayValue?.contains(json(#"{"destination":"/data","type":"bind","source":"/v","options":["rbind","rprivate","ro"]}"#)) == true)
    }

    @Test func whatCannotBeHonouredIsRefused() {
        let pod = json(#"{"metadata":{"name":"p"},"spec":{"securityContext":{"runAsNonRoot":true}}}"#)
        #expect(throws: ContainerConfigError("container has runAsNonRoot and image will run as root")) {
            try ContainerSpec.runtimeSpec(pod: pod, container: json(#"{"command":["x"]}"#), image: ImageConfig(), env: [], mounts: [], placement: placement)
        }
        #expect(throws: ContainerConfigError.self) {
            try ContainerSpec.runtimeSpec(pod: json("{}"), container: json(#"{"command":["x"]}"#), image: ImageConfig(user: "nginx"),
                                          env: [], mounts: [], placement: placement)
        }
        #expect(throws: ContainerConfigError("resources.limits.memory: lots is not a quantity")) {
            try ContainerSpec.resources(json(#"{"resources":{"limits":{"memory":"lots"}}}"#))
        }
    }
}

@Suite struct EnvironmentTests {
    let pod = json(#"{"metadata":{"name":"web-1","namespace":"shop","uid":"U1","labels":{"app":"web"}},"spec":{"nodeName":"n2","serviceAccountName":"robot"}}"#)

    @Test func valuesFromFieldsConfigMapsSecretsAndEarlierVariables() throws {
        let container = json("""
            {"name":"c","resources":{"limits":{"memory":"128Mi","cpu":"1500m"}},
             "envFrom":[{"prefix":"CM_","configMapRef":{"name":"cm"}},{"secretRef":{"name":"gone","optional":true}}],
             "env":[{"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}},
                    {"name":"IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}},
                    {"name":"APP","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['app']"}}},
                    {"name":"SA","valueFrom":{"fieldRef":{"fieldPath":"spec.serviceAccountName"}}},
                    {"name":"MEM","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}},
                    {"name":"CPU","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}},
                    {"name":"PW","valueFrom":{"secretKeyRef":{"name":"s","key":"pw"}}},
                    {"name":"COLOR","valueFrom":{"configMapKeyRef":{"name":"cm","key":"color"}}},
                    {"name":"URL","value":"http://$(IP):80/$(NOPE)"},
                    {"name":"PATH","value":"/override"}]}
            """)
        let inputs = Inputs(configMaps: ["cm": ["color": "red", "size": "M"]], secrets: ["s": ["pw": Array("hunter2".utf8)]])
        let env = try Environment.resolve(pod: pod, container: container, image: ImageConfig(env: ["PATH=/bin", "LANG=C"]),
                                          podIPs: ["10.1.2.3"], hostIP: "198.18.0.12", inputs: inputs)
        let map = Dictionary(env, uniquingKeysWith: { _, b in b })
        #expect(env.first?.0 == "PATH" && map["PATH"] == "/override")
        #expect(map["LANG"] == "C" && map["HOSTNAME"] == "web-1" && map["CM_color"] == "red" && map["CM_size"] == "M")
        #expect(map["NODE"] == "n2" && map["IP"] == "10.1.2.3" && map["APP"] == "web" && map["SA"] == "robot")
        #expect(map["MEM"] == "128" && map["CPU"] == "2")
        #expect(map["PW"] == "hunter2" && map["COLOR"] == "red")
        #expect(map["URL"] == "http://10.1.2.3:80/$(NOPE)")
    }

    @Test func aMissingSourceNamesItselfUnlessOptional() {
        let missing = json(#"{"env":[{"name":"X","valueFrom":{"configMapKeyRef":{"name":"absent","key":"k"}}}]}"#)
        #expect(throws: ContainerConfigError("configmap \"absent\" not found")) {
            try Environment.resolve(pod: pod, container: missing, image: ImageConfig(), podIPs: [], hostIP: nil, inputs: Inputs())
        }
        let noKey = json(#"{"env":[{"name":"X","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}"#)
        #expect(throws: ContainerConfigError("couldn't find key k in Secret shop/s")) {
            try Environment.resolve(pod: pod, container: noKey, image: ImageConfig(), podIPs: [], hostIP: nil, inputs: Inputs(secrets: ["s": [:]]))
        }
        let optional = json(#"{"env":[{"name":"X","valueFrom":{"configMapKeyRef":{"name":"absent","key":"k","optional":true}}}]}"#)
        #expect((try? Environment.resolve(pod: pod, container: optional, image: ImageConfig(), podIPs: [], hostIP: nil, inputs: Inputs()))?
            .contains { $0.0 == "X" } == false)
        #expect(throws: ContainerConfigError("unsupported fieldRef fieldPath spec.nope")) {
            try Environment.fieldValue("spec.nope", pod: pod, podIPs: [], hostIP: nil)
        }
    }
}

@Suite struct VolumeFilesTests {
    let pod = json(#"{"metadata":{"name":"p","namespace":"ns","labels":{"b":"2","a":"1"}},"spec":{"containers":[{"name":"c"}]}}"#)

    @Test func configMapSecretAndDownwardFiles() throws {
        let inputs = Inputs(configMaps: ["cm": ["a.conf": "A", "b.conf": "B"]], secrets: ["s": ["key": [1, 2, 3]]])
        let all = try VolumeFiles.kind(json(#"{"name":"v","configMap":{"name":"cm"}}"#), pod: pod, podIPs: [], hostIP: nil,
                                       inputs: inputs, token: { _, _ in nil })
        #expect(all == .files([VolumeFile(path: "a.conf", contents: Array("A".utf8), mode: 0o644),
                               VolumeFile(path: "b.conf", contents: Array("B".utf8), mode: 0o644)]))
        let items = try VolumeFiles.kind(json(#"{"name":"v","secret":{"secretName":"s","defaultMode":256,"items":[{"key":"key","path":"dir/k"}]}}"#),
                                         pod: pod, podIPs: [], hostIP: nil, inputs: inputs, token: { _, _ in nil })
        #expect(items == .files([VolumeFile(path: "dir/k", contents: [1, 2, 3], mode: 0o400)]))
        let downward = try VolumeFiles.kind(json(#"{"name":"v","downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}}]}}"#),
                                            pod: pod, podIPs: [], hostIP: nil, inputs: inputs, token: { _, _ in nil })
        #expect(downward == .files([VolumeFile(path: "labels", contents: Array("a=\"1\"\nb=\"2\"".utf8), mode: 0o644)]))
        let projected = try VolumeFiles.kind(json(#"{"name":"v","projected":{"sources":[{"serviceAccountToken":{"path":"token"}}]}}"#),
                                             pod: pod, podIPs: [], hostIP: nil, inputs: inputs, token: { _, _ in "T" })
        #expect(projected == .files([VolumeFile(path: "token", contents: Array("T".utf8), mode: 0o644)]))
    }

    @Test func escapesAndUnsupportedVolumesAreRefused() {
        let inputs = Inputs(configMaps: ["cm": ["k": "v"]])
        #expect(throws: ContainerConfigError("ConfigMap cm: path ../etc/passwd must be relative and may not contain '..'")) {
            try VolumeFiles.kind(json(#"{"name":"v","configMap":{"name":"cm","items":[{"key":"k","path":"../etc/passwd"}]}}"#),
                                 pod: pod, podIPs: [], hostIP: nil, inputs: inputs, token: { _, _ in nil })
        }
        #expect(throws: ContainerConfigError("volume v: nfs volumes are not supported by netplane kubelet")) {
            try VolumeFiles.kind(json(#"{"name":"v","nfs":{"server":"x","path":"/"}}"#), pod: pod, podIPs: [], hostIP: nil,
                                 inputs: inputs, token: { _, _ in nil })
        }
    }

    @Test func hostsAndResolvConf() {
        let hosts = VolumeFiles.hostsFile(pod: json(#"{"metadata":{"name":"web-0","namespace":"shop"},"spec":{"hostname":"web-0","subdomain":"web"}}"#),
                                          podIPs: ["10.1.0.5"])
        #expect(hosts.contains("10.1.0.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n"))
        let clusterFirst = VolumeFiles.resolvConf(pod: json(#"{"metadata":{"namespace":"shop"}}"#), clusterDNS: ["10.96.0.10"],
                                                  clusterDomain: "cluster.local", nodeResolvConf: "nameserver 1.1.1.1\nsearch corp\n")
        #expect(clusterFirst == "search shop.svc.cluster.local svc.cluster.local cluster.local corp\nnameserver 10.96.0.10\noptions ndots:5\n")
        let fallback = VolumeFiles.resolvConf(pod: json(#"{"metadata":{"namespace":"shop"}}"#), clusterDNS: [], clusterDomain: "cluster.local",
                                              nodeResolvConf: "nameserver 1.1.1.1\n")
        #expect(fallback == "nameserver 1.1.1.1\n")
    }
}

@Suite struct PodStatusTests {
    typealias C = ContainerObservation

    func running(_ name: String, ready: Bool = true) -> C { C(name: name, image: "i", state: .running(startedAt: 100), ready: ready, started: true) }
    func ended(_ name: String, _ code: Int) -> C {
        C(name: name, image: "i", state: .terminated(exitCode: code, reason: code == 0 ? "Completed" : "Error", message: nil, startedAt: 1, finishedAt: 2))
    }

    @Test func phasesFollowTheKubeletsRules() {
        let crashLooping = C(name: "c", image: "i", state: .waiting(reason: "CrashLoopBackOff", message: nil),
                             lastState: .terminated(exitCode: 1, reason: "Error", message: nil, startedAt: 1, finishedAt: 2), restartCount: 3)
        let creating = C(name: "c", image: "i", state: .waiting(reason: "ContainerCreating", message: nil))
        let cases: [(String, [C], [C], String)] = [
            ("Always", [], [running("a"), running("b")], "Running"),
            ("Always", [], [running("a"), creating], "Pending"),
            ("Always", [running("init")], [creating], "Pending"),
            ("Always", [ended("init", 0)], [running("a")], "Running"),
            ("Always", [], [crashLooping], "Running"),
            ("Always", [], [ended("a", 0)], "Running"),
            ("Never", [], [ended("a", 0), ended("b", 0)], "Succeeded"),
            ("Never", [], [ended("a", 0), ended("b", 1)], "Failed"),
            ("Never", [ended("init", 1)], [creating], "Failed"),
            ("OnFailure", [ended("init", 1)], [creating], "Pending"),
            ("OnFailure", [], [ended("a", 1)], "Running"),
            ("OnFailure", [], [ended("a", 0)], "Succeeded"),
            ("Never", [], [running("a"), ended("b", 1)], "Running"),
        ]
        for (policy, inits, containers, phase) in cases {
            #expect(PodStatusBuilder.phase(restartPolicy: policy, initContainers: inits, containers: containers) == phase,
                    "\(policy) \(inits.map(\.name)) \(containers.map { "\($0.name):\($0.state)" })")
        }
    }

    @Test func conditionsKeepTheirTransitionTimesAndNameWhatIsNotReady() {
        let pod = json("""
            {"metadata":{"name":"p"},"spec":{"restartPolicy":"Always","containers":[{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]},
             "status":{"conditions":[{"type":"PodScheduled","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z"},
                                     {"type":"Initialized","status":"True","lastTransitionTime":"2026-01-01T00:00:01Z"}]}}
            """)
        let status = PodStatusBuilder.status(pod: pod, sandboxReady: true, podIPs: ["10.0.0.2"], hostIP: "198.18.0.11", startTime: 5,
                                             initContainers: [], containers: [running("a", ready: false)], now: 1_000_000)
        let conditions = status["conditions"]?.arrayValue ?? []
        func condition(_ type: String) -> JSONValue? { conditions.first { $0["type"]?.stringValue == type } }
        #expect(condition("Initialized")?["lastTransitionTime"] == "2026-01-01T00:00:01Z")
        #expect(condition("Ready")?["status"] == "False")
        #expect(condition("Ready")?["message"] == "containers with unready status: [a]")
        #expect(condition("PodScheduled")?["lastTransitionTime"] == "2026-01-01T00:00:00Z")
        #expect(status["podIPs"] == json(#"[{"ip":"10.0.0.2"}]"#) && status["hostIP"] == "198.18.0.11")
        #expect(status["qosClass"] == "Guaranteed")
        #expect(status[path: ["containerStatuses", "0"]] == nil)
        #expect(status["containerStatuses"]?.arrayValue?.first?["state"] == json(#"{"running":{"startedAt":"1970-01-01T00:01:40Z"}}"#))
    }

    @Test func restartBackoffDoublesToFiveMinutes() {
        let backoff = RestartBackoff()
        #expect((0...7).map { backoff.delay(afterRestarts: $0) } == [0, 10, 20, 40, 80, 160, 300, 300])
        #expect(!RestartBackoff.restarts(policy: "Never", exitCode: 1))
        #expect(RestartBackoff.restarts(policy: "OnFailure", exitCode: 1) && !RestartBackoff.restarts(policy: "OnFailure", exitCode: 0))
        #expect(RestartBackoff.restarts(policy: "Always", exitCode: 0))
    }
}
