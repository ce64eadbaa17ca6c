import Foundation
import Testing
import Netlink
import NetplaneTestSupport

@Suite("Sysctl (Root)", .serialized)
struct SysctlRootTests {
    @Test("Root: sysctls set inside a namespace stay inside it")
    func namespaced() throws {
        let hostForwarding = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8)
        try TestNamespace.with(label: "sysctl") { (t: TestNamespace) in
            try Command.check(["ip", "-n", t.name, "link", "add", "br0", "type", "bridge"])
            let ns = try t.netns()
            func witness(_ key: String) throws -> String {
                try t.check(["sysctl", "-n", key]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let flip = hostForwarding.hasPrefix("1") ? false : true
            try Sysctl.setIPForwarding(flip, in: ns)
            #expect(try witness("net.ipv4.ip_forward") == (flip ? "1" : "0"))
            #expect(try Sysctl.get("net/ipv4/ip_forward", in: ns) == (flip ? "1" : "0"))
            #expect(try Sysctl.get("net.ipv4.ip_forward", in: ns) == (flip ? "1" : "0"))

            try Sysctl.setProxyARP(true, interface: "br0", in: ns)
            #expect(try witness("net.ipv4.conf.br0.proxy_arp") == "1")
            try Sysctl.setReversePathFilter(.loose, interface: "br0", in: ns)
            #expect(try witness("net.ipv4.conf.br0.rp_filter") == "2")
            try Sysctl.setAcceptDAD(0, interface: "br0", in: ns)
            #expect(try witness("net.ipv6.conf.br0.accept_dad") == "0")
            try Sysctl.set("net/ipv6/conf/br0/forwarding", "1", in: ns)
            #expect(try witness("net.ipv6.conf.br0.forwarding") == "1")

            let missing = #expect(throws: NetlinkError.self) { try Sysctl.set("net/ipv4/conf/nope0/proxy_arp", "1", in: ns) }
            #expect(missing?.code == .notFound)
        }
        // The host's value never changed.
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/ip_forward", encoding: .utf8) == hostForwarding)
    }
}
