import CNetlink
import NetAddress
import Glibc

/// RTNH_F_ONLINK and RTM_F_CLONED from <linux/rtnetlink.h> (macros Swift cannot import).
let rtnhOnlink: UInt32 = 4
let rtmClonedFlag: UInt32 = 0x200

extension Route {
    /// A libnl route object for this route; the caller releases it with `rtnl_route_put`.
    ///
    /// For a delete, protocol and scope are left as wildcards (0 and `nowhere`), as `ip route
    /// del` does, so the kernel matches the route however it was added.
    func libnlObject(deviceIndex: Int32?, forDelete: Bool, _ operation: String) throws(NetlinkError) -> OpaquePointer {
        if let gateway, gateway.isIPv4 != destination.address.isIPv4 {
            throw .invalid("gateway \(gateway) is not of the destination's family", operation)
        }
        guard let route = rtnl_route_alloc() else { throw .system(ENOMEM, operation) }
        var ok = false
        defer { if !ok { rtnl_route_put(route) } }

        _ = rtnl_route_set_family(route, UInt8(destination.address.family))
        var status = try NLAddress(destination).apply { rtnl_route_set_dst(route, $0) }
        if status < 0 { throw .libnl(status, operation) }
        rtnl_route_set_table(route, table)
        _ = rtnl_route_set_type(route, type.rawValue)
        rtnl_route_set_scope(route, forDelete ? RouteScope.nowhere.rawValue : scope.rawValue)
        rtnl_route_set_protocol(route, forDelete ? 0 : proto.rawValue)
        if let metric { rtnl_route_set_priority(route, metric) }
        if let source {
            status = try NLAddress(source).apply { rtnl_route_set_pref_src(route, $0) }
            if status < 0 { throw .libnl(status, operation) }
        }
        if gateway != nil || deviceIndex != nil {
            guard let hop = rtnl_route_nh_alloc() else { throw .system(ENOMEM, operation) }
            rtnl_route_add_nexthop(route, hop)  // the route owns the hop from here on
            if let deviceIndex { rtnl_route_nh_set_ifindex(hop, deviceIndex) }
            if onlink { rtnl_route_nh_set_flags(hop, rtnhOnlink) }
            if let gateway { try NLAddress(gateway).apply { rtnl_route_nh_set_gateway(hop, $0) } }
        }
        ok = true
        return route
    }

    /// Reads a parsed libnl route; `names` maps interface indexes to names.
    init?(libnl route: OpaquePointer, names: [Int32: String]) {
        let family = Int32(rtnl_route_get_family(route))
        guard family == AF_INET || family == AF_INET6,
              let destination = IPPrefix(nl: rtnl_route_get_dst(route), family: family) else { return nil }
        var gateway: IPAddress?, device: String?, onlink = rtnl_route_get_flags(route) & rtnhOnlink != 0
        if rtnl_route_get_nnexthops(route) > 0, let hop = rtnl_route_nexthop_n(route, 0) {
            gateway = IPAddress(nl: rtnl_route_nh_get_gateway(hop))
            let index = Int32(rtnl_route_nh_get_ifindex(hop))
            device = index > 0 ? names[index] ?? "#\(index)" : nil
            onlink = onlink || rtnl_route_nh_get_flags(hop) & rtnhOnlink != 0
        }
        let priority = rtnl_route_get_priority(route)
        self.init(destination: destination, gateway: gateway, device: device, onlink: onlink,
                  scope: RouteScope(rawValue: rtnl_route_get_scope(route)),
                  table: rtnl_route_get_table(route),
                  metric: priority == 0 ? nil : priority,
                  proto: RouteProtocol(rawValue: rtnl_route_get_protocol(route)),
                  source: IPAddress(nl: rtnl_route_get_pref_src(route)),
                  type: RouteType(rawValue: rtnl_route_get_type(route)))
    }
}
