import Foundation
import NetplaneTestSupport
import Testing

/// `netplane kubelet` with real runc, real CNI plugins and real kubectl, on nodes that are
/// network namespaces (NodeCluster). Needs root.
@Suite(.serialized) struct KubeletRootTests {
    /// The cgroup file of a container instance, v1 or v2 (read directly: an independent witness).
    static func cgroupValue(_ cluster: NodeCluster, node: Int, podUID: String, container: String, v1: (String, String), v2: String) -> String? {
        let path = "\(cluster.cgroupParent(node))/pod\(podUID)/\(container)-0"
        let file = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers")
            ? "/sys/fs/cgroup\(path)/\(v2)" : "/sys/fs/cgroup/\(v1.0)\(path)/\(v1.1)"
        return (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func waitFor(_ cluster: NodeCluster, _ what: String, seconds: Double = 30, _ condition: () throws -> Bool) throws {
        guard try eventually(seconds: seconds, condition) else {
            let pods = (try? cluster.kubectl(["get", "pods", "-A", "-o", "wide"]).stdout) ?? ""
            let events = (try? cluster.kubectl(["get", "events", "-A"]).stdout) ?? ""
            Issue.record("timed out waiting for \(what)\n\(pods)\n\(events)\n--- kubelet1:\n\(cluster.log("kubelet1").suffix(3000))")
            throw CommandFailed(command: [what], result: CommandResult(status: -1, stdout: "", stderr: "timed out"))
        }
    }

    @Test func initContainersEnvironmentVolumesLimitsAndLogs() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try cluster.kubectlOK(["create", "configmap", "settings", "--from-literal=color=blue", "--from-literal=size=L"])
            try cluster.kubectlOK(["create", "secret", "generic", "creds", "--from-literal=password=s3cret"])
            try cluster.kubectlOK(["create", "serviceaccount", "robot"])
            try cluster.kubectlOK(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: app, labels: {tier: web}}
                spec:
                  terminationGracePeriodSeconds: 5
                  serviceAccountName: robot
                  initContainers:
                  - {name: first, image: busybox, command: ["sh", "-c", "echo first > /work/order"], volumeMounts: [{name: work, mountPath: /work}]}
                  - {name: second, image: busybox, command: ["sh", "-c", "echo second >> /work/order"], volumeMounts: [{name: work, mountPath: /work}]}
                  containers:
                  - name: app
                    image: busybox:1.36
                    command: ["sh", "-c"]
                    args:
                    - |
                      trap 'echo stopping; exit 0' TERM
                      cat /work/order; echo COLOR=$COLOR; echo CFG_size=$CFG_size; echo PASSWORD=$(cat /secret/password)
                      echo NODE=$NODE POD_IP=$POD_IP MEM=$MEM LABELS=$(cat /info/labels); echo GREETING=$GREETING
                      echo TOKEN_PARTS=$(tr . ' ' < /var/run/token/token | wc -w)
                      sa=/var/run/secrets/kubernetes.io/serviceaccount
                      echo SA_NS=$(cat $sa/namespace) SA_CA=$(grep -c 'BEGIN CERTIFICATE' $sa/ca.crt) SA_TOKEN=$(cat $sa/token)
                      echo ID=$(id -u):$(id -g) ROOTFS=$(touch /tmp/probe 2>/dev/null && echo writable || echo read-only); echo HOST=$(hostname)
                      while true; do sleep 1; done
                    env:
                    - {name: COLOR, valueFrom: {configMapKeyRef: {name: settings, key: color}}}
                    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
                    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
                    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
                    - {name: WHO, value: world}
                    - {name: GREETING, value: "hello $(WHO)"}
                    envFrom: [{prefix: CFG_, configMapRef: {name: settings}}]
                    resources: {limits: {memory: 64Mi, cpu: 500m}, requests: {cpu: 250m}}
                    securityContext: {runAsUser: 1000, runAsGroup: 3000, readOnlyRootFilesystem: true}
                    volumeMounts:
                    - {name: work, mountPath: /work}
                    - {name: creds, mountPath: /secret, readOnly: true}
                    - {name: info, mountPath: /info}
                    - {name: token, mountPath: /var/run/token}
                  volumes:
                  - {name: work, emptyDir: {}}
                  - {name: creds, secret: {secretName: creds}}
                  - {name: info, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}
                  - {name: token, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 3600}}]}}
                """)
            try waitFor(cluster, "app Ready") { cluster.podField("app", "{.status.conditions[?(@.type==\"Ready\")].status}") == "True" }
            let ip = cluster.podField("app", "{.status.podIP}")
            #expect(ip.hasPrefix("10.88.1."))
            #expect(cluster.podField("app", "{.status.hostIP}") == "198.18.0.11")
            #expect(cluster.podField("app", "{.status.initContainerStatuses[*].state.terminated.reason}") == "Completed Completed")
            #expect(cluster.podField("app", "{.status.qosClass}") == "Burstable")
            try waitFor(cluster, "app's log") { (try cluster.kubectl(["logs", "app"]).stdout).contains("HOST=") }
            let log = try cluster.kubectlOK(["logs", "app"])
            for line in ["first\nsecond", "COLOR=blue", "CFG_size=L", "PASSWORD=s3cret", "NODE=node1 POD_IP=\(ip) MEM=64",
                         "LABELS=tier=\"web\"", "GREETING=hello world", "TOKEN_PARTS=3", "ID=1000:3000 ROOTFS=read-only", "HOST=app"] {
                #expect(log.contains(line), "\(line) not in the log:\n\(log)")
            }
            #expect(try cluster.kubectlOK(["logs", "app", "--tail=1"]) == "HOST=app\n")
            // The kube-api-access volume admission added: the namespace, the cluster CA, and a
            // token the API server takes as the pod's service account.
            #expect(log.contains("SA_NS=default SA_CA=1 SA_TOKEN=ey"), "\(log)")
            let token = log.split(separator: "\n").first { $0.contains("SA_TOKEN=") }.map { String($0.split(separator: "=").last ?? "") } ?? ""
            #expect(try cluster.kubectlOK(["--token=\(token)", "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"])
                    == "system:serviceaccount:default:robot")
            // The pod answers on its address from its node (ping: an independent witness).
            #expect(try cluster.node(1).run(["ping", "-c", "1", "-W", "2", ip]).succeeded)
            // Limits are the container's cgroup's.
            let uid = cluster.podField("app", "{.metadata.uid}")
            #expect(Self.cgroupValue(cluster, node: 1, podUID: uid, container: "app", v1: ("memory", "memory.limit_in_bytes"), v2: "memory.max") == "67108864")
            let quota = Self.cgroupValue(cluster, node: 1, podUID: uid, container: "app", v1: ("cpu", "cpu.cfs_quota_us"), v2: "cpu.max")
            #expect(quota == "50000" || quota == "50000 100000")
            #expect(Self.cgroupValue(cluster, node: 1, podUID: uid, container: "app", v1: ("cpu", "cpu.shares"), v2: "cpu.weight") != nil)
            // `kubectl logs -f` streams until the container ends; deletion is graceful (TERM, trap).
            let follow = Process()
            follow.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            follow.arguments = ["netns", "exec", cluster.fabric.name, "kubectl", "--kubeconfig", cluster.api.kubeconfig, "logs", "-f", "app"]
            let pipe = Pipe()
            follow.standardOutput = pipe
            try follow.run()
            let started = Date()
            try cluster.kubectlOK(["delete", "pod", "app"])
            #expect(Date().timeIntervalSince(started) < 5, "graceful deletion of a pod that stops on TERM should be quick")
            follow.waitUntilExit()
            let followed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(followed.hasSuffix("stopping\n"), "logs -f did not see the TERM handler:\n\(followed)")
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }

    @Test func probesRestartsBackoffAndFailures() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try cluster.kubectlOK(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: live}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: c
                    image: busybox
                    command: ["sh", "-c", "echo instance-$(cat /proc/sys/kernel/random/uuid); touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600"]
                    livenessProbe: {exec: {command: [cat, /tmp/healthy]}, periodSeconds: 1, failureThreshold: 2}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: slow}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: c
                    image: busybox
                    command: ["sh", "-c", "sleep 3; touch /tmp/started; sleep 3600"]
                    startupProbe: {exec: {command: [test, -f, /tmp/started]}, periodSeconds: 1, failureThreshold: 20}
                    livenessProbe: {exec: {command: [test, -f, /tmp/started]}, periodSeconds: 1, failureThreshold: 1}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: crash}
                spec:
                  containers: [{name: c, image: busybox, command: ["sh", "-c", "echo crashing; exit 3"]}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: once}
                spec:
                  restartPolicy: Never
                  containers: [{name: c, image: busybox, command: ["sh", "-c", "echo done"]}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: ghost}
                spec:
                  containers: [{name: c, image: example.com/not/here:1}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: unconfigured}
                spec:
                  containers:
                  - {name: c, image: busybox, command: [sleep, "3600"], env: [{name: X, valueFrom: {configMapKeyRef: {name: missing, key: k}}}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: rw, labels: {app: rw}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: web
                    image: busybox
                    command: ["sh", "-c", "sleep 3; mkdir -p /www; echo ok > /www/index.html; exec httpd -f -p 8080 -h /www"]
                    ports: [{name: http, containerPort: 8080}]
                    readinessProbe: {httpGet: {path: /, port: http}, periodSeconds: 1}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: rw}
                spec: {selector: {app: rw}, ports: [{port: 80, targetPort: 8080}]}
                """)
            // Readiness gates the Service's endpoints: listed not ready first, then ready.
            let readiness = "{.items[0].endpoints[0].conditions.ready}"
            try waitFor(cluster, "rw listed not ready") {
                (try cluster.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=rw", "-o", "jsonpath=\(readiness)"]).stdout) == "false"
            }
            try waitFor(cluster, "rw ready") {
                (try cluster.kubectl(["get", "endpointslices", "-l", "kubernetes.io/service-name=rw", "-o", "jsonpath=\(readiness)"]).stdout) == "true"
            }
            #expect(cluster.podField("rw", "{.status.containerStatuses[0].restartCount}") == "0")
            // A failing liveness probe restarts the container; --previous shows the old instance.
            try waitFor(cluster, "live restarted") { Int(cluster.podField("live", "{.status.containerStatuses[0].restartCount}")) ?? 0 >= 1 }
            let events = try cluster.kubectlOK(["get", "events", "--field-selector", "involvedObject.name=live"])
            #expect(events.contains("Container c failed liveness probe, will be restarted"))
            #expect(events.contains("Liveness probe failed"))
            try waitFor(cluster, "live running again") { cluster.podField("live", "{.status.containerStatuses[0].state.running.startedAt}") != "" }
            let previous = try cluster.kubectlOK(["logs", "live", "--previous"])
            let current = try cluster.kubectlOK(["logs", "live"])
            #expect(previous.hasPrefix("instance-") && current.hasPrefix("instance-") && previous != current)
            // A startup probe holds the liveness probe back until the container has started.
            try waitFor(cluster, "slow started") { cluster.podField("slow", "{.status.containerStatuses[0].started}") == "true" }
            #expect(cluster.podField("slow", "{.status.containerStatuses[0].restartCount}") == "0")
            try waitFor(cluster, "slow ready") { cluster.podField("slow", "{.status.conditions[?(@.type==\"Ready\")].status}") == "True" }
            // A crashing container: restarted at once, then after a back-off (CrashLoopBackOff).
            try waitFor(cluster, "crash in back-off") {
                cluster.podField("crash", "{.status.containerStatuses[0].state.waiting.reason}") == "CrashLoopBackOff"
                    && cluster.podField("crash", "{.status.containerStatuses[0].lastState.terminated.exitCode}") == "3"
            }
            let restarts = Int(cluster.podField("crash", "{.status.containerStatuses[0].restartCount}")) ?? 99
            #expect((1...2).contains(restarts), "back-off is 10 s after the first restart: \(restarts) restarts so far")
            #expect(try cluster.kubectlOK(["logs", "crash", "--previous"]) == "crashing\n")
            #expect(try cluster.kubectlOK(["get", "pod", "crash"]).contains("CrashLoopBackOff"))
            // restartPolicy Never: Succeeded, and its address is given back while the object stays.
            try waitFor(cluster, "once Succeeded") { cluster.podField("once", "{.status.phase}") == "Succeeded" }
            #expect(cluster.podField("once", "{.status.containerStatuses[0].state.terminated.reason}") == "Completed")
            #expect(try cluster.kubectlOK(["logs", "once"]) == "done\n")
            // What cannot start says why.
            try waitFor(cluster, "ghost's image error") {
                ["ErrImagePull", "ImagePullBackOff"].contains(cluster.podField("ghost", "{.status.containerStatuses[0].state.waiting.reason}"))
            }
            #expect(cluster.podField("ghost", "{.status.containerStatuses[0].state.waiting.message}").contains("example.com/not/here:1"))
            try waitFor(cluster, "unconfigured's config error") {
                cluster.podField("unconfigured", "{.status.containerStatuses[0].state.waiting.reason}") == "CreateContainerConfigError"
            }
            #expect(cluster.podField("unconfigured", "{.status.containerStatuses[0].state.waiting.message}") == "configmap \"missing\" not found")
            try cluster.kubectlOK(["delete", "pods", "--all", "--wait=true", "--timeout=60s"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }

    @Test func aRestartedAgentAdoptsItsPodsAndCleansUpWhatWasDeleted() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            for name in ["keep", "forced", "graceful"] {
                try cluster.kubectlOK(["run", name, "--image=busybox", "--overrides={\"spec\":{\"terminationGracePeriodSeconds\":1}}",
                                       "--", "sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"])
            }
            try waitFor(cluster, "three pods running") {
                ["keep", "forced", "graceful"].allSatisfy { cluster.podField($0, "{.status.phase}") == "Running" }
            }
            let keepUID = cluster.podField("keep", "{.metadata.uid}")
            let runc = ["runc", "--root", cluster.kubeletRoot(1) + "/runc"]
            let pidBefore = try Command.check(runc + ["state", "\(keepUID)-keep-0"])
            cluster.stop("kubelet1")
            try cluster.kubectlOK(["delete", "pod", "forced", "--force", "--grace-period=0"])
            try cluster.kubectlOK(["delete", "pod", "graceful", "--wait=false"])
            try cluster.startKubelet(1)
            // The teardown is asynchronous (container, then object, then address and
            // directory): wait for all of it, not only its first steps.
            try waitFor(cluster, "graceful and forced gone") {
                let left = try cluster.leftovers(1)
                return try cluster.kubectl(["get", "pod", "graceful"]).stderr.contains("NotFound")
                    && left.filter { $0.hasPrefix("runc") }.count == 1
                    && left.filter { $0.hasPrefix("reserved address") }.count == 1
                    && left.filter { $0.hasPrefix("pod directory") }.count == 1
            }
            // The kept pod's container is the same process, never restarted.
            let pidAfter = try Command.check(runc + ["state", "\(keepUID)-keep-0"])
            func pid(_ state: String) -> Int? {
                (try? JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])?["pid"] as? Int
            }
            #expect(pid(pidBefore) != nil && pid(pidBefore) == pid(pidAfter))
            #expect(cluster.podField("keep", "{.status.containerStatuses[0].restartCount}") == "0")
            #expect(cluster.podField("keep", "{.status.phase}") == "Running")
            let left = try cluster.leftovers(1)
            #expect(left.filter { $0.hasPrefix("reserved address") }.count == 1, "\(left)")
            #expect(left.filter { $0.hasPrefix("pod directory") } == ["pod directory \(keepUID)"])
            // Its logs are still served, and deleting it leaves nothing.
            try cluster.kubectlOK(["delete", "pod", "keep"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
            #expect(try !Command.check(["ip", "netns", "list"]).contains("cni-\(keepUID)"))
        }
    }

    @Test func hostPortThroughPortmap() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try cluster.kubectlOK(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: hp}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: web
                    image: busybox
                    command: ["sh", "-c", "mkdir -p /www; echo via-hostport > /www/index.html; exec httpd -f -p 8080 -h /www"]
                    ports: [{containerPort: 8080, hostPort: 30888}]
                """)
            try waitFor(cluster, "hp running") { cluster.podField("hp", "{.status.phase}") == "Running" }
            // From the fabric (another host on the underlay) to the node's address and the host port.
            try waitFor(cluster, "the host port answers", seconds: 15) {
                (try cluster.fabric.run(["curl", "-s", "-m", "2", "http://198.18.0.11:30888/"])).stdout == "via-hostport\n"
            }
            try cluster.kubectlOK(["delete", "pod", "hp"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }

    @Test func anImportedImageRuns() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            // A `docker save` archive of one layer: a static busybox and a file, with an entrypoint.
            let work = cluster.dir + "/image-src"
            try FileManager.default.createDirectory(atPath: work + "/layer/bin", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: work + "/layer/bin/busybox")
            try "from the imported image\n".write(toFile: work + "/layer/hello.txt", atomically: true, encoding: .utf8)
            try Command.check(["tar", "-C", work + "/layer", "-cf", work + "/layer.tar", "."])
            let config = #"{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/bin/busybox","sh","-c"],"Cmd":["cat /hello.txt; echo WD=$(pwd); sleep 3600"],"Env":["PATH=/bin"],"WorkingDir":"/bin"},"rootfs":{"type":"layers","diff_ids":[]}}"#
            try config.write(toFile: work + "/config.json", atomically: true, encoding: .utf8)
            try #"[{"Config":"config.json","RepoTags":["example.com/hello:1"],"Layers":["layer.tar"]}]"#
                .write(toFile: work + "/manifest.json", atomically: true, encoding: .utf8)
            try Command.check(["tar", "-C", work, "-cf", work + "/hello.tar", "manifest.json", "config.json", "layer.tar"])
            let imported = try Command.check([productsDirectory() + "/netplane", "image", "import", "--image-dir", cluster.dir + "/images", work + "/hello.tar"])
            #expect(imported.contains("example.com/hello:1"))
            #expect(try Command.check([productsDirectory() + "/netplane", "image", "ls", "--image-dir", cluster.dir + "/images"]).contains("example.com/hello:1"))
            try cluster.kubectlOK(["run", "hello", "--image=example.com/hello:1"])
            try waitFor(cluster, "hello's log") { (try cluster.kubectl(["logs", "hello"]).stdout).contains("WD=") }
            #expect(try cluster.kubectlOK(["logs", "hello"]) == "from the imported image\nWD=/bin\n")
            try cluster.kubectlOK(["delete", "pod", "hello", "--grace-period=1"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }

    @Test func aDeploymentOverThreeNodesAnswersOnItsClusterIP() throws {
        try NodeCluster.with(nodes: 3, network: .flannel) { cluster in
            for i in 1...3 { try cluster.startProxy(i) }
            try cluster.kubectlOK(["apply", "-f", "-"], stdin: """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: hello}
                spec:
                  replicas: 10
                  selector: {matchLabels: {app: hello}}
                  template:
                    metadata: {labels: {app: hello}}
                    spec:
                      terminationGracePeriodSeconds: 1
                      containers:
                      - name: web
                        image: busybox
                        command: ["sh", "-c", "mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 8080 -h /www"]
                        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
                ---
                apiVersion: v1
                kind: Service
                metadata: {name: hello}
                spec: {selector: {app: hello}, ports: [{port: 80, targetPort: 8080}]}
                """)
            try waitFor(cluster, "10 ready replicas", seconds: 90) {
                cluster.kubectlField(["get", "deployment", "hello", "-o", "jsonpath={.status.readyReplicas}"]) == "10"
            }
            let nodes = Set(cluster.kubectlField(["get", "pods", "-l", "app=hello", "-o", "jsonpath={.items[*].spec.nodeName}"]).split(separator: " "))
            #expect(nodes.count == 3, "the scheduler spreads the replicas over the three nodes: \(nodes)")
            let clusterIP = cluster.kubectlField(["get", "service", "hello", "-o", "jsonpath={.spec.clusterIP}"])
            // Readiness is judged by each pod's own node; reaching it from the others needs
            // every flanneld to have programmed the other nodes' subnets, which a busy machine
            // may finish a little later: wait for each pod to answer from each node directly,
            // then judge the Service strictly.
            let podIPs = cluster.kubectlField(["get", "pods", "-l", "app=hello", "-o", "jsonpath={.items[*].status.podIP}"]).split(separator: " ")
            try waitFor(cluster, "every pod reachable from every node over the overlay", seconds: 30) {
                try (1...3).allSatisfy { i in
                    try podIPs.allSatisfy { ip in try cluster.node(i).run(["curl", "-s", "-m", "1", "http://\(ip):8080/"]).succeeded }
                }
            }
            for i in 1...3 {
                var answers = Set<String>()
                for _ in 0..<12 {
                    let reply = try cluster.node(i).run(["curl", "-s", "-m", "3", "http://\(clusterIP)/"])
                    #expect(reply.succeeded, "node\(i) -> \(clusterIP): \(reply.stderr)")
                    answers.insert(reply.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                #expect(answers.count >= 2 && answers.allSatisfy { $0.hasPrefix("hello-") }, "node\(i) saw \(answers)")
            }
            try cluster.kubectlOK(["delete", "deployment", "hello"])
            try waitFor(cluster, "nothing left on any node", seconds: 60) { try (1...3).allSatisfy { try cluster.leftovers($0).isEmpty } }
        }
    }
}

extension NodeCluster {
    /// kubectl's stdout, "" on failure.
    func kubectlField(_ args: [String]) -> String { (try? kubectl(args).stdout) ?? "" }
}

/// `kubectl top`: metrics.k8s.io served by the API server from the node agents' summaries.
@Suite(.serialized) struct KubectlTopRootTests {
    @Test func topShowsWhatAPodAndItsNodeUse() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try cluster.kubectlOK(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: burner, labels: {app: burner}}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                  - name: spin
                    image: busybox
                    command: ["sh", "-c", "while true; do :; done"]
                    resources: {limits: {cpu: 300m, memory: 32Mi}}
                """)
            #expect(eventually(seconds: 30) { cluster.podField("burner", "{.status.phase}") == "Running" })
            // Two readings 10 s apart make a rate; the cgroup's quota caps it at 300m.
            var top = ""
            #expect(eventually(seconds: 40) {
                top = (try? cluster.kubectl(["top", "pod", "burner", "--no-headers"]).stdout) ?? ""
                guard let cpu = top.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first,
                      cpu.hasSuffix("m"), let milli = Int(cpu.dropLast()) else { return false }
                return milli >= 150
            }, "kubectl top pod burner: \(top)")
            let fields = top.split(whereSeparator: \.isWhitespace)
            #expect(fields.first == "burner" && (Int(fields[1].dropLast()) ?? 0) <= 330, "\(top)")
            #expect(fields.count == 3 && fields[2].hasSuffix("Mi"), "\(top)")
            let containers = try cluster.kubectlOK(["top", "pod", "-l", "app=burner", "--containers", "--no-headers"])
            #expect(containers.hasPrefix("burner") && containers.contains("spin"), "\(containers)")
            let node = try cluster.kubectlOK(["top", "node", "--no-headers"])
            #expect(node.hasPrefix("node1") && node.contains("%"), "\(node)")
            let missing = try cluster.kubectl(["top", "pod", "nope"])
            #expect(!missing.succeeded && missing.stderr.contains("not found"), "\(missing.stderr)")
            try cluster.kubectlOK(["delete", "pod", "burner"])
        }
    }
}
