import Foundation
import NetplaneTestSupport

/// The proxy tests' little cluster: a node namespace, three pod namespaces (pod N is
/// 10.244.N.2/24 on a veth whose node side is 10.244.N.1) running HTTP servers on 8080 that
/// answer their own names, an outside namespace on the underlay
/// (node 198.18.0.11, outside 198.18.0.50, which routes 203.0.113.0/24 to the node), every
/// pod link also carrying IPv6 (pod N fd00:244:N::2/64, the node fd00:244:N::1);
/// runs `body(node, pods, outside)`. `echo`: servers answer with the client's address too.
func withProxyTestbed(echo: Bool = false, _ body: (TestNamespace, [TestNamespace], TestNamespace) throws -> Void) throws {
    try TestNamespace.with(5, label: "proxy") { namespaces in
        let node = namespaces[0], outside = namespaces[1], pods = Array(namespaces[2...])
        try node.check(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for (i, pod) in pods.enumerated() {
            let n = i + 1
            try link(node, "v\(n)", "10.244.\(n).1/24", to: pod, "10.244.\(n).2/24")
            try Command.check(["ip", "-n", pod.name, "route", "add", "default", "via", "10.244.\(n).1"])
            // IPv6 beside it: fd00:244:N::2/64, the node fd00:244:N::1 (no DAD: usable at once).
            try Command.check(["ip", "-n", node.name, "addr", "add", "fd00:244:\(n)::1/64", "dev", "v\(n)", "nodad"])
            try Command.check(["ip", "-n", pod.name, "addr", "add", "fd00:244:\(n)::2/64", "dev", "eth0", "nodad"])
            try Command.check(["ip", "-n", pod.name, "-6", "route", "add", "default", "via", "fd00:244:\(n)::1"])
        }
        try node.check(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        try link(node, "up0", "198.18.0.11/24", to: outside, "198.18.0.50/24")
        try Command.check(["ip", "-n", outside.name, "route", "add", "203.0.113.0/24", "via", "198.18.0.11"])
        // The node needs a route for service addresses before its OUTPUT hook DNATs them.
        try Command.check(["ip", "-n", node.name, "route", "add", "10.96.0.0/16", "via", "10.244.1.2"])
        try Command.check(["ip", "-n", node.name, "-6", "route", "add", "fd00:96::/112", "via", "fd00:244:1::2"])
        let servers = try pods.enumerated().map { i, pod in
            try ServerProcess.start(in: pod, port: 8080, name: "pod\(i + 1)", echoClient: echo, bind: echo ? "0.0.0.0" : "::")
        }
        defer { servers.forEach { $0.stop() } }
        try body(node, pods, outside)
    }
}


/// A veth from `node` (`name`, with `address`) to `peer` (eth0, with `peerAddress`), both up.
private func link(_ node: TestNamespace, _ name: String, _ address: String,
                  to peer: TestNamespace, _ peerAddress: String) throws {
    try Command.check(["ip", "-n", node.name, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", peer.name])
    try Command.check(["ip", "-n", node.name, "addr", "add", address, "dev", name])
    try Command.check(["ip", "-n", node.name, "link", "set", name, "up"])
    try Command.check(["ip", "-n", peer.name, "addr", "add", peerAddress, "dev", "eth0"])
    try Command.check(["ip", "-n", peer.name, "link", "set", "eth0", "up"])
}

/// `count` requests to an echo server (`withProxyTestbed(echo: true)`) from `ns`: which pod
/// answered each, and the client address it saw.
func echoReplies(from ns: TestNamespace, _ url: String, _ count: Int) throws -> [(pod: String, client: String)] {
    try (0..<count).map { _ in
        let words = try ns.run(["curl", "-s", "--max-time", "3", url]).stdout.split(separator: " ")
        return (words.first.map(String.init) ?? "", words.last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? "")
    }
}

/// A python script running in `ns` until the test kills it (SIGKILL: Foundation's children may
/// ignore SIGTERM).
final class NamespaceScript {
    let process = Process()

    init(in ns: TestNamespace, _ script: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", ns.name, "python3", "-c", script]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// A TCP server echoing whatever each connection sends.
    static func tcpEcho(in ns: TestNamespace, port: UInt16) throws -> NamespaceScript {
        try NamespaceScript(in: ns, """
            import socket, threading
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", \(port))); s.listen(16)
            def serve(c):
                while (d := c.recv(100)): c.sendall(d)
            while True: threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
            """)
    }

    /// A UDP server answering every datagram with `name`.
    static func udpName(in ns: TestNamespace, port: UInt16, name: String) throws -> NamespaceScript {
        try NamespaceScript(in: ns, """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", \(port)))
            while True:
                d, a = s.recvfrom(100); s.sendto(b"\(name)", a)
            """)
    }
}

/// Who answers `count` datagrams sent from `ns`, all from source port 40000 (one conntrack
/// flow), to `address`:`port`; "none" for a datagram without an answer.
func udpAnswers(from ns: TestNamespace, to address: String, port: UInt16, count: Int) throws -> [String] {
    try ns.check(["python3", "-c", """
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", 40000)); s.settimeout(1); s.connect(("\(address)", \(port)))
        for i in range(\(count)):
            s.send(b"q")
            try: print(s.recv(100).decode())
            except Exception: print("none")
        """]).split(separator: "\n").map(String.init)
}

/// What a proxy restart must not disturb, seen from `ns`: one connection to `address`:80 that
/// talks before and after `pause` seconds, and `count` new connections opened meanwhile (each
/// must be echoed). Start it, restart the proxy, then read `results()`.
final class RestartProbe {
    let client = Process(), churn = Process()
    let clientOutput = Pipe(), churnOutput = Pipe()

    init(from ns: TestNamespace, to address: String, pause: Double, count: Int) throws {
        for (process, output, script) in [(client, clientOutput, """
            import socket, time
            c = socket.create_connection(("\(address)", 80), timeout=5)
            c.sendall(b"before"); print(c.recv(100).decode())
            time.sleep(\(pause))
            c.sendall(b"after"); print(c.recv(100).decode())
            """), (churn, churnOutput, """
            import socket, time
            failed, why = 0, []
            for i in range(\(count)):
                start = time.monotonic()
                try:
                    c = socket.create_connection(("\(address)", 80), timeout=2); c.sendall(b"x")
                    got = c.recv(10)
                    if got != b"x": failed += 1; why.append(f"#{i}: answered {got!r}")
                    c.close()
                except OSError as e: failed += 1; why.append(f"#{i}: {e!r} after {time.monotonic() - start:.2f} s")
            print(failed, *why)
            """)] {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", ns.name, "python3", "-c", script]
            process.standardOutput = output
            try process.run()
        }
    }

    /// What the long connection said ("before\nafter\n" when it survived) and how many new
    /// connections failed ("0", or the count and why each failed).
    func results() -> (said: String, failed: String) {
        client.waitUntilExit()
        churn.waitUntilExit()
        let said = String(decoding: clientOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let failed = String(decoding: churnOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (client.terminationStatus == 0 ? said : "exit \(client.terminationStatus): \(said)",
                failed.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// `netplane proxy` against `api`, programming `node` (`--netns`), logging into `dir`.
final class ProxyDaemon {
    let process = Process()
    let log: String

    init(api: APIServerProcess, node: TestNamespace, dir: String, _ extra: [String]) throws {
        log = dir + "/proxy.log"
        process.executableURL = URL(fileURLWithPath: productsDirectory() + "/netplane")
        process.arguments = ["proxy", "--kubeconfig", api.kubeconfig(daemon: "proxy"), "--node-name", "node-a", "--netns", node.path] + extra
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
    }

    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
