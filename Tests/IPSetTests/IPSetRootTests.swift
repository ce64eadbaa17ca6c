import Dispatch
@testable import IPSet
import NetAddress
import NetplaneTestSupport
import Testing

/// Kernel tests: need root. Each test makes its own network namespaces (sets are per
/// namespace) and removes them afterwards; nothing touches the root namespace's sets.
/// Every kernel effect is also checked with the `ipset` command-line tool.
@Suite("IPSet Root (network namespaces)")
struct IPSetRootTests {
    // MARK: - Witnesses

    /// Members of `set` as `ipset list NAME -output save` prints them.
    func witnessMembers(_ ns: TestNamespace, _ set: String) throws -> Set<String> {
        let out = try ns.check(["ipset", "list", set, "-output", "save"])
        var members = Set<String>()
        for line in out.split(separator: "\n") where line.hasPrefix("add \(set) ") {
            members.insert(String(line.split(separator: " ")[2]))
        }
        return members
    }

    /// The `create` line of `set` in save format.
    func witnessHeader(_ ns: TestNamespace, _ set: String) throws -> String {
        let out = try ns.check(["ipset", "list", set, "-output", "save"])
        return out.split(separator: "\n").first { $0.hasPrefix("create \(set) ") }.map(String.init) ?? ""
    }

    /// Set names from `ipset list -n`.
    func witnessNames(_ ns: TestNamespace) throws -> Set<String> {
        Set(try ns.check(["ipset", "list", "-n"]).split(separator: "\n").map(String.init))
    }

    func v4(_ text: String) -> IPAddress { IPAddress(text)! }

    func expectError(_ code: IPSetError.Code, _ body: () throws(IPSetError) -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) -> IPSetError? {
        do {
            try body()
            Issue.record("expected IPSetError \(code), got success", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            return error
        }
    }

    // MARK: - Set types

    @Test func hashIPv4AddDeleteTestListDestroy() throws {
        try TestNamespace.with(label: "ipsip") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            try handle.create(name: "np-ip", type: .hashIP, family: .inet)
            try handle.add(set: "np-ip", entry: .ip(v4("10.0.0.1")))
            try handle.add(set: "np-ip", entry: .ip(v4("10.0.0.2")))
            try handle.add(set: "np-ip", entry: IPSetEntry("10.0.0.10"))

            #expect(try handle.test(set: "np-ip", entry: .ip(v4("10.0.0.1"))))
            #expect(try !handle.test(set: "np-ip", entry: .ip(v4("10.0.0.3"))))

            let info = try handle.list(set: "np-ip")
            #expect(info.name == "np-ip")
            #expect(info.type == .hashIP)
            #expect(info.family == .inet)
            #expect(info.entries == ["10.0.0.1", "10.0.0.2", "10.0.0.10"])
            #expect(info.members == [.ip(v4("10.0.0.1")), .ip(v4("10.0.0.2")), .ip(v4("10.0.0.10"))])
            #expect(try witnessMembers(ns, "np-ip") == ["10.0.0.1", "10.0.0.2", "10.0.0.10"])
            #expect(try witnessHeader(ns, "np-ip").hasPrefix("create np-ip hash:ip family inet "))

            try handle.delete(set: "np-ip", entry: .ip(v4("10.0.0.1")))
            #expect(try !handle.test(set: "np-ip", entry: .ip(v4("10.0.0.1"))))
            #expect(try handle.list(set: "np-ip").entries == ["10.0.0.2", "10.0.0.10"])
            #expect(try witnessMembers(ns, "np-ip") == ["10.0.0.2", "10.0.0.10"])

            try handle.flush(set: "np-ip")
            #expect(try handle.list(set: "np-ip").entries.isEmpty)
            #expect(try witnessMembers(ns, "np-ip").isEmpty)

            #expect(try handle.listNames() == ["np-ip"])
            #expect(try witnessNames(ns) == ["np-ip"])
            try handle.destroy(name: "np-ip")
            #expect(try handle.listNames().isEmpty)
            #expect(try witnessNames(ns).isEmpty)
        }
    }

