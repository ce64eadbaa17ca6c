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
    @Test func udpFlowsToARemovedEndpointAreDeleted() throws {
        try withProxyTestbed { node, pods, _ in
            let servers = try pods.enumerated().map { try NamespaceScript.udpName(in: $0.element, port: 5353, name: "pod\($0.offset + 1)") }
            defer { servers.forEach { $0.stop() } }
            usleep(500_000)
            func dns(_ pods: [Int]) -> ServicePort {
                ServicePort(namespace: "default", name: "dns", portName: "dns", proto: .udp, port: 53, clusterIPs: [IPAddress("10.96.0.53")!],
                            endpoints: pods.map { ProxyEndpoint(address: IPAddress("10.244.\($0).2")!, port: 5353) })
            }
            let socket = try NFTSocket(namespacePath: node.path)
            var table = ProxyTable(family: .ip, options: ProxyOptions(clusterCIDRs: [try IPPrefix("10.244.0.0/16")]))
            try table.syncFull([dns([1, 2, 3])]) { try socket.commit($0) }
            let first = try udpAnswers(from: node, to: "10.96.0.53", port: 53, count: 3)
            #expect(Set(first).count == 1 && first[0].hasPrefix("pod"), "one flow, one endpoint: \(first)")
            let chosen = Int(first[0].dropFirst(3))!

            // The endpoint leaves the service; its server still runs. Without a flush the flow
            // keeps going there (what the cleanup exists for).
            let remaining = [1, 2, 3].filter { $0 != chosen }
            try table.syncAll([dns(remaining)]) { try socket.commit($0) }
            #expect(try udpAnswers(from: node, to: "10.96.0.53", port: 53, count: 3) == Array(repeating: "pod\(chosen)", count: 3))
            let conntrack = try ConntrackHandle(namespace: NetNS.open(path: node.path))
            let flows = try conntrack.flows(family: .ipv4).filter { $0.proto == 17 && $0.destination == IPAddress("10.96.0.53") }
            #expect(flows.map(\.replySource) == [IPAddress("10.244.\(chosen).2")!], "\(flows)")
            #expect(try node.check(["conntrack", "-L", "-p", "udp"]).contains("src=10.244.\(chosen).2"))

            // The proxy's cleanup: the stale endpoint's flows go, the next datagram is sent afresh.
            let stale = ConntrackCleanup.staleUDPEndpoints(before: [dns([1, 2, 3])], after: [dns(remaining)])
            #expect(stale == [ConntrackCleanup.Endpoint(address: IPAddress("10.244.\(chosen).2")!, port: 5353)])
            #expect(try ConntrackCleanup.flush(stale, conntrack) == 1)
            #expect(!(try node.check(["conntrack", "-L", "-p", "udp"]).contains("src=10.244.\(chosen).2")))
            let after = try udpAnswers(from: node, to: "10.96.0.53", port: 53, count: 3)
            #expect(Set(after).count == 1 && after[0] != "pod\(chosen)" && after[0].hasPrefix("pod"), "\(after)")
        }
    }
}
