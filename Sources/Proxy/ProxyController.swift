public import Client
import JSON
public import NFTables
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

/// `netplane proxy`'s loop: informers on Services, EndpointSlices and this Node feed
/// ServicePorts to the IPv4 and IPv6 ProxyTables; a change marks its service dirty and wakes
/// the loop, which commits only those services (one transaction for both families); every
/// `syncPeriod` a full sync rewrites the tables from the caches (repairing anything changed
/// behind the proxy's back).
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
        /// Where a line about each sync goes.
        public var log: @Sendable (String) -> Void = { _ in }

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

    let settings: Settings
    let services: Informer<Service>
    let slices: Informer<EndpointSlice>
    let nodes: Informer<Node>
    public let metrics = SyncMetrics()

    let work = WorkQueue()
    /// Set once the kernel refused conntrack netlink (logged once, then no more attempts).
    let conntrackUnavailable = Mutex(false)

    public init(client: APIClient, settings: Settings) {
        self.settings = settings
        let work = self.work
        services = Informer<Service>(client) { event in work.mark(Self.key(event.object)) }
        slices = Informer<EndpointSlice>(client, indexers: ["service": { slice in
            slice.serviceName.map { ["\(slice.namespace ?? "")/\($0)"] } ?? []
        }]) { event in
            let slice = event.object
            if let service = slice.serviceName { work.mark("\(slice.namespace ?? "")/\(service)") }
        }
        // The node's addresses decide where node ports answer: a change rebuilds everything.
        nodes = Informer<Node>(client, options: ListOptions(fieldSelector: "metadata.name=\(settings.nodeName)")) { _ in
            work.markFull()
        }
    }

    static func key(_ service: Service) -> String { "\(service.namespace ?? "")/\(service.name)" }

    /// Runs until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.services.run() }
            group.addTask { await self.slices.run() }
            group.addTask { await self.nodes.run() }
            group.addTask { await self.syncLoop() }
            await group.next()
            group.cancelAll()
        }
    }

    func syncLoop() async {
        if case .ipvs(let scheduler) = settings.mode {
            await ipvsLoop(scheduler: scheduler)
            return
        }
        guard await cachesSynced() else { return }
        let socket: NFTSocket
        do { socket = try settings.namespacePath.map { try NFTSocket(namespacePath: $0) } ?? NFTSocket() } catch {
            metrics.failed("opening the nftables socket: \(error)")
            return
        }
        var state = SyncState(settings: settings, nodeAddresses: nodeAddresses())
        _ = work.take()
        fullSync(&state, socket)
        let timer = work.markFullEvery(settings.syncPeriod)
        defer { timer.cancel() }
        for await _ in work.wakes {
            if Task.isCancelled { break }
            let next = work.take()
            let addresses = nodeAddresses()
            if next.full || addresses != state.nodeAddresses {
                let udpPorts = state.udpPorts
                state = SyncState(settings: settings, nodeAddresses: addresses)
                state.udpPorts = udpPorts
                fullSync(&state, socket)
            } else if !next.dirty.isEmpty {
                incrementalSync(&state, next.dirty, socket)
            }
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
            settings.log("conntrack: \(deleted) UDP flow(s) to \(stale.count) removed endpoint(s) deleted")
        } catch let error as NetlinkError where error.code == .unsupported || error.code == .notFound {
            conntrackUnavailable.withLock { $0 = true }
            settings.log("conntrack netlink is not available (\(error)): UDP flows to removed endpoints stay until they time out")
        } catch {
            settings.log("conntrack: deleting UDP flows failed: \(error)")
        }
    }

    /// Waits until every informer has listed once (false when cancelled first).
    func cachesSynced() async -> Bool {
        for informerSynced in [{ await self.services.waitForSync(timeout: .seconds(3600)) },
                               { await self.slices.waitForSync(timeout: .seconds(3600)) },
                               { await self.nodes.waitForSync(timeout: .seconds(3600)) }] {
            guard await informerSynced() else { return false }
        }
        return true
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
        return ServicePorts.build(services: [service.json], slices: slices.byIndex("service", key).map(\.json),
                                  nodeName: settings.nodeName)
    }

    func fullSync(_ state: inout SyncState, _ socket: NFTSocket) {
        let start = ContinuousClock.now
        let (all, byService) = allPorts()
        var (v4, v6) = state.takeTables()
        defer { state.putTables(v4, v6) }
        do {
            try v4.syncFull(all) { (t4: Transaction) throws(NFTablesError) in
                try v6.syncFull(all) { (t6: Transaction) throws(NFTablesError) in try socket.commit(t4 + t6) }
            }
            state.portsByService = byService
            metrics.record(ContinuousClock.now - start, services: all.count)
            settings.log("full sync: \(all.count) service ports in \(ContinuousClock.now - start)")
            let udp = all.filter { $0.proto == .udp }
            flushConntrack(ConntrackCleanup.staleUDPEndpoints(before: Array(state.udpPorts.values), after: udp))
            state.udpPorts = Dictionary(udp.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        } catch {
            metrics.failed(error.description)
            settings.log("full sync failed: \(error)")
        }
    }

    func incrementalSync(_ state: inout SyncState, _ dirty: Set<String>, _ socket: NFTSocket) {
        let start = ContinuousClock.now
        let (upserted, removed, byService) = changedPorts(dirty, known: state.portsByService)
        var (v4, v6) = state.takeTables()
        defer { state.putTables(v4, v6) }
        do {
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
            metrics.record(ContinuousClock.now - start, services: v4.count)
            settings.log("sync of \(dirty.sorted().joined(separator: ", ")): \(upserted.count) port(s) updated, \(removed.count) removed in \(ContinuousClock.now - start)")
        } catch {
            settings.log("sync of \(dirty.sorted().joined(separator: ", ")) failed: \(error); a full sync follows")
            // The kernel refused: nothing changed there or in memory; try again from scratch.
            metrics.failed(error.description)
            work.markFull()
        }
    }
}

