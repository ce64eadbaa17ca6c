import CNetlink

extension NetlinkHandle {
    /// Adds many routes with a few system calls per few hundred routes (see `performBatch`).
    ///
    /// Every route is attempted even if some fail; afterwards the first failure is thrown, its
    /// reason saying how many failed in all. Meant for appliers that install thousands of
    /// routes at start-up or resync; it is faster than `ip -batch`, which waits for one
    /// acknowledgement per route.
    public func addRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .add)
    }

    /// `replaceRoute` for many routes; same batching and error reporting as `addRoutes`.
    public func replaceRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .replace)
    }

    /// `deleteRoute` for many routes; same batching and error reporting as `addRoutes`.
    public func deleteRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .delete)
    }

    private func changeRoutes(_ routes: [Route], _ verb: RouteVerb) throws(NetlinkError) {
        // Each device name is resolved once for the whole batch.
        var indexes: [String: Int32] = [:]
        for name in Set(routes.compactMap(\.device)) {
            indexes[name] = try resolve(name, "\(verb) routes dev \(name)")
        }
        let failures = try performBatch(count: routes.count, { "\(verb) route \(routes[$0])" }) { (i) throws(NetlinkError) in
            let route = routes[i]
            return try routeMessage(route, verb, deviceIndex: route.device.flatMap { indexes[$0] },
                                    "\(verb) route \(route)")
        }
        guard let (_, first) = failures.first else { return }
        guard failures.count > 1 else { throw first }
        throw NetlinkError(code: first.code, operation: first.operation, errno: first.errno, link: first.link,
                           reason: first.reason + " (\(failures.count) of \(routes.count) routes failed)")
    }
}
