import IPVS
import NetAddress
import Netlink

/// IPVS mode's loop: the same informers and work queue as nftables mode, an `IPVSProxier`
/// instead of the ProxyTables.
extension ProxyController {
    func ipvsLoop(scheduler: String) async {
        guard await cachesSynced() else { return }
        let namespace: NetNS?
        do { namespace = try settings.namespacePath.map { try NetNS.open(path: $0) } } catch {
            metrics.failed("opening the namespace: \(error)")
            return
        }
        func proxier(_ addresses: [IPAddress]) throws -> IPVSProxier {
            try IPVSProxier(options: IPVSOptions(scheduler: scheduler, clusterCIDRs: settings.clusterCIDRs,
                                                 masqueradeAll: settings.masqueradeAll, nodePortAddresses: addresses,
                                                 tableName: settings.tableName + "-ipvs"),
                            namespace: namespace)
        }
        var addresses = nodeAddresses()
        var current: IPVSProxier
        do { current = try proxier(addresses) } catch {
            metrics.failed("opening IPVS: \(error)")
            settings.log("IPVS mode cannot start: \(error)")
            return
        }
        var portsByService: [String: [String]] = [:]
        _ = work.take()
        var healthy = ipvsFull(current, &portsByService)
        let timer = work.markFullEvery(settings.syncPeriod)
        defer { timer.cancel() }
        for await _ in work.wakes {
            if Task.isCancelled { break }
            let next = work.take()
            let now = nodeAddresses()
            if now != addresses {
                addresses = now
                do { current = try proxier(addresses) } catch { settings.log("IPVS: \(error)"); continue }
                healthy = ipvsFull(current, &portsByService)
            } else if next.full || !healthy {
                healthy = ipvsFull(current, &portsByService)
            } else if !next.dirty.isEmpty {
                healthy = ipvsIncremental(current, next.dirty, &portsByService)
            }
        }
    }

    func ipvsFull(_ proxier: IPVSProxier, _ portsByService: inout [String: [String]]) -> Bool {
        let start = ContinuousClock.now
        let (all, byService) = allPorts()
        do {
            try proxier.syncFull(all)
            portsByService = byService
            metrics.record(ContinuousClock.now - start, services: all.count)
            settings.log("IPVS full sync: \(all.count) service ports in \(ContinuousClock.now - start)")
            return true
        } catch {
            metrics.failed("\(error)")
            settings.log("IPVS full sync failed: \(error); trying again in a second")
            work.markFull(after: .seconds(1))
            return false
        }
    }

    func ipvsIncremental(_ proxier: IPVSProxier, _ dirty: Set<String>, _ portsByService: inout [String: [String]]) -> Bool {
        let start = ContinuousClock.now
        let (upserted, removed, byService) = changedPorts(dirty, known: portsByService)
        do {
            try proxier.syncChanges(upserted: upserted, removed: removed)
            portsByService = byService
            metrics.record(ContinuousClock.now - start, services: proxier.portCount)
            settings.log("IPVS sync of \(dirty.sorted().joined(separator: ", ")): \(upserted.count) port(s) updated, \(removed.count) removed in \(ContinuousClock.now - start)")
            return true
        } catch {
            metrics.failed("\(error)")
            settings.log("IPVS sync of \(dirty.sorted().joined(separator: ", ")) failed: \(error); a full sync follows")
            work.markFull()
            return false
        }
    }
}