/// Sync durations as a Prometheus histogram, and what /healthz reports.
public final class SyncMetrics: Sendable {
    static let buckets: [Double] = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct State {
        var counts = [Int](repeating: 0, count: SyncMetrics.buckets.count)
        var count = 0
        var sum = 0.0
        var failures = 0
        var lastSuccess: ContinuousClock.Instant?
        var lastError: String?
        var services = 0
    }

    let state = Mutex(State())

    func record(_ duration: Duration, services: Int) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        state.withLock { state in
            for (i, bound) in Self.buckets.enumerated() where seconds <= bound { state.counts[i] += 1 }
            state.count += 1
            state.sum += seconds
            state.lastSuccess = .now
            state.lastError = nil
            state.services = services
        }
    }

    func failed(_ message: String) {
        state.withLock { state in
            state.failures += 1
            state.lastError = message
        }
    }

    /// Healthy while a sync has succeeded within `window`.
    public func healthy(within window: Duration) -> (ok: Bool, message: String) {
        state.withLock { state in
            guard let last = state.lastSuccess else { return (false, "no sync yet" + (state.lastError.map { ": \($0)" } ?? "")) }
            let age = ContinuousClock.now - last
            if age > window { return (false, "last successful sync \(age) ago" + (state.lastError.map { ": \($0)" } ?? "")) }
            return (true, "ok")
        }
    }

    /// The Prometheus text exposition.
    public func render() -> String {
        state.withLock { state in
            var lines = ["# HELP netplane_proxy_sync_duration_seconds How long a sync of the proxy rules took.",
                         "# TYPE netplane_proxy_sync_duration_seconds histogram"]
            for (i, bound) in Self.buckets.enumerated() {
                lines.append("netplane_proxy_sync_duration_seconds_bucket{le=\"\(bound)\"} \(state.counts[i])")
            }
            lines.append("netplane_proxy_sync_duration_seconds_bucket{le=\"+Inf\"} \(state.count)")
            lines.append("netplane_proxy_sync_duration_seconds_sum \(state.sum)")
            lines.append("netplane_proxy_sync_duration_seconds_count \(state.count)")
            lines.append("# TYPE netplane_proxy_sync_failures_total counter")
            lines.append("netplane_proxy_sync_failures_total \(state.failures)")
            lines.append("# TYPE netplane_proxy_service_ports gauge")
            lines.append("netplane_proxy_service_ports \(state.services)")
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
