import Client
public import ControllersCore
public import DaemonRuntime
import JSON
import Logging
public import NetAddress

/// The node-IPAM controller of `netplane controllers`: gives every Node without one a pod
/// CIDR per cluster CIDR (`spec.podCIDR` and `spec.podCIDRs`, one per family), carved by
/// `PodCIDRAllocator`.
///
/// Every pass recounts what the Nodes carry, so a deleted Node's subnet is free again on the
/// next pass and a restarted controller never hands out a subnet a Node already has. A
/// subnet just patched onto a Node stays reserved until the informer shows it there, so two
/// Nodes joining together never get the same one.
public final class NodeIPAMController: Sendable {
    public struct Settings: Sendable {
        public var clusterCIDRs: [IPPrefix]
        public var maskSizeIPv4: Int
        public var maskSizeIPv6: Int
        public var resyncPeriod: Duration

        public init(clusterCIDRs: [IPPrefix], maskSizeIPv4: Int = 24, maskSizeIPv6: Int = 64,
                    resyncPeriod: Duration = .seconds(30)) {
            self.clusterCIDRs = clusterCIDRs
            self.maskSizeIPv4 = maskSizeIPv4
            self.maskSizeIPv6 = maskSizeIPv6
            self.resyncPeriod = resyncPeriod
        }
    }

    let daemon: Daemon
    let settings: Settings
    let nodes: Informer<Node>
    let work = WorkQueue()
    let loop: SyncLoop
    let prototypes: [PodCIDRAllocator]

    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    /// Checks the settings (one cluster CIDR per family at most, mask sizes that fit).
    public init(daemon: Daemon, settings: Settings) throws(PodCIDRAllocator.Error) {
        guard !settings.clusterCIDRs.isEmpty else { throw .init(description: "no cluster CIDR given") }
        guard settings.clusterCIDRs.filter(\.address.isIPv4).count <= 1,
              settings.clusterCIDRs.filter({ !$0.address.isIPv4 }).count <= 1 else {
            throw .init(description: "at most one cluster CIDR per IP family (dual-stack: one IPv4 and one IPv6)")
        }
        var prototypes: [PodCIDRAllocator] = []
        for cidr in settings.clusterCIDRs {
            prototypes.append(try PodCIDRAllocator(clusterCIDR: cidr,
                                                   maskSize: cidr.address.isIPv4 ? settings.maskSizeIPv4 : settings.maskSizeIPv6))
        }
        self.prototypes = prototypes
        self.daemon = daemon
        self.settings = settings
        let work = work
        nodes = daemon.informer(Node.self) { _ in work.markFull() }
        loop = daemon.syncLoop(work, .init(resyncPeriod: settings.resyncPeriod, name: "nodeipam"))
    }

    /// What passes carry over: the allocators, and the subnets patched onto Nodes the cache
    /// does not show yet, by node name.
    struct State {
        var allocators: [PodCIDRAllocator]
        var inFlight: [String: [IPPrefix]] = [:]
    }

    /// Runs until cancelled. Every pass is a whole one: it recounts what every Node carries.
    public func run() async throws {
        guard await daemon.cachesSynced() else { return }
        try await loop.run(setup: { State(allocators: prototypes) }) { state, _ in
            let failed = await pass(&state.allocators, &state.inFlight)
            // The loop tries again, with back-off.
            if !failed.isEmpty { throw DaemonError(message: "pod CIDRs not assigned to \(failed.sorted().joined(separator: ", "))") }
        }
    }

    /// One reconciliation: count what is taken, then give every Node without CIDRs its own.
    /// Returns the Nodes whose patch failed.
    func pass(_ allocators: inout [PodCIDRAllocator], _ inFlight: inout [String: [IPPrefix]]) async -> [String] {
        var failed: [String] = []
        let current = nodes.list().sorted { $0.name < $1.name }
        let names = Set(current.map(\.name))
        inFlight = inFlight.filter { names.contains($0.key) }
        for i in allocators.indices { allocators[i].releaseAll() }
        var owners: [IPPrefix: String] = [:]
        for node in current {
            let carried = node.podCIDRs.compactMap { try? IPPrefix($0) }
            if !carried.isEmpty { inFlight[node.name] = nil }
            for cidr in carried + (inFlight[node.name] ?? []) {
                if let other = owners[cidr], other != node.name {
                    logger.warning("nodes \(other) and \(node.name) both carry pod CIDR \(cidr); fix one of them by hand")
                }
                owners[cidr] = node.name
                for i in allocators.indices { allocators[i].occupy(cidr) }
            }
        }
        // picked[i] came from allocators[i].
        func release(_ picked: [IPPrefix]) {
            for (i, cidr) in picked.enumerated() { allocators[i].release(cidr) }
        }
        for node in current where node.podCIDRs.isEmpty && inFlight[node.name] == nil && node.deletionTimestamp == nil {
            var picked: [IPPrefix] = []
            for i in allocators.indices {
                guard let cidr = allocators[i].allocate() else {
                    logger.warning("node \(node.name): no free /\(allocators[i].maskSize) left in \(allocators[i].clusterCIDR) (\(allocators[i].capacity) in use)")
                    break
                }
                picked.append(cidr)
            }
            guard picked.count == allocators.count else {
                release(picked)
                continue
            }
            let patch: JSONValue = ["spec": ["podCIDR": .string(picked[0].description),
                                             "podCIDRs": .array(picked.map { .string($0.description) })]]
            do {
                _ = try await client.patch(Node.self, name: node.name, patch)
                inFlight[node.name] = picked
                logger.info("node \(node.name): pod CIDRs \(picked.map(\.description).joined(separator: ","))")
            } catch {
                // The node went away or the server is unreachable: the subnets stay free and
                // the loop's retry (or the next event) tries again.
                release(picked)
                failed.append(node.name)
                logger.error("node \(node.name): assigning pod CIDRs failed: \(error)")
            }
        }
        return failed
    }
}
