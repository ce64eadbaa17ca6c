import CNetlink
public import NetAddress
import Glibc

/// One conntrack entry (`conntrack -L`): the original direction's tuple and where replies
/// come from (after DNAT, the endpoint a service connection was sent to).
public struct ConntrackFlow: Hashable, Sendable, CustomStringConvertible {
    /// IP protocol number (6 TCP, 17 UDP, 132 SCTP).
    public var proto: UInt8
    public var source: IPAddress
    public var destination: IPAddress
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var replySource: IPAddress
    public var replySourcePort: UInt16

    public init(proto: UInt8, source: IPAddress, destination: IPAddress, sourcePort: UInt16, destinationPort: UInt16,
                replySource: IPAddress, replySourcePort: UInt16) {
        self.proto = proto
        self.source = source
        self.destination = destination
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
        self.replySource = replySource
        self.replySourcePort = replySourcePort
    }

    public var description: String {
        "proto \(proto) src=\(source) dst=\(destination) sport=\(sourcePort) dport=\(destinationPort) reply-src=\(replySource) reply-sport=\(replySourcePort)"
    }
}

/// The connection-tracking table through ctnetlink (NETLINK_NETFILTER), what `conntrack -L`
/// and `conntrack -D` do: list flows and delete them by their original tuple. The service
/// proxy uses it to forget UDP flows to endpoints that are gone (UDP has no connection to
/// end, so without this a client keeps sending to a dead endpoint).
///
/// Opening succeeds on any kernel; the first request fails with `.unsupported` or
/// `.notFound` where the kernel has no `nf_conntrack_netlink`.
public final class ConntrackHandle {
    let netlink: NetlinkHandle

    public convenience init() throws(NetlinkError) {
        try self.init(netlink: NetlinkHandle(netlinkProtocol: NETLINK_NETFILTER, namespace: nil))
    }

    public convenience init(namespace: NetNS) throws(NetlinkError) {
        try self.init(netlink: NetlinkHandle(netlinkProtocol: NETLINK_NETFILTER, namespace: namespace))
    }

    init(netlink: NetlinkHandle) { self.netlink = netlink }

    static func type(_ message: Int32) -> Int32 { Int32(NFNL_SUBSYS_CTNETLINK) << 8 | message }

    static func header(_ family: IPFamily) -> nfgenmsg {
        nfgenmsg(nfgen_family: UInt8(family.af), version: UInt8(NFNETLINK_V0), res_id: 0)
    }

    /// Every flow of `family` (IPv4 or IPv6).
    public func flows(family: IPFamily) throws(NetlinkError) -> [ConntrackFlow] {
        try netlink.dump("list conntrack flows", request: { () throws(NetlinkError) in
            try Message(type: Self.type(Int32(IPCTNL_MSG_CT_GET.rawValue)), header: Self.header(family))
        }, parse: Self.parse)
    }

    /// Deletes one flow by its original tuple (`.notFound` if it is already gone).
    public func delete(_ flow: ConntrackFlow) throws(NetlinkError) {
        let family: IPFamily = flow.source.isIPv4 ? .ipv4 : .ipv6
        let message = try Message(type: Self.type(Int32(IPCTNL_MSG_CT_DELETE.rawValue)), header: Self.header(family))
        try message.nest(Int32(CTA_TUPLE_ORIG.rawValue) | Int32(NLA_F_NESTED)) { () throws(NetlinkError) in
            try message.nest(Int32(CTA_TUPLE_IP.rawValue) | Int32(NLA_F_NESTED)) { () throws(NetlinkError) in
                let (src, dst) = flow.source.isIPv4 ? (CTA_IP_V4_SRC.rawValue, CTA_IP_V4_DST.rawValue) : (CTA_IP_V6_SRC.rawValue, CTA_IP_V6_DST.rawValue)
                try message.put(Int32(src), flow.source.bytes)
                try message.put(Int32(dst), flow.destination.bytes)
            }
            try message.nest(Int32(CTA_TUPLE_PROTO.rawValue) | Int32(NLA_F_NESTED)) { () throws(NetlinkError) in
                try message.put(Int32(CTA_PROTO_NUM.rawValue), flow.proto)
                try message.put(Int32(CTA_PROTO_SRC_PORT.rawValue), flow.sourcePort.bigEndian)
                try message.put(Int32(CTA_PROTO_DST_PORT.rawValue), flow.destinationPort.bigEndian)
            }
        }
        try netlink.perform(message, "delete conntrack flow \(flow)")
    }

