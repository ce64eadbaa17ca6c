import IPVS
import NetAddress
import Netlink
import NetplaneTestSupport
import Testing

/// IPVS through generic netlink, in the VM lane (this machine's kernel has no IPVS): virtual
/// and real servers added, edited and removed, each step checked with `ipvsadm -Ln`.
@Suite(.serialized) struct IPVSVMTests {
    /// `ipvsadm -Ln` in the namespace, without its two header lines.
    func ipvsadm(_ ns: TestNamespace) throws -> [String] {
        try ns.check(["ipvsadm", "-Ln"]).split(separator: "\n").dropFirst(3)
            .map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
    }

    @Test func virtualAndRealServersAreAddedEditedAndRemoved() throws {
        try TestNamespace.with(label: "ipvs") { ns in
            let ipvs = try IPVSHandle(namespace: NetNS.open(path: ns.path))
            let web = VirtualServer(address: IPAddress("10.96.0.10")!, port: 80)
            try ipvs.addService(web)
            #expect(try ipvsadm(ns) == ["TCP 10.96.0.10:80 rr"])
            for i in 1...3 {
                try ipvs.addDestination(RealServer(address: IPAddress("10.244.\(i).2")!, port: 8080, weight: UInt32(i)), to: web.key)
            }
            #expect(try ipvsadm(ns) == ["TCP 10.96.0.10:80 rr",
                                        "-> 10.244.1.2:8080 Masq 1 0 0",
                                        "-> 10.244.2.2:8080 Masq 2 0 0",
                                        "-> 10.244.3.2:8080 Masq 3 0 0"])
            #expect(try ipvs.services() == [web])
            #expect(Set(try ipvs.destinations(of: web.key).map(\.weight)) == [1, 2, 3])

            // Edit in place: scheduler and persistence (session affinity), one weight, one gone.
            var sticky = web
            sticky.scheduler = "wrr"
            sticky.persistenceTimeout = 10800
            try ipvs.updateService(sticky)
            try ipvs.updateDestination(RealServer(address: IPAddress("10.244.1.2")!, port: 8080, weight: 0), of: web.key)
            try ipvs.deleteDestination(RealServer(address: IPAddress("10.244.3.2")!, port: 8080).key, from: web.key)
            #expect(try ipvsadm(ns) == ["TCP 10.96.0.10:80 wrr persistent 10800",
                                        "-> 10.244.1.2:8080 Masq 0 0 0",
                                        "-> 10.244.2.2:8080 Masq 2 0 0"])
            #expect(try ipvs.services() == [sticky])

            // UDP and IPv6 beside it.
            let dns = VirtualServer(address: IPAddress("10.96.0.53")!, port: 53, proto: .udp, scheduler: "lc")
            let v6 = VirtualServer(address: IPAddress("fd00:96::10")!, port: 443, scheduler: "sh")
            try ipvs.addService(dns)
            try ipvs.addService(v6)
            try ipvs.addDestination(RealServer(address: IPAddress("fd00:244:1::2")!, port: 8443), to: v6.key)
            let listed = try ipvsadm(ns)
            #expect(listed.contains("UDP 10.96.0.53:53 lc"), "\(listed)")
            #expect(listed.contains("TCP [fd00:96::10]:443 sh"), "\(listed)")
            #expect(listed.contains("-> [fd00:244:1::2]:8443 Masq 1 0 0"), "\(listed)")
            #expect(Set(try ipvs.services()) == [sticky, dns, v6])

            try ipvs.deleteService(dns.key)
            #expect(!(try ipvsadm(ns)).contains("UDP 10.96.0.53:53 lc"))
            try ipvs.flush()
            #expect(try ipvsadm(ns).isEmpty)
            #expect(try ipvs.services().isEmpty)
        }
    }

    @Test(arguments: ["rr", "wrr", "lc", "wlc", "sh", "dh", "sed", "nq"])
    func everySchedulerIsSelectable(scheduler: String) throws {
        try TestNamespace.with(label: "ipvss") { ns in
            let ipvs = try IPVSHandle(namespace: NetNS.open(path: ns.path))
            try ipvs.addService(VirtualServer(address: IPAddress("10.96.1.1")!, port: 80, scheduler: scheduler))
            #expect(try ipvsadm(ns) == ["TCP 10.96.1.1:80 \(scheduler)"])
        }
    }

    @Test func kernelErrorsAreTyped() throws {
        try TestNamespace.with(label: "ipvse") { (ns: TestNamespace) in
            let ipvs = try IPVSHandle(namespace: NetNS.open(path: ns.path))
            let web = VirtualServer(address: IPAddress("10.96.0.10")!, port: 80)
            try ipvs.addService(web)
            let duplicate = #expect(throws: NetlinkError.self) { try ipvs.addService(web) }
            #expect(duplicate?.code == .exists, "\(String(describing: duplicate))")
            let missing = #expect(throws: NetlinkError.self) {
                try ipvs.deleteService(VirtualServer(address: IPAddress("10.96.0.99")!, port: 80).key)
            }
            #expect(missing?.code == .notFound, "\(String(describing: missing))")
            let scheduler = #expect(throws: NetlinkError.self) {
                try ipvs.addService(VirtualServer(address: IPAddress("10.96.0.11")!, port: 80, scheduler: "nosuch"))
            }
            #expect(scheduler?.code == .notFound, "unknown scheduler: \(String(describing: scheduler))")
            #expect(try ipvsadm(ns) == ["TCP 10.96.0.10:80 rr"])
        }
    }
}