    @Test func hashNetCanonicalisesBlocksAndMatchesAddresses() throws {
        try TestNamespace.with(label: "ipsnet") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            try handle.create(name: "np-net", type: .hashNet)
            try handle.add(set: "np-net", entry: .net(try IPPrefix("10.1.0.0/16")))
            try handle.add(set: "np-net", entry: .net(try IPPrefix("10.2.3.4/24")))  // host bits cleared
            try handle.add(set: "np-net", entry: .ip(v4("10.9.9.9")))               // a /32

            #expect(try handle.test(set: "np-net", entry: .ip(v4("10.1.200.7"))))
            #expect(try handle.test(set: "np-net", entry: .ip(v4("10.2.3.99"))))
            #expect(try !handle.test(set: "np-net", entry: .ip(v4("10.3.0.1"))))

            let info = try handle.list(set: "np-net")
            #expect(info.type == .hashNet)
            #expect(Set(info.entries) == ["10.1.0.0/16", "10.2.3.0/24", "10.9.9.9"])
            #expect(Set(info.members) == [.net(try IPPrefix("10.1.0.0/16")), .net(try IPPrefix("10.2.3.0/24")),
                                          .net(try IPPrefix("10.9.9.9/32"))])
            #expect(try witnessMembers(ns, "np-net") == ["10.1.0.0/16", "10.2.3.0/24", "10.9.9.9"])

            try handle.delete(set: "np-net", entry: .net(try IPPrefix("10.1.0.0/16")))
            #expect(try !handle.test(set: "np-net", entry: .ip(v4("10.1.200.7"))))
            #expect(try witnessMembers(ns, "np-net") == ["10.2.3.0/24", "10.9.9.9"])

            try handle.destroy(name: "np-net")
            #expect(try witnessNames(ns).isEmpty)
        }
    }

    @Test func hashIPPortWithProtocols() throws {
        try TestNamespace.with(label: "ipsport") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            try handle.create(name: "np-svc", type: .hashIPPort, maxElements: 1000)
            try handle.add(set: "np-svc", entry: .ipPort(v4("10.96.0.10"), proto: .tcp, port: 80))
            try handle.add(set: "np-svc", entry: .ipPort(v4("10.96.0.10"), proto: .udp, port: 53))
            try handle.add(set: "np-svc", entry: .ipPort(v4("10.96.0.11"), proto: .sctp, port: 9))

            #expect(try handle.test(set: "np-svc", entry: .ipPort(v4("10.96.0.10"), proto: .udp, port: 53)))
            #expect(try !handle.test(set: "np-svc", entry: .ipPort(v4("10.96.0.10"), proto: .tcp, port: 53)))

            let info = try handle.list(set: "np-svc")
            #expect(info.type == .hashIPPort)
            #expect(info.maxElements == 1000)
            let expected: Set<String> = ["10.96.0.10,tcp:80", "10.96.0.10,udp:53", "10.96.0.11,sctp:9"]
            #expect(Set(info.entries) == expected)
            #expect(info.members.contains(.ipPort(v4("10.96.0.11"), proto: .sctp, port: 9)))
            #expect(try witnessMembers(ns, "np-svc") == expected)
            #expect(try witnessHeader(ns, "np-svc").contains(" maxelem 1000 "))

            try handle.delete(set: "np-svc", entry: .ipPort(v4("10.96.0.10"), proto: .tcp, port: 80))
            #expect(try witnessMembers(ns, "np-svc") == ["10.96.0.10,udp:53", "10.96.0.11,sctp:9"])
            try handle.destroy(name: "np-svc")
            #expect(try witnessNames(ns).isEmpty)
        }
    }

    @Test func hashIPv6() throws {
        try TestNamespace.with(label: "ipsv6") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            try handle.create(name: "np-ip6", type: .hashIP, family: .inet6)
            try handle.add(set: "np-ip6", entry: .ip(IPAddress("fd00:0:0::1")!))
            try handle.add(set: "np-ip6", entry: IPSetEntry("fd00::a:2"))
            #expect(try handle.test(set: "np-ip6", entry: .ip(IPAddress("fd00::1")!)))
            #expect(try !handle.test(set: "np-ip6", entry: .ip(IPAddress("fd00::3")!)))

            let info = try handle.list(set: "np-ip6")
            #expect(info.family == .inet6)
            #expect(Set(info.entries) == ["fd00::1", "fd00::a:2"])
            #expect(try witnessMembers(ns, "np-ip6") == ["fd00::1", "fd00::a:2"])
            #expect(try witnessHeader(ns, "np-ip6").hasPrefix("create np-ip6 hash:ip family inet6 "))

            // An IPv4 entry in an IPv6 set is a typed error, found without a resolver lookup.
            let error = expectError(.invalidEntry) { () throws(IPSetError) in
                try handle.add(set: "np-ip6", entry: .ip(IPAddress("10.0.0.1")!))
            }
            #expect(error?.description.contains("np-ip6") == true)

            try handle.destroy(name: "np-ip6")
            #expect(try witnessNames(ns).isEmpty)
        }
    }

    @Test func timeoutsAndOptions() throws {
        try TestNamespace.with(label: "ipsttl") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            try handle.create(name: "np-ttl", type: .hashIP, timeout: 600, maxElements: 4096, hashSize: 2048)
            try handle.add(set: "np-ttl", entry: .ip(v4("10.0.0.1")))
            try handle.add(set: "np-ttl", entry: .ip(v4("10.0.0.2")), timeout: 30)

            let info = try handle.list(set: "np-ttl")
            #expect(info.timeout == 600)
            #expect(info.maxElements == 4096)
            #expect(info.hashSize == 2048)
            #expect(info.entries == ["10.0.0.1", "10.0.0.2"])  // per-entry timeouts are not part of the entry

            let header = try witnessHeader(ns, "np-ttl")
            #expect(header.contains(" timeout 600 "))
            #expect(header.contains(" maxelem 4096 "))
            let save = try ns.check(["ipset", "list", "np-ttl", "-output", "save"])
            let line = save.split(separator: "\n").first { $0.hasPrefix("add np-ttl 10.0.0.2 timeout ") }
            let remaining = line.flatMap { Int($0.split(separator: " ").last!) }
            #expect(remaining.map { (1...30).contains($0) } == true, "\(save)")

            // A per-entry timeout needs a set with timeout support.
            try handle.create(name: "np-plain", type: .hashIP)
            _ = expectError(.kernel("Timeout cannot be used: set was created without timeout support")) {
                () throws(IPSetError) in
                try handle.add(set: "np-plain", entry: .ip(v4("10.0.0.1")), timeout: 5)
            }
        }
    }

    @Test func swapAndRename() throws {
        try TestNamespace.with(label: "ipsswap") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            try handle.create(name: "np-live", type: .hashIP)
            try handle.add(set: "np-live", entry: .ip(v4("10.0.0.1")))
            try handle.create(name: "np-next", type: .hashIP)
            try handle.add(set: "np-next", entry: .ip(v4("10.0.0.7")))
            try handle.add(set: "np-next", entry: .ip(v4("10.0.0.8")))

            try handle.swap("np-live", "np-next")
            #expect(try witnessMembers(ns, "np-live") == ["10.0.0.7", "10.0.0.8"])
            #expect(try witnessMembers(ns, "np-next") == ["10.0.0.1"])
            try handle.destroy(name: "np-next")

            try handle.rename("np-live", to: "np-renamed")
            #expect(try witnessNames(ns) == ["np-renamed"])
            try handle.create(name: "np-other", type: .hashIP)
            _ = expectError(.exists) { () throws(IPSetError) in try handle.rename("np-other", to: "np-renamed") }
            _ = expectError(.setNotFound) { () throws(IPSetError) in try handle.swap("np-other", "np-gone") }
        }
    }

    @Test func batchAdd() throws {
        try TestNamespace.with(label: "ipsbat") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            try handle.create(name: "np-batch", type: .hashIP)
            let entries = (0..<500).map { IPSetEntry.ip(.v4(IPv4Address(10, 244, UInt8($0 / 250), UInt8($0 % 250)))) }
            try handle.add(set: "np-batch", entries: entries)
            let witnessed = try witnessMembers(ns, "np-batch")
            #expect(witnessed.count == 500)
            #expect(witnessed == Set(entries.map(\.description)))
            #expect(try handle.list(set: "np-batch").entries.count == 500)

            // Stops at the first failure, which names its entry; earlier entries stay.
            let more: [IPSetEntry] = [.ip(v4("10.245.0.1")), .ip(v4("10.244.0.7")), .ip(v4("10.245.0.2"))]
            let error = expectError(.elementExists) { () throws(IPSetError) in
                try handle.add(set: "np-batch", entries: more)
            }
            #expect(error?.entry == "10.244.0.7")
            let after = try witnessMembers(ns, "np-batch")
            #expect(after.contains("10.245.0.1"))
            #expect(!after.contains("10.245.0.2"))
            try handle.add(set: "np-batch", entries: more, ifNotExists: true)
            #expect(try witnessMembers(ns, "np-batch").count == 502)
        }
    }

    // MARK: - Errors

    @Test func typedErrors() throws {
        try TestNamespace.with(label: "ipserr") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)

            // Adding to a set that does not exist.
            let missing = expectError(.setNotFound) { () throws(IPSetError) in
                try handle.add(set: "np-nosuch", entry: .ip(v4("10.0.0.1")))
            }
            #expect(missing?.set == "np-nosuch")
            #expect(missing?.entry == "10.0.0.1")
            #expect(missing?.operation == "add")
            #expect(missing?.description.contains("np-nosuch") == true)
            #expect(missing?.description.contains("10.0.0.1") == true)
            _ = expectError(.setNotFound) { () throws(IPSetError) in _ = try handle.list(set: "np-nosuch") }
            _ = expectError(.setNotFound) { () throws(IPSetError) in try handle.destroy(name: "np-nosuch") }
            _ = expectError(.setNotFound) { () throws(IPSetError) in
                _ = try handle.test(set: "np-nosuch", entry: .ip(v4("10.0.0.1")))
            }

            // Malformed entries, refused by libipset's parser for this set type.
            try handle.create(name: "np-err", type: .hashIP)
            let malformed = expectError(.invalidEntry) { () throws(IPSetError) in
                try handle.add(set: "np-err", entry: .raw("10.0.0.1,tcp:80"))
            }
            #expect(malformed?.description.contains("np-err") == true)
            #expect(malformed?.description.contains("10.0.0.1,tcp:80") == true)
            _ = expectError(.invalidEntry) { () throws(IPSetError) in
                try handle.add(set: "np-err", entry: .ipPort(v4("10.0.0.1"), proto: .tcp, port: 80))
            }
            _ = expectError(.invalidEntry) { () throws(IPSetError) in
                try handle.add(set: "np-err", entry: .raw("10.0.0.1/99"))
            }
            try handle.create(name: "np-err-net", type: .hashNet)
            _ = expectError(.invalidEntry) { () throws(IPSetError) in
                try handle.add(set: "np-err-net", entry: .net(try! IPPrefix("0.0.0.0/0")))
            }

            // Duplicates.
            _ = expectError(.exists) { () throws(IPSetError) in try handle.create(name: "np-err", type: .hashIP) }
            _ = expectError(.exists) { () throws(IPSetError) in try handle.create(name: "np-err", type: .hashNet) }
            try handle.create(name: "np-err", type: .hashIP, ifNotExists: true)
            try handle.add(set: "np-err", entry: .ip(v4("10.0.0.1")))
            _ = expectError(.elementExists) { () throws(IPSetError) in
                try handle.add(set: "np-err", entry: .ip(v4("10.0.0.1")))
            }
            try handle.add(set: "np-err", entry: .ip(v4("10.0.0.1")), ifNotExists: true)
            _ = expectError(.elementMissing) { () throws(IPSetError) in
                try handle.delete(set: "np-err", entry: .ip(v4("10.0.0.2")))
            }
            try handle.delete(set: "np-err", entry: .ip(v4("10.0.0.2")), ifExists: true)

            // Arguments refused before reaching the kernel.
            _ = expectError(.invalidArgument) { () throws(IPSetError) in
                try handle.create(name: "np-err-type", type: IPSetType(rawValue: "hash:nonsense"))
            }
            _ = expectError(.invalidArgument) { () throws(IPSetError) in
                try handle.create(name: String(repeating: "x", count: 40), type: .hashIP)
            }
            _ = expectError(.invalidArgument) { () throws(IPSetError) in try handle.destroy(name: "") }

            // The failures above left the kernel state as the witness expects.
            #expect(try witnessNames(ns) == ["np-err", "np-err-net"])
            #expect(try witnessMembers(ns, "np-err") == ["10.0.0.1"])
        }
    }

    /// libipset reads one reply per request; a failed dump leaves a second error message on
    /// the socket, after which an unrepaired session answers every command with the previous
    /// command's reply. The handle replaces the session, so later commands still work.
    @Test func sessionStaysInSyncAfterAFailedDump() throws {
        try TestNamespace.with(label: "ipssync") { ns in
            let handle = try IPSetHandle(namespacePath: ns.path)
            for _ in 0..<3 {
                _ = expectError(.setNotFound) { () throws(IPSetError) in
                    _ = try handle.list(set: "np-nosuch", checkHeaderFirst: false)
                }
            }
            try handle.create(name: "np-sync", type: .hashIP)
            try handle.add(set: "np-sync", entry: .ip(v4("10.0.0.1")))
            #expect(try handle.test(set: "np-sync", entry: .ip(v4("10.0.0.1"))))
            #expect(try !handle.test(set: "np-sync", entry: .ip(v4("10.0.0.2"))))
            #expect(try handle.list(set: "np-sync", checkHeaderFirst: false).entries == ["10.0.0.1"])
            #expect(try witnessMembers(ns, "np-sync") == ["10.0.0.1"])
            _ = expectError(.setNotFound) { () throws(IPSetError) in try handle.destroy(name: "np-nosuch") }
            try handle.destroy(name: "np-sync")
            #expect(try witnessNames(ns).isEmpty)
        }
    }

    @Test func unknownNamespaceIsATypedError() {
        do {
            _ = try IPSetHandle(namespacePath: "np-does-not-exist-\(UInt32.random(in: 0...UInt32.max))")
            Issue.record("expected an error")
        } catch {
            guard case .namespace(let text) = error.code else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(text.contains("/run/netns/np-does-not-exist-"))
        }
    }

    // MARK: - Namespaces

    @Test func handlesOpenThroughNetNS() throws {
        try TestNamespace.with(label: "ipsnns") { ns in
            let namespace = try ns.netns()
            let handle = try IPSetHandle(namespace: namespace)
            #expect(handle.namespacePath == ns.path)
            try handle.create(name: "np-netns", type: .hashIP)
            try handle.add(set: "np-netns", entry: .ip(v4("10.0.0.1")))
            #expect(try witnessMembers(ns, "np-netns") == ["10.0.0.1"])

            // Opened by a thread already inside the namespace (no setns needed), then used from
            // this thread: the handle stays bound to the namespace, also once a failed dump
            // has made it open a new session from out here.
            let local = try namespace.run { try IPSetHandle() }
            #expect(local.namespacePath == nil)
            #expect(try local.listNames() == ["np-netns"])
            _ = expectError(.setNotFound) { () throws(IPSetError) in
                _ = try local.list(set: "np-nosuch", checkHeaderFirst: false)
            }
            #expect(try local.listNames() == ["np-netns"])
            #expect(try local.test(set: "np-netns", entry: .ip(v4("10.0.0.1"))))
        }
    }

    @Test func namespaceThatCannotBeEnteredIsATypedError() throws {
        let bogus = try NetNS.open(path: "/dev/null")  // opens fine, but setns refuses it
        do {
            _ = try IPSetHandle(namespace: bogus)
            Issue.record("expected an error")
        } catch {
            guard case .namespace(let text) = error.code else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(text.hasPrefix("enter network namespace /dev/null: "), "\(text)")
            #expect(error.operation == "open")
        }
    }

    @Test func setsAreIsolatedPerNamespace() throws {
        try TestNamespace.with(2, label: "ipsiso") { namespaces in
            let (a, b) = (namespaces[0], namespaces[1])
            let handleA = try IPSetHandle(namespacePath: a.path)
            let handleB = try IPSetHandle(namespacePath: b.name)  // bare name: /run/netns/<name>

            try handleA.create(name: "np-only-a", type: .hashIP)
            try handleA.add(set: "np-only-a", entry: .ip(v4("10.0.0.1")))
            #expect(try handleA.listNames() == ["np-only-a"])
            #expect(try witnessNames(a) == ["np-only-a"])

            #expect(try handleB.listNames().isEmpty)
            #expect(try witnessNames(b).isEmpty)
            _ = expectError(.setNotFound) { () throws(IPSetError) in _ = try handleB.list(set: "np-only-a") }
            _ = expectError(.setNotFound) { () throws(IPSetError) in
                try handleB.add(set: "np-only-a", entry: .ip(v4("10.0.0.2")))
            }

            // The same name with a different type in each namespace: each handle must use its
            // own namespace's set type (libipset's process-wide name->type cache would not).
            try handleA.create(name: "np-shared", type: .hashIP)
            try handleB.create(name: "np-shared", type: .hashNet)
            try handleB.add(set: "np-shared", entry: .net(try IPPrefix("10.8.0.0/16")))
            try handleA.add(set: "np-shared", entry: .ip(v4("10.8.0.1")))
            #expect(try witnessMembers(a, "np-shared") == ["10.8.0.1"])
            #expect(try witnessMembers(b, "np-shared") == ["10.8.0.0/16"])
            #expect(try handleA.list(set: "np-shared").type == .hashIP)
            #expect(try handleB.list(set: "np-shared").type == .hashNet)
            #expect(try handleB.listAll() == [IPSetInfo(name: "np-shared", type: .hashNet, family: .inet,
                                                        maxElements: 65536, hashSize: 1024,
                                                        entries: ["10.8.0.0/16"])])

            // Recreated behind our back by another program with a different type.
            try a.check(["ipset", "destroy", "np-shared"])
            try a.check(["ipset", "create", "np-shared", "hash:ip,port"])
            try handleA.add(set: "np-shared", entry: .ipPort(v4("10.8.0.1"), proto: .tcp, port: 443))
            #expect(try witnessMembers(a, "np-shared") == ["10.8.0.1,tcp:443"])
        }
    }

    @Test func handlesAreUsableFromManyThreads() throws {
        try TestNamespace.with(2, label: "ipsconc") { namespaces in
            let handles = try namespaces.map { try IPSetHandle(namespacePath: $0.path) }
            for handle in handles { try handle.create(name: "np-many", type: .hashIP, maxElements: 1024) }
            let failures = FailureLog()
            DispatchQueue.concurrentPerform(iterations: 4) { worker in
                let handle = handles[worker % 2]
                for i in 0..<100 {
                    let address = IPv4Address(10, 50, UInt8(worker), UInt8(i))
                    do { try handle.add(set: "np-many", entry: .ip(.v4(address))) } catch {
                        failures.append("\(error)")
                    }
                }
            }
            #expect(failures.all.isEmpty)
            for (ns, handle) in zip(namespaces, handles) {
                #expect(try witnessMembers(ns, "np-many").count == 200)
                #expect(try handle.list(set: "np-many").entries.count == 200)
            }
        }
    }
}

/// Collects failures from concurrent workers.
final class FailureLog: @unchecked Sendable {
    private let queue = DispatchQueue(label: "failures")
    private var items: [String] = []
    func append(_ item: String) { queue.sync { items.append(item) } }
    var all: [String] { queue.sync { items } }
}
