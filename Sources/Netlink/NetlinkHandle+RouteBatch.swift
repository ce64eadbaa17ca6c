import CNetlink

/// Batched changes: many requests with a few system calls per few hundred (see
/// `performBatch`), for appliers that install thousands of entries at start-up or resync.
/// They are faster than `ip -batch`, which waits for one acknowledgement per line.
///
/// Every entry is attempted even if some fail; afterwards the first failure is thrown, its
/// reason saying how many failed in all.
extension NetlinkHandle {
    /// `addRoute` for many routes.
    public func addRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .add)
    }

    /// `replaceRoute` for many routes.
    public func replaceRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .replace)
    }

    /// `deleteRoute` for many routes.
    public func deleteRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .delete)
    }

    /// `replaceNeighbour` for many entries.
    public func replaceNeighbours(_ neighbours: [Neighbour]) throws(NetlinkError) {
        try batch(neighbours, "replace", devices: \.device, what: "neighbours") { (n, index, op) throws(NetlinkError) in
            try neighbourMessage(n, index: index, flags: NLM_F_CREATE | NLM_F_REPLACE, op())
        }
    }

    /// `deleteNeighbour` for many entries.
    public func deleteNeighbours(_ neighbours: [Neighbour]) throws(NetlinkError) {
        try batch(neighbours, "delete", devices: \.device, what: "neighbours") { (n, index, op) throws(NetlinkError) in
            try neighbourMessage(n, index: index, flags: nil, op())
        }
    }

    /// `replaceFDB` for many VXLAN entries (each MAC to its one destination).
    public func replaceFDB(_ entries: [FDBEntry]) throws(NetlinkError) {
        try batch(entries, "replace", devices: \.device, what: "fdb entries") { (e, index, op) throws(NetlinkError) in
            try fdbMessage(e, index: index, flags: NLM_F_CREATE | NLM_F_REPLACE, op())
        }
    }

    /// `deleteFDB` for many VXLAN entries.
    public func deleteFDB(_ entries: [FDBEntry]) throws(NetlinkError) {
        try batch(entries, "delete", devices: \.device, what: "fdb entries") { (e, index, op) throws(NetlinkError) in
            try fdbMessage(e, index: index, flags: nil, op())
        }
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
        try Self.throwFirst(failures, of: routes.count, "routes")
    }

    /// Sends one message per item (built with its device's index) in batches.
    private func batch<T: CustomStringConvertible>(
        _ items: [T], _ verb: String, devices: (T) -> String, what: String,
        _ build: (T, Int32, () -> String) throws(NetlinkError) -> Message
    ) throws(NetlinkError) {
        var indexes: [String: Int32] = [:]
        for name in Set(items.map(devices)) {
            indexes[name] = try resolve(name, "\(verb) \(what) dev \(name)")
        }
        let failures = try performBatch(count: items.count, { "\(verb) \(items[$0])" }) { (i) throws(NetlinkError) in
            try build(items[i], indexes[devices(items[i])] ?? 0, { "\(verb) \(items[i])" })
        }
        try Self.throwFirst(failures, of: items.count, what)
    }

    private static func throwFirst(_ failures: [(Int, NetlinkError)], of count: Int, _ what: String) throws(NetlinkError) {
        guard let (_, first) = failures.first else { return }
        guard failures.count > 1 else { throw first }
        throw NetlinkError(code: first.code, operation: first.operation, errno: first.errno, link: first.link,
                           reason: first.reason + " (\(failures.count) of \(count) \(what) failed)")
    }
}
