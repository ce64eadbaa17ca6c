import Client
public import DaemonRuntime
import JSON
import Logging
import Metrics
import NFTables
import Netlink
public import NetAddress
import Synchronization

/// How the proxy programs services.
public enum ProxyMode: Sendable, Hashable {
    case nftables
    /// IPVS virtual servers (scheduler rr, wrr, lc, wlc, sh, dh, sed or nq), nftables for
    /// masquerading only.
    case ipvs(scheduler: String)
}

/// `netplane proxy`'s reconciler on the daemon runtime: informers on Services, EndpointSlices
/// and this Node mark services on the work queue; each pass of the sync loop commits only
/// the marked services (one transaction for both families), and a full pass (first, every
/// `syncPeriod`, after a failure) rewrites the tables from the caches, repairing anything
/// changed behind the proxy's back.
public final class ProxyController: Sendable {
    public struct Settings: Sendable {
        public var nodeName: String
        public var clusterCIDRs: [IPPrefix]
        public var masqueradeAll: Bool
        /// Node ports answer on the node's addresses inside these (all of them when empty).
        public var nodePortCIDRs: [IPPrefix]
        public var syncPeriod: Duration
        public var tableName: String
        /// nftables (the default) or IPVS with a scheduler.
        public var mode: ProxyMode = .nftables
        /// The network namespace to program, a path such as /run/netns/node1 (nil: the
        /// proxy's own).
        public var namespacePath: String?

        public init(nodeName: String, clusterCIDRs: [IPPrefix] = [], masqueradeAll: Bool = false,
                    nodePortCIDRs: [IPPrefix] = [], syncPeriod: Duration = .seconds(30), tableName: String = "netplane-proxy") {
            self.nodeName = nodeName
            self.clusterCIDRs = clusterCIDRs
            self.masqueradeAll = masqueradeAll
            self.nodePortCIDRs = nodePortCIDRs
            self.syncPeriod = syncPeriod
            self.tableName = tableName
        }
    }

    let daemon: Daemon
    let settings: Settings
    let services: Informer<Service>
    let slices: Informer<EndpointSlice>
    let nodes: Informer<Node>
    let work = WorkQueue()
    let loop: SyncLoop
    /// How many service ports the last sync programmed.
    let servicePorts: Gauge
    /// Set once the kernel refused conntrack netlink (logged once, then no more attempts).
    let conntrackUnavailable = Mutex(false)

    var logger: Logger { daemon.logger }

    public init(daemon: Daemon, settings: Settings) {
        self.daemon = daemon
        self.settings = settings
        let work = self.work
        services = daemon.informer(Service.self) { event in work.mark(Self.key(event.object)) }
        slices = daemon.informer(EndpointSlice.self, indexers: ["service": { slice in
            slice.serviceName.map { ["\(slice.namespace ?? "")/\($0)"] } ?? []
        }]) { event in
            let slice = event.object
            if let service = slice.serviceName { work.mark("\(slice.namespace ?? "")/\(service)") }
        }
        // The node's addresses decide where node ports answer: a change rebuilds everything.
        nodes = daemon.informer(Node.self, options: ListOptions(fieldSelector: "metadata.name=\(settings.nodeName)")) { _ in
            work.markFull()
        }
        loop = daemon.syncLoop(work, .init(resyncPeriod: settings.syncPeriod))
        servicePorts = Gauge(label: "netplane_proxy_service_ports", factory: daemon.observability.factory)
    }

    static func key(_ service: Service) -> String { "\(service.namespace ?? "")/\(service.name)" }

    /// Syncs until cancelled; throws when the proxy cannot start (no nftables socket, no IPVS).
    public func run() async throws {
        guard await daemon.cachesSynced() else { return }
        switch settings.mode {
        case .nftables:
            try await loop.run(setup: { () throws -> NFTablesState in
                let socket = try settings.namespacePath.map { try NFTSocket(namespacePath: $0) } ?? NFTSocket()
                return NFTablesState(socket: socket, tables: SyncState(settings: settings, nodeAddresses: nodeAddresses()))
            }, sync: { state, pass in try nftablesPass(&state, pass) })
        case .ipvs(let scheduler):
            try await loop.run(setup: { try ipvsSetup(scheduler: scheduler) },
                               sync: { state, pass in try ipvsPass(&state, pass) })
        }
    }

