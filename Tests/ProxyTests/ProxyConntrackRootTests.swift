import Foundation
import NFTables
import NetAddress
import Netlink
import NetplaneTestSupport
import Proxy
import Testing

/// UDP flows to a removed endpoint: a client that keeps sending from one port stays with its
/// endpoint through the conntrack entry even after the endpoint leaves the service, until the
/// proxy deletes the flow. Witnesses: which pod answers, and `conntrack -L`.
@Suite(.serialized) struct ProxyConntrackRootTests {
    /// A UDP server on 5353 in `pod` answering every datagram with its name.
    func udpServer(_ pod: TestNamespace, _ name: String) throws -> Process {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        server.arguments = ["netns", "exec", pod.name, "python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", 5353))
            while True:
                d, a = s.recvfrom(100); s.sendto(b"\(name)", a)
            """]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        return server
    }

    /// Who answers `count` datagrams sent from source port 40000 of the node.
    func answers(_ node: TestNamespace, count: Int) throws -> [String] {
        try node.check(["python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", 40000)); s.settimeout(2); s.connect(("10.96.0.53", 53))
            for i in range(\(count)):
                s.send(b"q")
                try: print(s.recv(100).decode())
                except Exception as e: print("error")
            """]).split(separator: "\n").map(String.init)
    }

    @Test func udpFlowsToARemovedEndpointAreDeleted() throws {
        try withProxyTestbed { node, pods, _ in
            let servers = try pods.enumerated().map { try udpServer($0.element, "pod\($0.offset + 1)") }
            defer { servers.forEach { kill($0.processIdentifier, SIGKILL); $0.waitUntilExit() } }
            usleep(500_000)
            func dns(_ pods: [Int]) -> ServicePort {
                ServicePort(namespace: "default", name: "dns", portName: "dns", proto: .udp, port: 53, clusterIPs: [IPAddress("10.96.0.53")!],
                            endpoints: pods.map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 5353) })
            }
            let socket = try NFTSocket(namespacePath: node.path)
            var table = ProxyTable(family: .ip, options: ProxyOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")]))
            try table.syncFull([dns([1, 2, 3])]) { try socket.commit($0) }
            let first = try answers(node, count: 3)
            #expect(Set(first).count == 1 && first[0].hasPrefix("pod"), "one flow, one endpoint: \(first)")
            let chosen = Int(first[0].dropFirst(3))!

            // The endpoint leaves the service; its server still runs. Without a flush the flow
            // keeps going there (what the cleanup exists for).
            let remaining = [1, 2, 3].filter { $0 != chosen }
            try table.syncAll([dns(remaining)]) { try socket.commit($0) }
            #expect(try answers(node, count: 3) == Array(repeating: "pod\(chosen)", count: 3))
            let conntrack = try ConntrackHandle(namespace: NetNS.open(path: node.path))
            let flows = try conntrack.flows(family: .ipv4).filter { $0.proto == 17 && $0.destination == IPAddress("10.96.0.53") }
            #expect(flows.map(\.replySource) == [IPAddress("10.244.\(chosen).2")!], "\(flows)")
            #expect(try node.check(["conntrack", "-L", "-p", "udp"]).contains("src=10.244.\(chosen).2"))

            // The proxy's cleanup: the stale endpoint's flows go, the next datagram is sent afresh.
            let stale = ConntrackCleanup.staleUDPEndpoints(before: [dns([1, 2, 3])], after: [dns(remaining)])
            #expect(stale == [ConntrackCleanup.Endpoint(address: IPAddress("10.244.\(chosen).2")!, port: 5353)])
            #expect(try ConntrackCleanup.flush(stale, conntrack) == 1)
            #expect(!(try node.check(["conntrack", "-L", "-p", "udp"]).contains("src=10.244.\(chosen).2")))
            let after = try answers(node, count: 3)
            #expect(Set(after).count == 1 && after[0] != "pod\(chosen)" && after[0].hasPrefix("pod"), "\(after)")
        }
    }
}
