import CNetlink
import Glibc

extension NetlinkHandle {
    /// Adds a route (`ip route add`); `.exists` if an identical key is already routed.
    public func addRoute(_ route: Route) throws(NetlinkError) {
        try changeRoute(route, .add)
    }

    /// Adds or overwrites the route with the same destination, table, TOS and metric
    /// (`ip route replace`).
    public func replaceRoute(_ route: Route) throws(NetlinkError) {
        try changeRoute(route, .replace)
    }

    /// Deletes a route (`ip route del`); `.notFound` if none matches. Gateway, device and
    /// metric narrow the match when given; protocol and scope are not compared.
    public func deleteRoute(_ route: Route) throws(NetlinkError) {
        try changeRoute(route, .delete)
    }

    /// Routes of one table (nil: all tables, like `ip route show table all`), without the
    /// kernel's cached clones.
    public func routes(table: UInt32? = Route.mainTable, family: IPFamily = .ipv4) throws(NetlinkError) -> [Route] {
        let operation = "list routes" + (table.map { " table \($0)" } ?? " table all")
        let names = try linkNames()
        var header = rtmsg()
        header.rtm_family = UInt8(family.af)
        return try dump(operation, request: { () throws(NetlinkError) in
            try Message(type: Int32(RTM_GETROUTE), header: header)
        }, parse: { message in
            var parsed: OpaquePointer?
            guard rtnl_route_parse(message, &parsed) >= 0, let parsed else { return nil }
            defer { rtnl_route_put(parsed) }
            guard rtnl_route_get_flags(parsed) & rtmClonedFlag == 0,
                  table == nil || rtnl_route_get_table(parsed) == table else { return nil }
            return Route(libnl: parsed, names: names)
        })
    }

    enum RouteVerb: String {
        case add, replace, delete

        var flags: Int32 {
            switch self {
            case .add: NLM_F_EXCL
            case .replace: NLM_F_REPLACE
            case .delete: 0
            }
        }
    }

    func routeMessage(_ route: Route, _ verb: RouteVerb, deviceIndex: Int32?,
                      _ operation: String) throws(NetlinkError) -> Message {
        let object = try route.libnlObject(deviceIndex: deviceIndex, forDelete: verb == .delete, operation)
        defer { rtnl_route_put(object) }
        return try Message.build(operation) { result in
            verb == .delete
                ? rtnl_route_build_del_request(object, 0, result)
                : rtnl_route_build_add_request(object, verb.flags, result)
        }
    }

    private func changeRoute(_ route: Route, _ verb: RouteVerb) throws(NetlinkError) {
        let operation = "\(verb) route \(route)"
        let index = try route.device.map { (name) throws(NetlinkError) in try resolve(name, operation) }
        try perform(try routeMessage(route, verb, deviceIndex: index, operation), operation)
    }
}
