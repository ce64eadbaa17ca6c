import Foundation
import NetAddress
import Netlink
import NetplaneTestSupport
import Testing

/// ConntrackHandle against the kernel's table: a UDP flow made in a namespace is listed with
/// the tuple `conntrack -L` shows, and deleted by it.
@Suite(.serialized) struct ConntrackRootTests {
    @Test func aUDPFlowIsListedAndDeleted() throws {
        try TestNamespace.with(label: "ct") { (ns: TestNamespace) in
            // Conntrack tracks a namespace's packets once a rule there asks for it.
            try ns.check(["nft", "add table ip t; add chain ip t out { type filter hook output priority 0; ct state new counter; }"])
            try ns.check(["python3", "-c", """
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 40001)); s.sendto(b"x", ("127.0.0.1", 9))
                """])
            let conntrack = try ConntrackHandle(namespace: NetNS.open(path: ns.path))
            let flows = try conntrack.flows(family: .ipv4).filter { $0.proto == 17 }
            let flow = try #require(flows.first, "no UDP flow listed")
            #expect(flows.count == 1)
            #expect(flow == ConntrackFlow(proto: 17, source: IPAddress("127.0.0.1")!, destination: IPAddress("127.0.0.1")!,
                                          sourcePort: 40001, destinationPort: 9, replySource: IPAddress("127.0.0.1")!, replySourcePort: 9))
            #expect(try ns.check(["conntrack", "-L", "-p", "udp"]).contains("sport=40001 dport=9"))
            try conntrack.delete(flow)
            #expect(!(try ns.check(["conntrack", "-L", "-p", "udp"]).contains("sport=40001")))
            let gone = #expect(throws: NetlinkError.self) { try conntrack.delete(flow) }
            #expect(gone?.code == .notFound)
        }
    }
}
