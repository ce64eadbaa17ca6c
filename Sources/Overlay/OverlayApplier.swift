public import Netlink
public import NetAddress

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
    public func current() throws(NetlinkError) -> OverlayState {
        var state = OverlayState()
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

    /// Makes the kernel match `desired`; returns what changed.
    @discardableResult
    public func sync(_ desired: OverlayState, full: Bool = false) throws(NetlinkError) -> Changes {
        let before: OverlayState
        if full || applied == nil { before = try current() } else { before = applied! }
        applied = nil
        var changes = Changes()
        // Remove what is stale first (a node whose MAC changed: the old entries go, then the
        // new ones come), routes before the neighbours and FDB entries they use.
        var staleRoutes = before.routes.subtracting(desired.routes)
        if !staleRoutes.isEmpty {
            // Routes through a device that is gone went with it.
            let devices = Set(try handle.links().map(\.name))
            staleRoutes = staleRoutes.filter { $0.device.map(devices.contains) ?? true }
        }
        let staleNeighbours = before.neighbours.subtracting(desired.neighbours)
        let staleFDB = before.fdb.subtracting(desired.fdb)
        try ignoringMissing { () throws(NetlinkError) in try handle.deleteRoutes(Array(staleRoutes)) }
        try ignoringMissing { () throws(NetlinkError) in try handle.deleteNeighbours(Array(staleNeighbours)) }
        try ignoringMissing { () throws(NetlinkError) in try handle.deleteFDB(Array(staleFDB)) }
        changes.removed = staleRoutes.count + staleNeighbours.count + staleFDB.count
        // Then add: FDB and neighbours before the routes that lead to them, so no packet is
        // routed into the device before it can be delivered.
        let newFDB = desired.fdb.subtracting(before.fdb)
        let newNeighbours = desired.neighbours.subtracting(before.neighbours)
        let newRoutes = desired.routes.subtracting(before.routes)
        if !newFDB.isEmpty { try handle.replaceFDB(Array(newFDB)) }
        if !newNeighbours.isEmpty { try handle.replaceNeighbours(Array(newNeighbours)) }
        if !newRoutes.isEmpty { try handle.replaceRoutes(Array(newRoutes)) }
        changes.added = newRoutes.count + newNeighbours.count + newFDB.count
        applied = desired
        applied?.peers = [:]
        return changes
    }

    /// Deletions of entries already gone (removed by hand, or with their device) succeed.
    private func ignoringMissing(_ body: () throws(NetlinkError) -> Void) throws(NetlinkError) {
        do throws(NetlinkError) { try body() } catch {
            if error.code != .notFound { throw error }
        }
    }
}
