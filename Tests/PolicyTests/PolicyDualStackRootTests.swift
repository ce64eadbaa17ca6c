import Foundation
import NetplaneTestSupport
import Testing

/// `netplane policy` on one node whose pods are dual-stack and share a bridge (IPv4 and
/// IPv6 both filtered), how fast a change takes effect, what `trace` says, a restart that
/// keeps the pods protected, and what it refuses. Pods are namespaces on a bridge in the node
/// namespace, with Pod objects as a kubelet would report them. Needs root.
@Suite(.serialized) struct PolicyDualStackRootTests {
    final class Bed {
        let api: APIServerProcess
        let node: TestNamespace
        var pods: [String: TestNamespace] = [:]
        var servers: [ServerProcess] = []
        var daemon: Process?
        let dir: String

        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-policy6-\(UUID().uuidString)").path
            api = try APIServerProcess(dataDir: dir + "/api")
            node = try TestNamespace.create("node")
            try node.check(["ip", "link", "add", "cni0", "type", "bridge"])
            try node.check(["ip", "addr", "add", "10.88.1.1/24", "dev", "cni0"])
            try node.check(["ip", "-6", "addr", "add", "fd00:88:1::1/64", "dev", "cni0", "nodad"])
            try node.check(["ip", "link", "set", "cni0", "up"])
            try node.check(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])
        }

        /// A pod namespace on the bridge with both families, and its Pod object (status as a
        /// kubelet writes it).
        func addPod(_ name: String, index: Int, labels: String) throws {
            let pod = try TestNamespace.create("pod")
            pods[name] = pod
            try node.check(["ip", "link", "add", "v\(index)", "type", "veth", "peer", "name", "eth0", "netns", pod.name])
            try node.check(["ip", "link", "set", "v\(index)", "master", "cni0", "up"])
            try pod.check(["ip", "addr", "add", "10.88.1.\(index + 10)/24", "dev", "eth0"])
            try pod.check(["ip", "-6", "addr", "add", "fd00:88:1::\(index + 10)/64", "dev", "eth0", "nodad"])
            try pod.check(["ip", "link", "set", "eth0", "up"])
            try pod.check(["ip", "link", "set", "lo", "up"])
            _ = try api.kubectl(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: \(name), namespace: default, labels: \(labels)}
                spec: {nodeName: node1, containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]}
                """)
            let status = #"{"status":{"phase":"Running","podIP":"10.88.1.\#(index + 10)","podIPs":[{"ip":"10.88.1.\#(index + 10)"},{"ip":"fd00:88:1::\#(index + 10)"}]}}"#
            let patched = try api.kubectl(["patch", "pod", name, "--subresource=status", "--type=merge", "-p", status])
            guard patched.succeeded else { throw CommandFailed(command: ["kubectl", "patch"], result: patched) }
            servers.append(try ServerProcess.start(in: pod, port: 8080, name: name, bind: "::"))
        }

        func startDaemon() throws {
            daemon = try startLogged(productsDirectory() + "/netplane", ["policy", "--kubeconfig", api.kubeconfig(daemon: "policy"), "--node-name", "node1",
                                                                     "--netns", node.path, "--metrics-bind", ""], log: dir + "/policy.log")
        }

        func stopDaemon() {
            guard let daemon, daemon.isRunning else { return }
            kill(daemon.processIdentifier, SIGTERM)
            daemon.waitUntilExit()
        }

        var log: String { (try? String(contentsOfFile: dir + "/policy.log", encoding: .utf8)) ?? "" }

        /// Whether `from` gets an answer from `address` on 8080 (curl, one second at most).
        func reaches(_ from: String, _ address: String) throws -> Bool {
            let host = address.contains(":") ? "[\(address)]" : address
            return try pods[from]!.run(["curl", "-s", "-m", "1", "-o", "/dev/null", "http://\(host):8080/"]).succeeded
        }

        func stop() {
            stopDaemon()
            for server in servers { server.stop() }
            api.stop()
            for pod in pods.values { pod.remove() }
            node.remove()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test func bothFamiliesOnOneBridgeAChangeWithinMillisecondsTraceAndRestart() throws {
        let bed = try Bed()
        defer { bed.stop() }
        try bed.addPod("web", index: 1, labels: "{app: web}")
        try bed.addPod("client", index: 2, labels: "{app: client}")
        try bed.addPod("other", index: 3, labels: "{app: other}")
        try bed.startDaemon()
        #expect(eventually(seconds: 10) { bed.log.contains("full sync") }, "\(bed.log)")
        // The daemon turned on br_netfilter's IP hooks for bridged frames in the node.
        #expect(try bed.node.check(["sysctl", "-n", "net.bridge.bridge-nf-call-ip6tables"]).trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        for from in ["client", "other"] {
            #expect(try bed.reaches(from, "10.88.1.11"))
            #expect(try bed.reaches(from, "fd00:88:1::11"))
        }

        // web accepts only app=client, on its named port; measured from kubectl's write to the
        // first refused probe (API, watch and the daemon's pass together).
        let applied = Date()
        let created = try bed.api.kubectl(["apply", "-f", "-"], stdin: """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: web-from-client, namespace: default}
            spec:
              podSelector: {matchLabels: {app: web}}
              ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}]}]
            """)
        #expect(created.succeeded, "\(created.stderr)")
        var refused = false
        while Date().timeIntervalSince(applied) < 5 {
            if try !bed.pods["other"]!.run(["curl", "-s", "-m", "0.2", "-o", "/dev/null", "http://10.88.1.11:8080/"]).succeeded { refused = true; break }
        }
        let took = Date().timeIntervalSince(applied)
        #expect(refused, "other still reaches web 5 s after the policy")
        #expect(took < 1.0, "the policy took \(took) s to take effect")
        // The daemon's own share: its pass for this change, as it logs it.
        let pass = bed.log.split(separator: "\n").last { $0.contains("changed=policy/default/web-from-client") }
        let seconds = pass.flatMap { $0.split(separator: " ").first { $0.hasPrefix("took=") } }.flatMap { Double($0.dropFirst(5)) }
        #expect((seconds ?? 1) < 0.1, "the daemon's pass: \(pass ?? "not logged")")

        #expect(try bed.reaches("client", "10.88.1.11"))
        #expect(try bed.reaches("client", "fd00:88:1::11"))
        #expect(try !bed.reaches("other", "10.88.1.11"))
        #expect(try !bed.reaches("other", "fd00:88:1::11"))
        // Not selected: still open in both families.
        #expect(try bed.reaches("other", "fd00:88:1::12"))
        // Refused with ICMP "administratively prohibited", not left to time out.
        let curl = try bed.pods["other"]!.run(["curl", "-sS", "-m", "3", "http://[fd00:88:1::11]:8080/"])
        #expect(curl.stderr.contains("No route to host") || curl.stderr.contains("Couldn't connect"), "\(curl.stderr)")

        // trace: the same answer, with the reason, and the kernel's entries.
        let binary = productsDirectory() + "/netplane"
        let denied = try Command.run([binary, "policy", "trace", "--kubeconfig", bed.api.kubeconfig, "--from", "default/other",
                                      "--to", "default/web", "--port", "8080/TCP", "--kernel", "--netns", bed.node.path])
        #expect(denied.status == 1)
        #expect(denied.stdout.contains("DENIED"))
        #expect(denied.stdout.contains("default/web-from-client ingress[0]: no peer matches default/other"), "\(denied.stdout)")
        #expect(denied.stdout.contains("map ingress 10.88.1.11 : jump in-"), "\(denied.stdout)")
        let allowed = try Command.run([binary, "policy", "trace", "--kubeconfig", bed.api.kubeconfig, "--from", "fd00:88:1::12",
                                       "--to", "default/web", "--port", "8080", "--kernel", "--netns", bed.node.path])
        #expect(allowed.status == 0, "\(allowed.stdout)\(allowed.stderr)")
        #expect(allowed.stdout.contains("allowed by default/web-from-client ingress[0]"), "\(allowed.stdout)")
        #expect(allowed.stdout.contains("element pod-peers { fd00:88:1::12 . #"), "\(allowed.stdout)")
        let bad = try Command.run([binary, "policy", "trace", "--kubeconfig", bed.api.kubeconfig, "--from", "default/nope",
                                   "--to", "default/web", "--port", "80/ICMP"])
        #expect(bad.status != 0 && bad.stderr.contains("--port: protocol must be TCP, UDP or SCTP, got ICMP"), "\(bad.stderr)")

        // A restart keeps the rules in place meanwhile and takes them over.
        bed.stopDaemon()
        #expect(try !bed.reaches("other", "10.88.1.11"))
        #expect(try bed.reaches("client", "10.88.1.11"))
        try bed.startDaemon()
        #expect(eventually(seconds: 10) { bed.log.components(separatedBy: "full sync").count > 2 })
        #expect(try !bed.reaches("other", "10.88.1.11"))
        #expect(try bed.reaches("client", "fd00:88:1::11"))

        // Deleting the policy opens web again, and its chain goes.
        _ = try bed.api.kubectl(["delete", "networkpolicy", "web-from-client"])
        #expect(eventually(seconds: 5) { (try? bed.reaches("other", "fd00:88:1::11")) == true })
        let tables = try bed.node.check(["nft", "list", "table", "ip", "netplane-policy"])
        #expect(!tables.contains("jump in-"), "\(tables)")
    }
}
