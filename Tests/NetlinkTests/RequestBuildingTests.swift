import Testing
@testable import Netlink
import NetAddress

/// Netlink attributes of a message, decoded independently of libnl (type → payload).
private func attributes(_ bytes: ArraySlice<UInt8>) -> [Int: ArraySlice<UInt8>] {
    var result: [Int: ArraySlice<UInt8>] = [:]
    var offset = bytes.startIndex
    while offset + 4 <= bytes.endIndex {
        let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
        let type = (Int(bytes[offset + 2]) | Int(bytes[offset + 3]) << 8) & 0x3fff
        guard length >= 4, offset + length <= bytes.endIndex else { break }
        result[type] = bytes[(offset + 4)..<(offset + length)]
        offset += (length + 3) & ~3
    }
    return result
}

private func string(_ bytes: ArraySlice<UInt8>?) -> String? {
    bytes.map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}

private func u32(_ bytes: ArraySlice<UInt8>?) -> UInt32? {
    guard let bytes, bytes.count == 4 else { return nil }
    return bytes.reversed().reduce(0) { $0 << 8 | UInt32($1) }
}

/// IFLA_* numbers from <linux/if_link.h>, spelled out so the test does not trust the code's.
private let iflaIfname = 3, iflaMTU = 4, iflaLinkinfo = 18, infoKind = 1, infoData = 2
private let headerLength = 16 + 16  // nlmsghdr + ifinfomsg

@Suite("Request building (no root)")
struct RequestBuildingTests {
    @Test("ipip: kind, local, remote and underlay device in IFLA_INFO_DATA")
    func ipipRequest() throws {
        let nl = try NetlinkHandle()
        let spec = LinkSpec(name: "tunl1", kind: .ipip(IPIPOptions(local: IPv4Address("198.18.0.1"), remote: IPv4Address("198.18.0.2"),
                                                                   device: "eth9", ttl: 64)), mtu: 1480)
        let message = try nl.linkRequest(spec, operation: "test") { name in name == "eth9" ? 7 : 0 }
        let top = attributes(message.bytes.dropFirst(headerLength))
        #expect(string(top[iflaIfname]) == "tunl1")
        #expect(u32(top[iflaMTU]) == 1480)
        let info = attributes(try #require(top[iflaLinkinfo]))
        #expect(string(info[infoKind]) == "ipip")
        let data = attributes(try #require(info[infoData]))
        #expect(u32(data[1]) == 7)                          // IFLA_IPTUN_LINK
        #expect(data[2].map(Array.init) == [198, 18, 0, 1])  // IFLA_IPTUN_LOCAL, network order
        #expect(data[3].map(Array.init) == [198, 18, 0, 2])  // IFLA_IPTUN_REMOTE
        #expect(data[4].map(Array.init) == [64])             // IFLA_IPTUN_TTL
    }

    @Test("vxlan: the port is a 16-bit big-endian attribute, learning a byte")
    func vxlanRequest() throws {
        let nl = try NetlinkHandle()
        let options = VXLANOptions(vni: 1, local: IPAddress("198.18.0.1"), port: 8472, learning: false)
        let message = try nl.linkRequest(LinkSpec(name: "vxlan0", kind: .vxlan(options)), operation: "test") { _ in 0 }
        let info = attributes(try #require(attributes(message.bytes.dropFirst(headerLength))[iflaLinkinfo]))
        #expect(string(info[infoKind]) == "vxlan")
        let data = attributes(try #require(info[infoData]))
        #expect(u32(data[1]) == 1)                              // IFLA_VXLAN_ID
        #expect(data[4].map(Array.init) == [198, 18, 0, 1])     // IFLA_VXLAN_LOCAL
        #expect(data[7].map(Array.init) == [0])                 // IFLA_VXLAN_LEARNING
        #expect(data[15].map(Array.init) == [0x21, 0x18])       // IFLA_VXLAN_PORT 8472
    }

    @Test("route requests: add uses iproute2's defaults, delete leaves protocol and scope open")
    func routeRequests() throws {
        let nl = try NetlinkHandle()
        let route = Route(destination: try IPPrefix("10.1.0.7/24"), gateway: IPAddress("198.18.0.2"), table: 1000, metric: 5)
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type
        let add = try nl.routeMessage(route, .add, deviceIndex: 3, "test").bytes
        #expect(Array(add[16..<24]) == [2, 24, 0, 0, UInt8(1000 & 0xff), 3, 0, 1])
        let del = try nl.routeMessage(route, .delete, deviceIndex: 3, "test").bytes
        #expect(Array(del[16..<24]) == [2, 24, 0, 0, UInt8(1000 & 0xff), 0, 255, 1])
        let attrs = attributes(add.dropFirst(16 + 12))
        #expect(attrs[1].map(Array.init) == [10, 1, 0, 0])       // RTA_DST, host bits cleared
        #expect(attrs[5].map(Array.init) == [198, 18, 0, 2])     // RTA_GATEWAY
        #expect(u32(attrs[4]) == 3)                              // RTA_OIF
        #expect(u32(attrs[6]) == 5)                              // RTA_PRIORITY
        #expect(u32(attrs[15]) == 1000)                          // RTA_TABLE
    }

    @Test("routes default their scope and print like ip route")
    func routeValues() throws {
        let direct = Route(destination: try IPPrefix("10.3.0.0/24"), device: "br0")
        #expect(direct.scope == .link)
        let viaGateway = Route(destination: try IPPrefix("0.0.0.0/0"), gateway: IPAddress("10.0.0.1"))
        #expect(viaGateway.scope == .universe)
        #expect(viaGateway.description == "default via 10.0.0.1")
        let full = Route(destination: try IPPrefix("10.2.0.0/16"), gateway: IPAddress("10.0.0.1"), device: "eth0",
                         onlink: true, table: 100, metric: 7)
        #expect(full.description == "10.2.0.0/16 via 10.0.0.1 dev eth0 table 100 metric 7 onlink")
    }

    @Test("error codes come from errno and libnl numbers, and the text names the operation")
    func errors() {
        let error = NetlinkError.system(3, "add route 10.1.0.0/24 via 10.0.0.1")  // ESRCH
        #expect(error.code == .notFound)
        #expect(error.description == "add route 10.1.0.0/24 via 10.0.0.1: No such process")
        #expect(NetlinkError.system(17, "x").code == .exists)
        #expect(NetlinkError.system(19, "x").code == .linkNotFound)
        #expect(NetlinkError.system(1, "x").code == .permissionDenied)
        #expect(NetlinkError.system(22, "x", kernelMessage: "Invalid prefix").description == "x: Invalid argument (Invalid prefix)")
        #expect(NetlinkError.libnl(-6, "x").code == .exists)  // NLE_EXIST
    }

    @Test("sysctl keys accept slashes or sysctl(8) dots")
    func sysctlPaths() {
        #expect(Sysctl.path(of: "net/ipv4/ip_forward") == "/proc/sys/net/ipv4/ip_forward")
        #expect(Sysctl.path(of: "net.ipv4.conf.all.rp_filter") == "/proc/sys/net/ipv4/conf/all/rp_filter")
        #expect(Sysctl.path(of: "net/ipv4/conf/eth0.100/rp_filter") == "/proc/sys/net/ipv4/conf/eth0.100/rp_filter")
    }
}
