import Testing
import NetAddress

@Suite struct NetAddressTests {
    @Test func parsesIPv4() {
        #expect(IPv4Address("10.244.1.5")?.description == "10.244.1.5")
        for bad in ["10.244.1", "256.1.1.1", "1.2.3.4.5", "a.b.c.d", "", "1..2.3", "1.2.3.1234"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }
    @Test func parsesIPv6Canonically() {
        #expect(IPv6Address("fd00::1")?.description == "fd00::1")
        #expect(IPv6Address("2001:db8:0:0:1:0:0:1")?.description == "2001:db8::1:0:0:1")
        #expect(IPv6Address("::ffff:10.0.0.1")?.description == "::ffff:a00:1")
        #expect(IPv6Address("::")?.description == "::")
        for bad in ["1:::2", "1:2:3:4:5:6:7:8:9", "g::1", "12345::1"] { #expect(IPv6Address(bad) == nil, "\(bad)") }
    }
    @Test func prefixes() throws {
        let p = try IPPrefix("10.244.1.5/24")
        #expect(p.network.description == "10.244.1.0/24")
        #expect(p.contains(IPAddress("10.244.1.200")!))
        #expect(!p.contains(IPAddress("10.244.2.1")!))
        #expect(try IPPrefix("fd00::5/64").network.description == "fd00::/64")
        #expect(try IPPrefix("10.0.0.1").length == 32)
        #expect(throws: AddressParseError.self) { try IPPrefix("10.0.0.1/33") }
        #expect(throws: AddressParseError.self) { try IPPrefix("10.0.0/8") }
    }
    @Test func macs() {
        #expect(MACAddress("02:42:AC:11:00:02")?.description == "02:42:ac:11:00:02")
        #expect(MACAddress("02:42:ac:11:00") == nil)
    }
}
