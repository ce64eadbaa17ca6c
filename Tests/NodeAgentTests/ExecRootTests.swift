import Foundation
import NetplaneTestSupport
import Testing

/// `kubectl exec` with real kubectl (1.32: WebSocket, subprotocol v5.channel.k8s.io), the API
/// server's relay, the node agent's `runc exec` and real containers (NodeCluster). Needs root.
@Suite(.serialized) struct ExecRootTests {
    func waitFor(_ cluster: NodeCluster, _ what: String, seconds: Double = 30, _ condition: () throws -> Bool) throws {
        guard try eventually(seconds: seconds, condition) else {
            let pods = (try? cluster.kubectl(["get", "pods", "-A", "-o", "wide"]).stdout) ?? ""
            Issue.record("timed out waiting for \(what)\n\(pods)\n--- kubelet1:\n\(cluster.log("kubelet1").suffix(3000))")
            throw CommandFailed(command: [what], result: CommandResult(status: -1, stdout: "", stderr: "timed out"))
        }
    }

    /// A pod of two long-running busybox containers, Ready.
    func startShellPod(_ cluster: NodeCluster, _ name: String) throws {
        try cluster.kubectlOK(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Pod
            metadata: {name: \(name)}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: main
                image: busybox
                command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
                env: [{name: GREETING, value: hello}]
              - name: side
                image: busybox
                command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
            """)
        try waitFor(cluster, "\(name) ready") {
            cluster.podField(name, "{.status.containerStatuses[*].ready}") == "true true"
        }
    }

    /// kubectl in the fabric namespace with extra environment (`kubectl exec` there talks to
    /// the API server, which relays to node1's agent).
    func kubectl(_ cluster: NodeCluster, env: [String], _ args: [String]) throws -> CommandResult {
        try Command.run(["ip", "netns", "exec", cluster.fabric.name, "env"] + env + ["kubectl", "--kubeconfig", cluster.api.kubeconfig] + args)
    }

    /// A shell command line run under `script`, which gives kubectl the terminal `-t` needs
    /// (kubectl drops the TTY when its stdin is not one). The terminal is 123x45; `feed` is a
    /// shell pipeline whose output is typed into it (kept open for a few seconds, since script
    /// ends the session when its input ends).
    func underTerminal(_ cluster: NodeCluster, _ commandLine: String, feed: String = "sleep 6") throws -> CommandResult {
        let file = cluster.dir + "/tty-\(UUID().uuidString).sh"
        try """
            stty cols 123 rows 45
            export KUBECONFIG=\(cluster.api.kubeconfig)
            \(commandLine)
            """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try cluster.fabric.run(["sh", "-c", "(\(feed)) | script -qec 'sh \(file)' /dev/null"])
    }

    @Test func execRunsACommandWithItsStreamsAndExitCode() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try startShellPod(cluster, "shell")
            // stdout and stderr apart, the exit code as kubectl's.
            let result = try cluster.kubectl(["exec", "shell", "-c", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3"])
            #expect(result.status == 3)
            #expect(result.stdout == "out\n")
            #expect(result.stderr.contains("err\n"), "\(result.stderr)")
            #expect(result.stderr.contains("command terminated with exit code 3"), "\(result.stderr)")
            #expect(try cluster.kubectl(["exec", "shell", "-c", "main", "--", "sh", "-c", "kill -9 $$"]).status == 137)
            // The container's environment; arguments with spaces and shell characters arrive whole.
            #expect(try cluster.kubectlOK(["exec", "shell", "-c", "main", "--", "sh", "-c", "echo \"$GREETING\" \"$1\"", "x", "a b&c=d +%"])
                == "hello a b&c=d +%\n")
            // The other container, by name (it shares the pod's hostname).
            #expect(try cluster.kubectlOK(["exec", "shell", "-c", "side", "--", "hostname"]) == "shell\n")
            // stdin to its end: kubectl sends v5's CLOSE for stream 0, and cat ends.
            #expect(try cluster.kubectlOK(["exec", "-i", "shell", "-c", "main", "--", "cat"], stdin: "hello\nworld\n") == "hello\nworld\n")
            // Larger than a message (client-go writes 32 KiB a message) both ways.
            let big = String(repeating: "0123456789abcdef", count: 1 << 16)
            #expect(try cluster.kubectlOK(["exec", "-i", "shell", "-c", "main", "--", "wc", "-c"], stdin: big)
                .trimmingCharacters(in: .whitespacesAndNewlines) == "\(big.utf8.count)")
            #expect(try cluster.kubectlOK(["exec", "shell", "-c", "main", "--", "sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x"]).utf8.count
                == 5_000_000)
            // A command that does not read its stdin does not stall the session (`yes` writes on).
            #expect(try cluster.fabric.run(["sh", "-c", "yes | kubectl --kubeconfig \(cluster.api.kubeconfig) exec -i shell -c main -- true"])
                .status == 0)
            try cluster.kubectlOK(["delete", "pod", "shell"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }

    @Test func execRefusalsSayWhy() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try startShellPod(cluster, "shell")
            // The WebSocket upgrade is refused; kubectl retries with SPDY and prints that answer.
            let invalid = try cluster.kubectl(["exec", "shell", "-c", "nope", "--", "true"])
            #expect(invalid.status != 0)
            #expect(invalid.stderr.contains("container nope is not valid for pod shell"), "\(invalid.stderr)")
            let attach = try cluster.kubectl(["attach", "shell", "-c", "main"])
            #expect(attach.status != 0)
            #expect(attach.stderr.contains("pods/attach is not supported"), "\(attach.stderr)")
            let spdy = try kubectl(cluster, env: ["KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"], ["exec", "shell", "-c", "main", "--", "true"])
            #expect(spdy.status != 0)
            #expect(spdy.stderr.contains("SPDY is not supported"), "\(spdy.stderr)")
            // A container that is not running: the agent says so on the error stream.
            try cluster.kubectlOK(["apply", "-f", "-"], stdin: """
                apiVersion: v1
                kind: Pod
                metadata: {name: done}
                spec:
                  restartPolicy: Never
                  containers:
                  - {name: once, image: busybox, command: ["sh", "-c", "sleep 3600"]}
                  - {name: quick, image: busybox, command: ["true"]}
                """)
            try waitFor(cluster, "quick terminated") {
                cluster.podField("done", "{.status.containerStatuses[?(@.name==\"quick\")].state.terminated.reason}") == "Completed"
            }
            let stopped = try cluster.kubectl(["exec", "done", "-c", "quick", "--", "true"])
            #expect(stopped.status != 0)
            #expect(stopped.stderr.contains("container \"quick\" in pod \"done\" is not running"), "\(stopped.stderr)")
            try cluster.kubectlOK(["delete", "pod", "shell", "done", "--grace-period=1"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }

    @Test func execWithATerminal() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try startShellPod(cluster, "term")
            // A terminal of the client's size from the start, TERM=xterm, the exit code.
            let tty = try underTerminal(cluster, "kubectl exec -it term -c main -- sh -c 'tty; stty size; echo TERM=$TERM; exit 5'")
            #expect(tty.status == 5, "\(tty.stdout)\(tty.stderr)")
            #expect(tty.stdout.contains("/dev/pts/"), "\(tty.stdout)")
            #expect(tty.stdout.contains("45 123"), "\(tty.stdout)")
            #expect(tty.stdout.contains("TERM=xterm"), "\(tty.stdout)")
            // Typed lines reach an interactive shell (carriage returns, as a terminal sends
            // them), its answers come back, and `exit 7` ends the session with 7.
            let shell = try underTerminal(cluster, "kubectl exec -it term -c main -- sh",
                                          feed: "sleep 2; printf 'echo hi-$((1+2))\\r'; sleep 1; printf 'exit 7\\r'; sleep 3")
            #expect(shell.status == 7, "\(shell.stdout)\(shell.stderr)")
            #expect(shell.stdout.contains("hi-3"), "\(shell.stdout)")
            // A resize while the command runs reaches the container's terminal.
            let resized = try underTerminal(cluster, """
                (sleep 1; stty cols 50 rows 20 < /dev/tty) &
                kubectl exec -it term -c main -- sh -c 'stty size; sleep 3; stty size'
                """)
            #expect(resized.stdout.contains("45 123") && resized.stdout.contains("20 50"), "\(resized.stdout)")
            try cluster.kubectlOK(["delete", "pod", "term"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }

    @Test func aClientThatGoesAwayHangsItsCommandUp() throws {
        try NodeCluster.with(nodes: 1) { cluster in
            try startShellPod(cluster, "hup")
            let exec = Process()
            exec.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            exec.arguments = ["netns", "exec", cluster.fabric.name, "kubectl", "--kubeconfig", cluster.api.kubeconfig,
                              "exec", "hup", "-c", "main", "--", "sh", "-c", "trap 'touch /tmp/hung-up; exit 1' HUP; sleep 3600 & wait"]
            exec.standardOutput = FileHandle.nullDevice
            exec.standardError = FileHandle.nullDevice
            try exec.run()
            try waitFor(cluster, "the command running") {
                (try cluster.kubectl(["exec", "hup", "-c", "main", "--", "ps"]).stdout).contains("sleep 3600")
            }
            kill(exec.processIdentifier, SIGKILL)
            exec.waitUntilExit()
            try waitFor(cluster, "SIGHUP in the container", seconds: 15) {
                try cluster.kubectl(["exec", "hup", "-c", "main", "--", "test", "-e", "/tmp/hung-up"]).status == 0
            }
            try cluster.kubectlOK(["delete", "pod", "hup"])
            try waitFor(cluster, "nothing left on node1") { try cluster.leftovers(1).isEmpty }
        }
    }
}
