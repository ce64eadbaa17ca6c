import Foundation
import Testing
import NetNamespace
import NetplaneTestSupport

@Suite("Namespaces (Root)", .serialized)
struct NetNSRootTests {
    @Test("Root: create and delete a named namespace without ip")
    func createAndDelete() throws {
        let name = "np-create-\(UInt32.random(in: 0...UInt32.max))"
        defer { _ = try? Command.run(["ip", "netns", "delete", name]) }

        let ns = try NetNS.create(name: name)
        #expect(try Command.check(["ip", "netns", "list"]).split(separator: "\n").contains { $0.hasPrefix(name) })
        #expect(NetNS.names().contains(name))
        // A fresh namespace: only a loopback, and it is not the caller's namespace.
        let links = try Command.jsonObjects(["ip", "-j", "-n", name, "link", "show"])
        #expect(links.compactMap { $0["ifname"] as? String } == ["lo"])
        #expect(!ns.isSame(as: try NetNS.current()))

        let duplicate = #expect(throws: NamespaceError.self) { try NetNS.create(name: name) }
        #expect(duplicate?.code == .exists)

        try NetNS.delete(name: name)
        #expect(!(try Command.check(["ip", "netns", "list"]).contains(name)))
        #expect(!FileManager.default.fileExists(atPath: "/run/netns/\(name)"))
        let gone = #expect(throws: NamespaceError.self) { try NetNS.open(name: name) }
        #expect(gone?.code == .notFound)
    }

    @Test("Root: run enters the namespace on its own thread and leaves the caller's untouched")
    func runLeavesCallerAlone() throws {
        try TestNamespace.with(label: "run") { (t: TestNamespace) in
            let ns = try t.netns()
            let before = threadNamespaceLink()
            let inside = try ns.run { threadNamespaceLink() }
            #expect(inside == ns.identity.description)
            #expect(inside != before)
            #expect(threadNamespaceLink() == before)
            #expect(try NetNS.current().identity.description == before)

            // Errors thrown by the body come back unchanged.
            struct Marker: Error {}
            #expect(throws: Marker.self) { try ns.run { throw Marker() } }
            #expect(threadNamespaceLink() == before)
        }
    }

    @Test("Root: open by pid and by name refer to the same namespaces as the kernel's links")
    func openVariants() throws {
        let mine = try NetNS.open(pid: getpid())
        #expect(mine.isSame(as: try NetNS.current()))
        #expect(mine.identity.description == threadNamespaceLink())
        let invalid = #expect(throws: NamespaceError.self) { try NetNS.open(name: "../etc") }
        #expect(invalid?.code == .invalidName)
    }

    @Test("Root: a file that is no namespace cannot be entered, and the error says which")
    func enteringANonNamespaceFails() throws {
        let before = threadNamespaceLink()
        let bogus = try NetNS.open(path: "/dev/null")
        var ran = false
        let error = #expect(throws: NamespaceError.self) { try bogus.run { ran = true } }
        #expect(!ran)
        #expect(error?.code == .system)
        #expect(error?.errno == EINVAL)
        #expect(error?.systemCall == "setns")
        #expect(error?.description.hasPrefix("enter network namespace /dev/null: ") == true)
        #expect(threadNamespaceLink() == before)
    }
}
