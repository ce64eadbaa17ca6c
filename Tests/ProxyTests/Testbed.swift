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
            try Command.check(["ip", "-n", node.name, "link", "add", "v\(n)", "type", "veth", "peer", "name", "eth0", "netns", pod.name])
            try Command.check(["ip", "-n", node.name, "addr", "add", "10.244.\(n).1/24", "dev", "v\(n)"])
            try Command.check(["ip", "-n", node.name, "link", "set", "v\(n)", "up"])
            try Command.check(["ip", "-n", pod.name, "addr", "add", "10.244.\(n).2/24", "dev", "eth0"])
            try Command.check(["ip", "-n", pod.name, "link", "set", "eth0", "up"])
            try Command.check(["ip", "-n", pod.name, "route", "add", "default", "via", "10.244.\(n).1"])
            // IPv6 beside it: fd00:244:N::2/64, the node fd00:244:N::1 (no DAD: usable at once).
            try Command.check(["ip", "-n", node.name, "addr", "add", "fd00:244:\(n)::1/64", "dev", "v\(n)", "nodad"])
            try Command.check(["ip", "-n", pod.name, "addr", "add", "fd00:244:\(n)::2/64", "dev", "eth0", "nodad"])
            try Command.check(["ip", "-n", pod.name, "-6", "route", "add", "default", "via", "fd00:244:\(n)::1"])
        }
        try node.check(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        try Command.check(["ip", "-n", node.name, "link", "add", "up0", "type", "veth", "peer", "name", "eth0", "netns", outside.name])
        try Command.check(["ip", "-n", node.name, "addr", "add", "198.18.0.11/24", "dev", "up0"])
        try Command.check(["ip", "-n", node.name, "link", "set", "up0", "up"])
        try Command.check(["ip", "-n", outside.name, "addr", "add", "198.18.0.50/24", "dev", "eth0"])
        try Command.check(["ip", "-n", outside.name, "link", "set", "eth0", "up"])
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

