import Testing
import IPAM
import NetAddress

@Suite struct AllocatorTests {
    let v4 = [IPRange(subnet: try! IPPrefix("10.244.1.0/24"))]

    func addresses(_ a: [Allocation]) -> [String] { a.map { "\($0.address)" } }

    @Test func roundRobinSkipsGatewayAndNeverReusesAtOnce() throws {
        let store = MemoryStore()
        let alloc = Allocator(config: try config([v4]), store: store)
        let first = try alloc.allocate(containerID: "c1", ifname: "eth0")
        #expect(addresses(first) == ["10.244.1.2/24"])
        #expect(first[0].gateway == ip("10.244.1.1"))
        #expect(addresses(try alloc.allocate(containerID: "c2", ifname: "eth0")) == ["10.244.1.3/24"])
        try alloc.release(containerID: "c1", ifname: "eth0")
        // Round robin: continues after the last reserved address instead of reusing .2.
        #expect(addresses(try alloc.allocate(containerID: "c3", ifname: "eth0")) == ["10.244.1.4/24"])
        #expect(store.lastReservedIP(rangeID: "0") == ip("10.244.1.4"))
    }

    @Test func wrapsAroundAcrossRanges() throws {
        let set = [IPRange(subnet: prefix("10.244.1.0/24"), rangeStart: ip("10.244.1.10"), rangeEnd: ip("10.244.1.11")),
                   IPRange(subnet: prefix("10.244.2.0/24"), rangeStart: ip("10.244.2.1"), rangeEnd: ip("10.244.2.2"))]
        let store = MemoryStore()
        let alloc = Allocator(config: try config([set]), store: store)
        var got: [String] = []
        for i in 0..<3 { got += addresses(try alloc.allocate(containerID: "c\(i)", ifname: "eth0")) }
        // 10.244.2.1 is that range's default gateway.
        #expect(got == ["10.244.1.10/24", "10.244.1.11/24", "10.244.2.2/24"])
        try alloc.release(containerID: "c1", ifname: "eth0")
        try alloc.release(containerID: "c0", ifname: "eth0")
        // After .2.2 (the end of the last range) the walk wraps to the first range's start.
        #expect(addresses(try alloc.allocate(containerID: "c3", ifname: "eth0")) == ["10.244.1.10/24"])
        #expect(addresses(try alloc.allocate(containerID: "c4", ifname: "eth0")) == ["10.244.1.11/24"])
    }

    @Test func exhaustionNamesTheRangeAndGatewayIsNeverHandedOut() throws {
        let set = [IPRange(subnet: prefix("10.244.1.0/29"))]  // .1 (gateway) ... .6
        let alloc = Allocator(config: try config([set]), store: MemoryStore())
        var got: [String] = []
        for i in 0..<5 { got += addresses(try alloc.allocate(containerID: "c\(i)", ifname: "eth0")) }
        #expect(got == ["10.244.1.2/29", "10.244.1.3/29", "10.244.1.4/29", "10.244.1.5/29", "10.244.1.6/29"])
        #expect { try alloc.allocate(containerID: "c9", ifname: "eth0") } throws: {
            let e = $0 as? IPAMError
            return e?.kind == .exhausted && e?.description == "no IP addresses available in range set: 10.244.1.1-10.244.1.6"
        }
    }

    @Test func requestedIPs() throws {
        let store = MemoryStore()
        let alloc = Allocator(config: try config([v4], requested: [ip("10.244.1.77")]), store: store)
        #expect(addresses(try alloc.allocate(containerID: "a", ifname: "eth0")) == ["10.244.1.77/24"])
        #expect { try alloc.allocate(containerID: "b", ifname: "eth0") } throws: {
            ($0 as? IPAMError)?.description == "requested IP address 10.244.1.77 is not available in range set 10.244.1.1-10.244.1.254"
        }
        #expect { try alloc.allocate(containerID: "b", ifname: "eth0", requested: [ip("10.244.1.1")]) } throws: {
            ($0 as? IPAMError)?.description == "requested ip 10.244.1.1 is subnet's gateway"
        }
        #expect { try alloc.allocate(containerID: "b", ifname: "eth0", requested: [ip("10.9.9.9")]) } throws: {
            ($0 as? IPAMError)?.description == "failed to allocate all requested IPs: 10.9.9.9"
        }
        // The failed calls left nothing behind.
        #expect(store.reservations().map(\.ip) == [ip("10.244.1.77")])
    }

    @Test func dualStackGivesOneAddressPerSet() throws {
        let v6 = [IPRange(subnet: prefix("fd00:10:244:1::/64"))]
        let store = MemoryStore()
        let alloc = Allocator(config: try config([v4, v6]), store: store)
        let a = try alloc.allocate(containerID: "c", ifname: "eth0")
        #expect(addresses(a) == ["10.244.1.2/24", "fd00:10:244:1::2/64"])
        #expect(a.map(\.rangeSetIndex) == [0, 1])
        #expect(a[1].gateway == ip("fd00:10:244:1::1"))
        #expect(store.lastReservedIP(rangeID: "1") == ip("fd00:10:244:1::2"))
        #expect(try alloc.check(containerID: "c", ifname: "eth0") == [ip("10.244.1.2"), ip("fd00:10:244:1::2")])
        // The same attachment again is refused (as the reference does), other ifnames are not.
        #expect { try alloc.allocate(containerID: "c", ifname: "eth0") } throws: { ($0 as? IPAMError)?.kind == .duplicate }
        #expect(addresses(try alloc.allocate(containerID: "c", ifname: "net1")) == ["10.244.1.3/24", "fd00:10:244:1::3/64"])
    }

    @Test func failureInALaterSetReleasesEarlierOnes() throws {
        let tiny = [IPRange(subnet: prefix("fd00::/120"), rangeStart: ip("fd00::5"), rangeEnd: ip("fd00::5"))]
        let store = MemoryStore()
        let alloc = Allocator(config: try config([v4, tiny]), store: store)
        _ = try alloc.allocate(containerID: "a", ifname: "eth0")
        #expect { try alloc.allocate(containerID: "b", ifname: "eth0") } throws: { ($0 as? IPAMError)?.kind == .exhausted }
        #expect(store.reservations().map(\.containerID) == ["a", "a"])
    }

    @Test func checkAndGC() throws {
        let store = MemoryStore()
        let alloc = Allocator(config: try config([v4]), store: store)
        for c in ["a", "b", "c"] { _ = try alloc.allocate(containerID: c, ifname: "eth0") }
        #expect { try alloc.check(containerID: "zz", ifname: "eth0") } throws: { ($0 as? IPAMError)?.kind == .notFound }
        let released = try alloc.gc(valid: [Attachment(containerID: "b", ifname: "eth0"),
                                            Attachment(containerID: "a", ifname: "eth1")])
        #expect(released.map(\.containerID) == ["a", "c"])
        #expect(store.reservations() == [Reservation(ip: ip("10.244.1.3"), containerID: "b", ifname: "eth0")])
    }
}
