import Glibc
import Synchronization
import Testing
import IPAM
import NetAddress

@Suite struct DiskStoreTests {
    @Test func writesTheReferenceLayout() throws {
        let tmp = TempDir()
        defer { tmp.remove() }
        let v6 = [IPRange(subnet: prefix("fd00::/120"))]
        let c = try config([[IPRange(subnet: prefix("10.244.1.0/24"))], v6], dataDir: tmp.path)
        let alloc = Allocator(config: c, store: try DiskStore(network: c.name, dataDir: c.dataDir))
        _ = try alloc.allocate(containerID: " c1 ", ifname: "eth0")
        let dir = tmp.path + "/testnet"
        #expect(listDir(dir) == ["10.244.1.2", "fd00::2", "last_reserved_ip.0", "last_reserved_ip.1", "lock"])
        #expect(readText(dir + "/10.244.1.2") == "c1\r\neth0")
        #expect(readText(dir + "/fd00::2") == "c1\r\neth0")
        #expect(readText(dir + "/last_reserved_ip.0") == "10.244.1.2")
        #expect(readText(dir + "/last_reserved_ip.1") == "fd00::2")
        var st = stat()
        #expect(stat(dir + "/10.244.1.2", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(dir, &st) == 0 && st.st_mode & 0o777 == 0o755)

        try alloc.release(containerID: "c1", ifname: "eth0")
        #expect(listDir(dir) == ["last_reserved_ip.0", "last_reserved_ip.1", "lock"])
    }

    @Test func readsWhatTheReferenceWrote() throws {
        let tmp = TempDir()
        defer { tmp.remove() }
        let dir = tmp.path + "/testnet"
        mkdir(dir, 0o755)
        writeText(dir + "/10.244.1.7", "abc\r\neth0")
        writeText(dir + "/10.244.1.8", "old-style-id\n")  // written by an old reference version
        writeText(dir + "/last_reserved_ip.0", "10.244.1.8")
        let c = try config([[IPRange(subnet: prefix("10.244.1.0/24"))]], dataDir: tmp.path)
        let store = try DiskStore(network: "testnet", dataDir: tmp.path)
        #expect(try store.reservations() == [Reservation(ip: ip("10.244.1.7"), containerID: "abc", ifname: "eth0"),
                                            Reservation(ip: ip("10.244.1.8"), containerID: "old-style-id", ifname: "")])
        #expect(try store.getByID(containerID: "abc", ifname: "eth0") == [ip("10.244.1.7")])
        let alloc = Allocator(config: c, store: store)
        // Round robin continues after the reference's last reserved address.
        #expect(try alloc.allocate(containerID: "new", ifname: "eth0").map(\.address) == [prefix("10.244.1.9/24")])
        try alloc.check(containerID: "old-style-id", ifname: "eth0")
        try alloc.release(containerID: "old-style-id", ifname: "eth0")
        #expect(try store.reservations().map(\.ip) == [ip("10.244.1.7"), ip("10.244.1.9")])
        #expect(try alloc.gc(valid: [Attachment(containerID: "new", ifname: "eth0")]).map(\.ip) == [ip("10.244.1.7")])
    }

    @Test func lockIsExclusiveAcrossOpenFiles() throws {
        let tmp = TempDir()
        defer { tmp.remove() }
        let store = try DiskStore(network: "testnet", dataDir: tmp.path)
        let other = open(tmp.path + "/testnet/lock", O_RDWR)
        #expect(other >= 0)
        defer { close(other) }
        try store.withLock { () throws(IPAMError) in
            #expect(flock(other, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK)
            try store.withLock { () throws(IPAMError) in }  // re-entrant in one store
            #expect(flock(other, LOCK_EX | LOCK_NB) == -1)
        }
        #expect(flock(other, LOCK_EX | LOCK_NB) == 0)
        flock(other, LOCK_UN)
    }

    @Test func concurrentAllocationsGetDistinctAddresses() throws {
        let tmp = TempDir()
        defer { tmp.remove() }
        let c = try config([[IPRange(subnet: prefix("10.244.1.0/24"))]], dataDir: tmp.path)
        let results = Mutex<[String]>([])
        let failures = Mutex<[String]>([])
        onThreads((0..<64).map { i in
            { @Sendable in
                do {
                    let store = try DiskStore(network: c.name, dataDir: c.dataDir)
                    let a = try Allocator(config: c, store: store).allocate(containerID: "c\(i)", ifname: "eth0")
                    results.withLock { $0 += a.map { "\($0.address.address)" } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        })
        #expect(failures.withLock { $0 } == [])
        let got = results.withLock { $0 }
        #expect(got.count == 64)
        #expect(Set(got).count == 64)
        // With the lock held for each whole allocation, round robin hands out .2 ... .65.
        #expect(Set(got) == Set((2...65).map { "10.244.1.\($0)" }))
        let store = try DiskStore(network: c.name, dataDir: c.dataDir)
        #expect(Set(try store.reservations().map(\.containerID)) == Set((0..<64).map { "c\($0)" }))
    }
}