    /// nftables mode's state between passes: the socket, and the tables as last committed.
    struct NFTablesState {
        let socket: NFTSocket
        var tables: SyncState
    }

    func nftablesPass(_ state: inout NFTablesState, _ pass: SyncPass) throws {
        let addresses = nodeAddresses()
        if pass.full || addresses != state.tables.nodeAddresses {
            let udpPorts = state.tables.udpPorts
            state.tables = SyncState(settings: settings, nodeAddresses: addresses)
            state.tables.udpPorts = udpPorts
            try fullSync(&state.tables, state.socket)
        } else if !pass.dirty.isEmpty {
            try incrementalSync(&state.tables, pass.dirty, state.socket)
        }
    }

    /// Deletes the UDP flows to endpoints that stopped serving (see ConntrackCleanup). A kernel
    /// without conntrack netlink is reported once; the rules still work, only stale UDP
    /// flows then live until their timeout.
    func flushConntrack(_ stale: Set<ConntrackCleanup.Endpoint>) {
        guard !stale.isEmpty, !conntrackUnavailable.withLock({ $0 }) else { return }
        do {
            let handle = try settings.namespacePath.map { try ConntrackHandle(namespace: NetNS.open(path: $0)) } ?? ConntrackHandle()
            let deleted = try ConntrackCleanup.flush(stale, handle)
            logger.info("conntrack: UDP flows to removed endpoints deleted", metadata: ["flows": "\(deleted)", "endpoints": "\(stale.count)"])
        } catch let error as NetlinkError where error.code == .unsupported || error.code == .notFound {
            conntrackUnavailable.withLock { $0 = true }
            logger.warning("conntrack netlink is not available: UDP flows to removed endpoints stay until they time out", metadata: ["error": "\(error)"])
        } catch {
            logger.error("conntrack: deleting UDP flows failed", metadata: ["error": "\(error)"])
        }
    }

    /// The IPv4 and IPv6 tables as committed, and which port ids each service has there.
    struct SyncState {
        var v4: ProxyTable
        var v6: ProxyTable
        var portsByService: [String: [String]] = [:]
        var nodeAddresses: [IPAddress]
        /// The UDP ports as last committed, by id (to find endpoints that stopped serving).
        var udpPorts: [String: ServicePort] = [:]

        init(settings: Settings, nodeAddresses: [IPAddress]) {
            let options = ProxyOptions(clusterCIDRs: settings.clusterCIDRs, masqueradeAll: settings.masqueradeAll,
                                       nodePortAddresses: nodeAddresses, tableName: settings.tableName)
            v4 = ProxyTable(family: .ip, options: options)
            v6 = ProxyTable(family: .ip6, options: options)
            self.nodeAddresses = nodeAddresses
        }

        /// Moves the tables out (leaving small placeholders), so the caller's copies are
        /// the only references and a sync updates them in place instead of copying 10k entries.
        mutating func takeTables() -> (ProxyTable, ProxyTable) {
            let tables = (v4, v6)
            v4 = ProxyTable(family: .ip, options: ProxyOptions(shards: 1))
            v6 = v4
            return tables
        }

        mutating func putTables(_ v4: ProxyTable, _ v6: ProxyTable) {
            self.v4 = v4
            self.v6 = v6
        }
    }

    /// Where node ports answer: this Node's InternalIP/ExternalIP addresses inside the
    /// configured CIDRs; with no Node object, the CIDRs that name single addresses.
    func nodeAddresses() -> [IPAddress] {
        let cidrs = settings.nodePortCIDRs
        guard let node = nodes.get(name: settings.nodeName) else {
            return cidrs.filter { $0.length == $0.address.bitWidth }.map(\.address)
        }
        let all = node.addresses.filter { $0.type == "InternalIP" || $0.type == "ExternalIP" }.compactMap { IPAddress($0.address) }
        return Array(Set(all.filter { address in cidrs.isEmpty || cidrs.contains { $0.contains(address) } })).sorted()
    }

