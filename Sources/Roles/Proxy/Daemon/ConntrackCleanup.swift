public import Netlink
import NetAddress
public import ProxyCore

/// The kernel half of ConntrackCleanup (its pure half, which endpoints went stale, is in ProxyCore).
extension ConntrackCleanup {
    /// Deletes the UDP flows whose replies come from `endpoints`; returns how many went.
    public static func flush(_ endpoints: Set<Endpoint>, _ conntrack: ConntrackHandle) throws(NetlinkError) -> Int {
        guard !endpoints.isEmpty else { return 0 }
        var deleted = 0
        for family in [IPFamily.ipv4, .ipv6] where endpoints.contains(where: { $0.address.isIPv4 == (family == .ipv4) }) {
            deleted += try conntrack.deleteFlows(family: family) { flow in
                flow.proto == 17 && endpoints.contains(Endpoint(address: flow.replySource, port: flow.replySourcePort))
            }
        }
        return deleted
    }
}
