public import Netlink
import NetAddress

/// Converges the kernel to an `OverlayState`: the overlay's routes (those tagged with
/// `OverlayCompiler.routeProtocol`), the permanent neighbours and the FDB of the overlay
/// device. Entries already right are never touched, so a restart or a resync does not flap
/// anything; stale ones are removed; missing ones are added in batches.
///
/// It remembers what it last applied, so an update (one node joining) costs only the
/// requests for that node; `sync(full: true)` reads the kernel first, repairing anything
/// changed behind its back (the first sync, the periodic resync, and the one after a failure).
public final class OverlayApplier {
    public struct Changes: Hashable, Sendable, CustomStringConvertible {
        public var added = 0
        public var removed = 0
        public var isEmpty: Bool { added == 0 && removed == 0 }
        public init(added: Int = 0, removed: Int = 0) {
            self.added = added
            self.removed = removed
        }
        public var description: String { "\(added) added, \(removed) removed" }
    }

    let handle: NetlinkHandle
    let device: String?
    /// What the kernel held after the last successful sync; nil forces a read.
    var applied: OverlayState?

    /// `device`: the overlay device whose neighbours and FDB this applier owns (nil for host-gw).
    public init(handle: NetlinkHandle, device: String?) {
        self.handle = handle
        self.device = device
    }

    /// The overlay's entries as the kernel holds them now.
    public struct KernelEntries: Hashable, Sendable {
        public var routes: Set<Route> = []
        public var neighbours: Set<Neighbour> = []
        public var fdb: Set<FDBEntry> = []
    }

    public func current() throws(NetlinkError) -> KernelEntries {
        var state = KernelEntries()
        state.routes = Set(try handle.routes(table: Route.mainTable, family: .ipv4)
            .filter { $0.proto == OverlayCompiler.routeProtocol })
        if let device, (try? handle.link(named: device)) != nil {
            for neighbour in try handle.neighbours(link: device, family: .ipv4) where neighbour.state.contains(.permanent) {
                state.neighbours.insert(Neighbour(ip: neighbour.ip, mac: neighbour.mac, device: neighbour.device))
            }
            for entry in try handle.fdb(device: device) where entry.isSelf && entry.state.contains(.permanent) && entry.mac != .zero {
                guard let destination = entry.destination else { continue }
                state.fdb.insert(FDBEntry(mac: entry.mac, device: entry.device, destination: destination))
            }
        }
        return state
    }

    /// Makes the kernel match `desired`; returns what changed. Without `full`, and after a
    /// successful sync, only the nodes whose entries differ from the last sync's are touched.
    @discardableResult
    public func sync(_ desired: OverlayState, full: Bool = false) throws(NetlinkError) -> Changes {
        var stale = KernelEntries(), fresh = KernelEntries()
        if !full, let applied {
            // One pass over the desired nodes; the applied ones not met on the way are gone.
            var met = 0
            for (name, new) in desired.nodes {
                let old = applied.nodes[name]
                if old != nil { met += 1 }
                guard old != new else { continue }
                if new.route != old?.route { fresh.routes.insert(new.route) }
                if let n = new.neighbour, n != old?.neighbour { fresh.neighbours.insert(n) }
                if let f = new.fdb, f != old?.fdb { fresh.fdb.insert(f) }
                if let old {
                    if old.route != new.route { stale.routes.insert(old.route) }
                    if let n = old.neighbour, n != new.neighbour { stale.neighbours.insert(n) }
                    if let f = old.fdb, f != new.fdb { stale.fdb.insert(f) }
                }
            }
            if met < applied.nodes.count {
                for (name, old) in applied.nodes where desired.nodes[name] == nil {
                    stale.routes.insert(old.route)
                    if let n = old.neighbour { stale.neighbours.insert(n) }
                    if let f = old.fdb { stale.fdb.insert(f) }
                }
            }
            // An entry two nodes share (a node's subnet moved to another) stays.
            stale.routes.subtract(fresh.routes)
            stale.neighbours.subtract(fresh.neighbours)
            stale.fdb.subtract(fresh.fdb)
        } else {
            let before = try current()
            let routes = desired.routes, neighbours = desired.neighbours, fdb = desired.fdb
            stale = KernelEntries(routes: before.routes.subtracting(routes), neighbours: before.neighbours.subtracting(neighbours),
                                  fdb: before.fdb.subtracting(fdb))
            fresh = KernelEntries(routes: routes.subtracting(before.routes), neighbours: neighbours.subtracting(before.neighbours),
                                  fdb: fdb.subtracting(before.fdb))
        }
        applied = nil
        try apply(removing: stale, adding: fresh)
        applied = desired
        applied?.peers = [:]
        return Changes(added: fresh.routes.count + fresh.neighbours.count + fresh.fdb.count,
                       removed: stale.routes.count + stale.neighbours.count + stale.fdb.count)
    }

    /// One batch: stale entries out first (a node whose MAC changed: the old entries go, then
    /// the new ones come), routes before the neighbours and FDB entries they use; then new
    /// FDB entries and neighbours before the routes that lead to them, so no packet is routed
    /// into the device before it can be delivered.
    private func apply(removing stale: KernelEntries, adding fresh: KernelEntries) throws(NetlinkError) {
        var staleRoutes = stale.routes
        if !staleRoutes.isEmpty {
            // Routes through a device that is gone went with it.
            let devices = Set(try handle.links().map(\.name))
            staleRoutes = staleRoutes.filter { $0.device.map(devices.contains) ?? true }
        }
        var batch = NetlinkBatch()
        staleRoutes.forEach { batch.delete($0) }
        stale.neighbours.forEach { batch.delete($0) }
        stale.fdb.forEach { batch.delete($0) }
        let deletions = batch.count
        fresh.fdb.forEach { batch.replace($0) }
        fresh.neighbours.forEach { batch.replace($0) }
        fresh.routes.forEach { batch.replace($0) }
        guard !batch.isEmpty else { return }
        // Deleting what is already gone (removed by hand, or with its device) is fine.
        let failures = try handle.perform(batch).filter { $0.0 >= deletions || $0.1.code != .notFound }
        guard let (_, first) = failures.first else { return }
        throw first.summarizing(failures.count, of: batch.count, "changes")
    }

}