    /// Every service's ports as the caches have them, and the port ids of each service.
    func allPorts() -> (ports: [ServicePort], byService: [String: [String]]) {
        var all: [ServicePort] = []
        var byService: [String: [String]] = [:]
        for service in services.list() {
            let key = Self.key(service)
            let ports = ports(of: key)
            byService[key] = ports.map(\.id)
            all += ports
        }
        return (all, byService)
    }

    /// The ports of the `dirty` services now, the ids of their ports that are gone (against
    /// `known`, the ids last synced), and `known` updated.
    func changedPorts(_ dirty: Set<String>, known: [String: [String]])
        -> (upserted: [ServicePort], removed: [String], byService: [String: [String]]) {
        var upserted: [ServicePort] = []
        var removed: [String] = []
        var byService = known
        for key in dirty {
            let ports = ports(of: key)
            let ids = Set(ports.map(\.id))
            removed += (known[key] ?? []).filter { !ids.contains($0) }
            upserted += ports
            byService[key] = ports.isEmpty ? nil : ports.map(\.id)
        }
        return (upserted, removed, byService)
    }

    /// The service's ports as the caches have them now (none if it is gone).
    func ports(of key: String) -> [ServicePort] {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let service = services.get(namespace: parts[0], name: parts[1]) else { return [] }
        return ServicePorts.build(services: [service], slices: slices.byIndex("service", key),
                                  nodeName: settings.nodeName)
    }

    func fullSync(_ state: inout SyncState, _ socket: NFTSocket) throws {
        let start = ContinuousClock.now
        let (all, byService) = allPorts()
        var (v4, v6) = state.takeTables()
        defer { state.putTables(v4, v6) }
        try v4.syncFull(all) { (t4: Transaction) throws(NFTablesError) in
            try v6.syncFull(all) { (t6: Transaction) throws(NFTablesError) in try socket.commit(t4 + t6) }
        }
        state.portsByService = byService
        servicePorts.record(all.count)
        logger.info("full sync", metadata: ["ports": "\(all.count)", "took": "\(ContinuousClock.now - start)"])
        let udp = all.filter { $0.proto == .udp }
        flushConntrack(ConntrackCleanup.staleUDPEndpoints(before: Array(state.udpPorts.values), after: udp))
        state.udpPorts = Dictionary(udp.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Commits the `dirty` services only. When the kernel refuses, nothing changed there or in
    /// memory, and the loop's retry is a full sync.
    func incrementalSync(_ state: inout SyncState, _ dirty: Set<String>, _ socket: NFTSocket) throws {
        let start = ContinuousClock.now
        let (upserted, removed, byService) = changedPorts(dirty, known: state.portsByService)
        var (v4, v6) = state.takeTables()
        defer { state.putTables(v4, v6) }
        try v4.syncChanges(upserted: upserted, removed: removed) { (t4: Transaction) throws(NFTablesError) in
            try v6.syncChanges(upserted: upserted, removed: removed) { (t6: Transaction) throws(NFTablesError) in
                let both = t4 + t6
                if !both.isEmpty { try socket.commit(both) }
            }
        }
        let previous = dirty.flatMap { state.portsByService[$0] ?? [] }.compactMap { state.udpPorts[$0] }
        let udp = upserted.filter { $0.proto == .udp }
        state.portsByService = byService
        for port in previous { state.udpPorts[port.id] = nil }
        for port in udp { state.udpPorts[port.id] = port }
        flushConntrack(ConntrackCleanup.staleUDPEndpoints(before: previous, after: udp))
        servicePorts.record(v4.count)
        logger.info("sync", metadata: ["services": "\(dirty.sorted().joined(separator: ","))", "updated": "\(upserted.count)",
                                       "removed": "\(removed.count)", "took": "\(ContinuousClock.now - start)"])
    }
}
