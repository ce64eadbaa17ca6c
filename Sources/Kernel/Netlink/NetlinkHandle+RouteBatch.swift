import CNetlink

/// Batched changes: many requests with a few system calls per few hundred (see
/// `performBatch`), for appliers that install thousands of entries at start-up or resync.
/// They are faster than `ip -batch`, which waits for one acknowledgement per line.
///
/// Every entry is attempted even if some fail; afterwards the first failure is thrown, its
/// reason saying how many failed in all. Mixed changes go through `NetlinkBatch`.
extension NetlinkHandle {
    /// `addRoute` for many routes.
    public func addRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .add)
    }

    /// `deleteRoute` for many routes.
    public func deleteRoutes(_ routes: [Route]) throws(NetlinkError) {
        try changeRoutes(routes, .delete)
    }

    private func changeRoutes(_ routes: [Route], _ verb: RouteVerb) throws(NetlinkError) {
        var batch = NetlinkBatch()
        batch.items = routes.map { .route($0, verb) }
        let failures = try perform(batch)
        guard let (_, first) = failures.first else { return }
        throw first.summarizing(failures.count, of: routes.count, "routes")
    }
}

/// Mixed changes (routes, neighbours, FDB entries, adds and deletes) sent as one batch, in
/// order: the kernel handles them as listed, so an FDB entry added before a route is there
/// when the route is. Each device name is resolved once for the whole batch.
public struct NetlinkBatch: Sendable {
    enum Item: Sendable {
        case route(Route, NetlinkHandle.RouteVerb)
        case neighbour(Neighbour, delete: Bool)
        case fdb(FDBEntry, delete: Bool)

        var device: String? {
            switch self {
            case .route(let r, _): r.device
            case .neighbour(let n, _): n.device
            case .fdb(let f, _): f.device
            }
        }

        var summary: String {
            switch self {
            case .route(let r, let verb): "\(verb) route \(r)"
            case .neighbour(let n, let delete): n.operation(delete ? "delete" : "replace")
            case .fdb(let f, let delete): f.operation(delete ? "delete" : "replace")
            }
        }
    }

    var items: [Item] = []

    public init() {}

    public var isEmpty: Bool { items.isEmpty }
    public var count: Int { items.count }

    public mutating func replace(_ route: Route) { items.append(.route(route, .replace)) }
    public mutating func delete(_ route: Route) { items.append(.route(route, .delete)) }
    public mutating func replace(_ neighbour: Neighbour) { items.append(.neighbour(neighbour, delete: false)) }
    public mutating func delete(_ neighbour: Neighbour) { items.append(.neighbour(neighbour, delete: true)) }
    public mutating func replace(_ entry: FDBEntry) { items.append(.fdb(entry, delete: false)) }
    public mutating func delete(_ entry: FDBEntry) { items.append(.fdb(entry, delete: true)) }
}

extension NetlinkHandle {
    /// Sends `batch`; every change is attempted. Returns the failures (position in the batch
    /// and error), so a caller can accept some (deleting what is already gone) and not others.
    public func perform(_ batch: NetlinkBatch) throws(NetlinkError) -> [(Int, NetlinkError)] {
        var indexes: [String: Int32] = [:]
        for name in Set(batch.items.compactMap(\.device)) {
            indexes[name] = try resolve(name, "resolve dev \(name) for a batch of \(batch.count) changes")
        }
        let items = batch.items
        return try performBatch(count: items.count, { items[$0].summary }) { (i) throws(NetlinkError) in
            let item = items[i], index = item.device.flatMap { indexes[$0] }
            switch item {
            case .route(let route, let verb):
                return try routeMessage(route, verb, deviceIndex: index, item.summary)
            case .neighbour(let neighbour, let delete):
                return try neighbourMessage(neighbour, index: index ?? 0, flags: delete ? nil : NLM_F_CREATE | NLM_F_REPLACE, item.summary)
            case .fdb(let entry, let delete):
                return try fdbMessage(entry, index: index ?? 0, flags: delete ? nil : NLM_F_CREATE | NLM_F_REPLACE, item.summary)
            }
        }
    }
}

extension NetlinkError {
    /// The first of several failures of a batch, its reason saying how many failed in all.
    public func summarizing(_ failed: Int, of total: Int, _ what: String) -> NetlinkError {
        guard failed > 1 else { return self }
        return NetlinkError(code: code, operation: operation, errno: errno, link: link,
                            reason: reason + " (\(failed) of \(total) \(what) failed)")
    }
}