    /// Deletes every flow of `family` that `matches`; returns how many went. Flows that
    /// vanish on their own meanwhile are not errors.
    @discardableResult
    public func deleteFlows(family: IPFamily, where matches: (ConntrackFlow) -> Bool) throws(NetlinkError) -> Int {
        var deleted = 0
        for flow in try flows(family: family) where matches(flow) {
            do throws(NetlinkError) {
                try delete(flow)
                deleted += 1
            } catch {
                if error.code != .notFound { throw error }
            }
        }
        return deleted
    }

    // MARK: - Parsing

    static func parse(_ message: UnsafeMutablePointer<nlmsghdr>) -> ConntrackFlow? {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: 64)
        let status = table.withUnsafeMutableBufferPointer {
            nlmsg_parse(message, Int32(MemoryLayout<nfgenmsg>.size), $0.baseAddress, 63, nil)
        }
        guard status >= 0, let original = table[Int(CTA_TUPLE_ORIG.rawValue)], let reply = table[Int(CTA_TUPLE_REPLY.rawValue)],
              let o = tuple(original), let r = tuple(reply) else { return nil }
        return ConntrackFlow(proto: o.proto, source: o.source, destination: o.destination, sourcePort: o.sourcePort,
                             destinationPort: o.destinationPort, replySource: r.source, replySourcePort: r.sourcePort)
    }

    static func nested(_ attribute: UnsafeMutablePointer<nlattr>) -> [UnsafeMutablePointer<nlattr>?]? {
        var table = [UnsafeMutablePointer<nlattr>?](repeating: nil, count: 32)
        let status = table.withUnsafeMutableBufferPointer { nla_parse_nested($0.baseAddress, 31, attribute, nil) }
        return status < 0 ? nil : table
    }

    static func tuple(_ attribute: UnsafeMutablePointer<nlattr>) -> (proto: UInt8, source: IPAddress, destination: IPAddress,
                                                                   sourcePort: UInt16, destinationPort: UInt16)? {
        guard let t = nested(attribute), let ip = t[Int(CTA_TUPLE_IP.rawValue)].flatMap(nested),
              let proto = t[Int(CTA_TUPLE_PROTO.rawValue)].flatMap(nested) else { return nil }
        func address(_ v4: UInt32, _ v6: UInt32) -> IPAddress? {
            guard let a = ip[Int(v4)] ?? ip[Int(v6)], let data = nla_data(a) else { return nil }
            return IPAddress(bytes: Array(UnsafeRawBufferPointer(start: data, count: Int(nla_len(a)))))
        }
        func port(_ type: UInt32) -> UInt16 { proto[Int(type)].map { UInt16(bigEndian: nla_get_u16($0)) } ?? 0 }
        guard let source = address(CTA_IP_V4_SRC.rawValue, CTA_IP_V6_SRC.rawValue),
              let destination = address(CTA_IP_V4_DST.rawValue, CTA_IP_V6_DST.rawValue),
              let number = proto[Int(CTA_PROTO_NUM.rawValue)].map({ nla_get_u8($0) }) else { return nil }
        return (number, source, destination, port(CTA_PROTO_SRC_PORT.rawValue), port(CTA_PROTO_DST_PORT.rawValue))
    }
}

@available(*, unavailable)
extension ConntrackHandle: Sendable {}
