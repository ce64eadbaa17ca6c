import DaemonRuntime
import IPVS
import Logging
import NetAddress
import Netlink

/// IPVS mode's passes: the same informers, queue and loop as nftables mode, an `IPVSProxier`
/// instead of the ProxyTables.
extension ProxyController {
    struct IPVSState {
        let namespace: NetNS?
        let scheduler: String
        var proxier: IPVSProxier
        var addresses: [IPAddress]
        var portsByService: [String: [String]] = [:]
    }

    func ipvsProxier(scheduler: String, addresses: [IPAddress], namespace: NetNS?) throws -> IPVSProxier {
        try IPVSProxier(options: IPVSOptions(scheduler: scheduler, clusterCIDRs: settings.clusterCIDRs,
                                             masqueradeAll: settings.masqueradeAll, nodePortAddresses: addresses,
                                             tableName: settings.tableName + "-ipvs"),
                        namespace: namespace)
    }

    /// Opens IPVS in the node's namespace; failing that, the proxy cannot work at all.
    func ipvsSetup(scheduler: String) throws -> IPVSState {
        do {
            let namespace = try settings.namespacePath.map { try NetNS.open(path: $0) }
            let addresses = nodeAddresses()
            return IPVSState(namespace: namespace, scheduler: scheduler,
                             proxier: try ipvsProxier(scheduler: scheduler, addresses: addresses, namespace: namespace),
                             addresses: addresses)
        } catch {
            throw DaemonError(message: "IPVS mode cannot start: \(error)")
        }
    }

    func ipvsPass(_ state: inout IPVSState, _ pass: SyncPass) throws {
        let now = nodeAddresses()
        if now != state.addresses {
            state.proxier = try ipvsProxier(scheduler: state.scheduler, addresses: now, namespace: state.namespace)
            state.addresses = now
            try ipvsFull(&state)
        } else if pass.full {
            try ipvsFull(&state)
        } else if !pass.dirty.isEmpty {
            try ipvsIncremental(&state, pass.dirty)
        }
    }

    func ipvsFull(_ state: inout IPVSState) throws {
        let start = ContinuousClock.now
        let (all, byService) = allPorts()
        try state.proxier.syncFull(all)
        state.portsByService = byService
        servicePorts.record(all.count)
        logger.info("IPVS full sync", metadata: ["ports": "\(all.count)", "took": "\(ContinuousClock.now - start)"])
    }

    func ipvsIncremental(_ state: inout IPVSState, _ dirty: Set<String>) throws {
        let start = ContinuousClock.now
        let (upserted, removed, byService) = changedPorts(dirty, known: state.portsByService)
        try state.proxier.syncChanges(upserted: upserted, removed: removed)
        state.portsByService = byService
        servicePorts.record(state.proxier.portCount)
        logger.info("IPVS sync", metadata: ["services": "\(dirty.sorted().joined(separator: ","))", "updated": "\(upserted.count)",
                                            "removed": "\(removed.count)", "took": "\(ContinuousClock.now - start)"])
    }
}
