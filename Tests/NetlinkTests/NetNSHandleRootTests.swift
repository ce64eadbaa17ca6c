import Foundation
import Testing
import Netlink
import NetplaneTestSupport

/// Netlink on top of NetNamespace: handles opened through `NetNS` (re-exported by Netlink),
/// and namespace failures reported as `NetlinkError`s. NetNS itself is tested in
/// NetNamespaceTests.
@Suite("Namespaces with Netlink handles (Root)", .serialized)
struct NetNSHandleRootTests {
    @Test("Root: a handle in a namespace made by NetNS.create sees only its loopback")
    func handleInCreatedNamespace() throws {
        let name = "np-create-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = try? Command.run(["ip", "netns", "delete", name]) }

        let ns = try NetNS.create(name: name)
        #expect(!ns.isSame(as: try NetNS.current()))
        #expect(try NetlinkHandle(namespace: ns).links().map(\.name) == ["lo"])
        try NetNS.delete(name: name)
    }

    @Test("Root: a handle opened in the namespace sees the namespace's links, not the host's")
    func handleSeesTheNamespacesLinks() throws {
        try TestNamespace.with(label: "run") { (t: TestNamespace) in
            let ns = try t.netns()
            let before = threadNamespaceLink()
            try Command.check(["ip", "-n", t.name, "link", "add", "br-run", "type", "bridge"])
            #expect(try NetlinkHandle(namespace: ns).links().map(\.name).sorted() == ["br-run", "lo"])
            #expect(threadNamespaceLink() == before)
        }
    }

    @Test("Root: failing to enter a namespace is a NetlinkError with the namespace's errno")
    func namespaceFailuresAreNetlinkErrors() throws {
        let bogus = try NetNS.open(path: "/dev/null")  // opens fine, but setns refuses it
        let handle = #expect(throws: NetlinkError.self) { try NetlinkHandle(namespace: bogus) }
        #expect(handle?.code == .invalidArgument)
        #expect(handle?.errno == EINVAL)
        #expect(handle?.operation == "enter network namespace /dev/null")
        let sysctl = #expect(throws: NetlinkError.self) { try Sysctl.get("net/ipv4/ip_forward", in: bogus) }
        #expect(sysctl?.code == .invalidArgument)
        #expect(sysctl?.errno == EINVAL)
    }
}
