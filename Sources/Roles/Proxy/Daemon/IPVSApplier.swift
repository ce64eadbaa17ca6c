import IPVS
import NetAddress
public import Netlink
public import NFTables

/// IPVS mode's applier: turns service ports into virtual servers with their real servers,
/// service addresses bound to a dummy device (so the node accepts packets for them), and the
/// nftables sets that decide masquerading (table `netplane-ipvs` per family: mark 0x4000 in
/// prerouting/output for frontends that need it, masquerade in postrouting, hairpin).
///
/// It keeps every port's compiled state and use counts of what ports share (an address bound
/// for two ports stays until neither needs it), so a change to one service costs the kernel
/// requests for that service only. `syncFull` reads what the kernel holds and repairs it.
public final class IPVSProxier {
    let options: IPVSOptions
    let ipvs: IPVSHandle
    let netlink: NetlinkHandle
    let nft: NFTSocket

    /// Applied state per port id.
    var ports: [String: IPVSPortState] = [:]
    /// What the kernel holds, as far as this proxier knows (valid after a successful sync).
    var services: [VirtualServer.Key: IPVSPortState.ServiceEntry] = [:]
    var serviceUse: [VirtualServer.Key: Int] = [:]
    var addressUse: [IPAddress: Int] = [:]
    var clusterUse: [Frontend: Int] = [:]
    var externalUse: [Frontend: Int] = [:]
    var hairpinUse: [Frontend: Int] = [:]

    /// Opens the IPVS, route-netlink and nftables sockets in `namespace` (nil: this
    /// process's) and sets what IPVS needs there to masquerade (`net.ipv4.vs.conntrack`) and
    /// to drop connections to removed real servers (`expire_nodest_conn`), as kube-proxy does.
    public init(options: IPVSOptions, namespace: NetNS?) throws {
        self.options = options
        if let namespace {
            ipvs = try IPVSHandle(namespace: namespace)
            netlink = try NetlinkHandle(namespace: namespace)
            nft = try NFTSocket(namespace: namespace)
        } else {
            ipvs = try IPVSHandle()
            netlink = try NetlinkHandle()
            nft = try NFTSocket()
        }
        for key in ["net/ipv4/vs/conntrack", "net/ipv4/vs/expire_nodest_conn", "net/ipv4/vs/expire_quiescent_template"] {
            try Sysctl.set(key, "1", in: namespace)
        }
    }

    public var portCount: Int { ports.count }

    // MARK: - Full sync

    /// Makes the kernel hold exactly what `all` needs: virtual servers (only those on the
    /// dummy device's addresses or the node-port addresses count as this proxy's), bound
    /// addresses, and the nftables tables rewritten in one transaction.
    public func syncFull(_ all: [ServicePort]) throws {
        ports = [:]
        serviceUse = [:]; addressUse = [:]; clusterUse = [:]; externalUse = [:]; hairpinUse = [:]
        var desired: [VirtualServer.Key: IPVSPortState.ServiceEntry] = [:]
        for port in all {
            let state = IPVSCompiler.compile(port, options)
            ports[port.id] = state
            count(state, +1)
            for (key, entry) in state.services { desired[key] = entry }
        }
        services = [:]
        try ensureDevice()

        // Virtual servers: the kernel's (ours) against the desired.
        let bound = Set(try netlink.addresses(link: options.device).map(\.prefix.address))
        let nodeAddresses = Set(options.nodePortAddresses)
        var current: [VirtualServer.Key: IPVSPortState.ServiceEntry] = [:]
        for service in try ipvs.services() where bound.contains(service.address) || nodeAddresses.contains(service.address) {
            current[service.key] = .init(service: service, destinations: Set(try ipvs.destinations(of: service.key)))
        }
        for (key, entry) in desired { try apply(entry, over: current[key]) }
        // New addresses after their virtual servers exist; stale ones before theirs go.
        let wanted = Set(addressUse.keys)
        for address in wanted.subtracting(bound) { try bind(address) }
        for address in bound.subtracting(wanted) { try unbind(address) }
        for key in Set(current.keys).subtracting(desired.keys) { try ipvs.deleteService(key) }
        services = desired

        var tx = Transaction()
        for family in [Family.ip, .ip6] { tx = tx + IPVSRules.table(family: family, options: options, cluster: Set(clusterUse.keys),
                                                                  external: Set(externalUse.keys), hairpin: Set(hairpinUse.keys)) }
        try nft.commit(tx)
    }

    // MARK: - Changes

    /// Applies the ports of changed services (`upserted`) and the removal of ports that are
    /// gone (`removed`, by id).
    public func syncChanges(upserted: [ServicePort], removed: [String]) throws {
        var changedKeys = Set<VirtualServer.Key>()
        // Virtual servers as the changed ports now define them.
        var desired: [VirtualServer.Key: IPVSPortState.ServiceEntry] = [:]
        var addressDelta: [IPAddress: Int] = [:]
        var frontendDelta = (cluster: [Frontend: Int](), external: [Frontend: Int](), hairpin: [Frontend: Int]())
        var replaced: [(String, IPVSPortState?)] = removed.map { ($0, nil) }
        replaced += upserted.map { ($0.id, IPVSCompiler.compile($0, options)) }
        for (id, new) in replaced {
            let old = ports[id]
            if old == new { continue }
            for (state, sign) in [(old, -1), (new, 1)] {
                guard let state else { continue }
                count(state, sign)
                changedKeys.formUnion(state.services.keys)
                for a in state.addresses { addressDelta[a, default: 0] += sign }
                for f in state.clusterFrontends { frontendDelta.cluster[f, default: 0] += sign }
                for f in state.externalFrontends { frontendDelta.external[f, default: 0] += sign }
                for f in state.hairpins { frontendDelta.hairpin[f, default: 0] += sign }
            }
            ports[id] = new
            for (key, entry) in new?.services ?? [:] { desired[key] = entry }
        }
        // A key a removed port shared with an untouched one (two services claiming one
        // frontend) stays as the untouched port defines it: the only case that needs a scan.
        let claimedElsewhere = changedKeys.filter { desired[$0] == nil && serviceUse[$0] != nil }
        if !claimedElsewhere.isEmpty {
            for (_, state) in ports {
                for key in claimedElsewhere { if let entry = state.services[key] { desired[key] = entry } }
            }
        }
        let known = services
        services = [:]  // invalid until the kernel took everything (a failure forces a full sync)
        var applied = known
        for key in changedKeys {
            if let entry = desired[key] {
                try apply(entry, over: known[key])
                applied[key] = entry
            }
        }
        for (address, delta) in addressDelta where delta > 0 && addressUse[address] == delta { try bind(address) }
        for (address, delta) in addressDelta where delta < 0 && addressUse[address] == nil { try unbind(address) }
        for key in changedKeys where desired[key] == nil && known[key] != nil {
            try ipvs.deleteService(key)
            applied[key] = nil
        }
        // nftables: set elements whose use went from or to zero.
        var tx = Transaction()
        for family in [Family.ip, .ip6] {
            tx = tx + IPVSRules.elementChanges(family: family, options: options,
                                               cluster: transitions(frontendDelta.cluster, clusterUse),
                                               external: transitions(frontendDelta.external, externalUse),
                                               hairpin: transitions(frontendDelta.hairpin, hairpinUse))
        }
        if !tx.isEmpty { try nft.commit(tx) }
        services = applied
    }

    // MARK: - Pieces

    private func count(_ state: IPVSPortState, _ sign: Int) {
        func bump<K: Hashable>(_ dict: inout [K: Int], _ keys: some Sequence<K>) {
            for key in keys {
                let value = (dict[key] ?? 0) + sign
                dict[key] = value > 0 ? value : nil
            }
        }
        bump(&serviceUse, state.services.keys)
        bump(&addressUse, state.addresses)
        bump(&clusterUse, state.clusterFrontends)
        bump(&externalUse, state.externalFrontends)
        bump(&hairpinUse, state.hairpins)
    }

    /// Elements that appear (use now > 0 after a positive delta from 0) and disappear.
    private func transitions(_ delta: [Frontend: Int], _ use: [Frontend: Int]) -> (added: [Frontend], removed: [Frontend]) {
        var added: [Frontend] = [], removed: [Frontend] = []
        for (frontend, change) in delta where change != 0 {
            let now = use[frontend] ?? 0
            if now == 0 && now - change > 0 { removed.append(frontend) }
            if now > 0 && now - change <= 0 { added.append(frontend) }
        }
        return (added, removed)
    }

    /// One virtual server brought from `old` (nil: absent) to `entry`.
    private func apply(_ entry: IPVSPortState.ServiceEntry, over old: IPVSPortState.ServiceEntry?) throws {
        let key = entry.service.key
        if let old {
            if old.service != entry.service { try ipvs.updateService(entry.service) }
        } else {
            try ipvs.addService(entry.service)
        }
        let before = Dictionary((old?.destinations ?? []).map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(entry.destinations.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for (destinationKey, destination) in after {
            if let existing = before[destinationKey] {
                if existing != destination { try ipvs.updateDestination(destination, of: key) }
            } else {
                try ipvs.addDestination(destination, to: key)
            }
        }
        for destinationKey in Set(before.keys).subtracting(after.keys) { try ipvs.deleteDestination(destinationKey, from: key) }
    }

    private func ensureDevice() throws {
        if (try? netlink.link(named: options.device)) == nil {
            // Down, like kube-proxy's kube-ipvs0: its addresses are local all the same, and a
            // down device never answers ARP for them.
            try netlink.addLink(LinkSpec(name: options.device, kind: .dummy))
        }
    }

    private func bind(_ address: IPAddress) throws {
        do { try netlink.addAddress(IPPrefix(address: address, length: address.bitWidth), link: options.device) } catch let error as NetlinkError {
            if error.code != .exists { throw error }
        }
    }

    private func unbind(_ address: IPAddress) throws {
        do { try netlink.deleteAddress(IPPrefix(address: address, length: address.bitWidth), link: options.device) } catch let error as NetlinkError {
            if error.code != .notFound { throw error }
        }
    }
}

/// The nftables half of IPVS mode (masquerading decisions), per family.
public enum IPVSRules {
    static func sets(_ table: Table, _ family: Family) -> (cluster: NamedSet, external: NamedSet, hairpin: NamedSet) {
        let addr: DataType = family == .ip ? .ipv4Address : .ipv6Address
        return (NamedSet(table, "cluster-frontends", key: [addr, .inetProto, .inetService]),
                NamedSet(table, "external-frontends", key: [addr, .inetProto, .inetService]),
                NamedSet(table, "hairpin", key: [addr, .inetProto, .inetService, addr]))
    }

    static func element(_ f: Frontend) -> SetElement { SetElement([Value(f.address), .proto(f.proto.number), .port(f.port)]) }
    static func hairpinElement(_ f: Frontend) -> SetElement {
        SetElement([Value(f.address), .proto(f.proto.number), .port(f.port), Value(f.address)])
    }

    /// The whole table for `family`, replacing any earlier one in the same transaction.
    public static func table(family: Family, options: IPVSOptions, cluster: Set<Frontend>, external: Set<Frontend>,
                             hairpin: Set<Frontend>) -> Transaction {
        let table = Table(family, options.tableName)
        let v4 = family == .ip
        let (clusterSet, externalSet, hairpinSet) = sets(table, family)
        var tx = Transaction()
        tx.add(table)
        tx.delete(table)
        tx.add(table)
        for set in [clusterSet, externalSet, hairpinSet] { tx.add(set) }
        let ofFamily = { (f: Frontend) in f.address.isIPv4 == v4 }
        tx.add(cluster.filter(ofFamily).sorted().map(element), to: clusterSet)
        tx.add(external.filter(ofFamily).sorted().map(element), to: externalSet)
        tx.add(hairpin.filter(ofFamily).sorted().map(hairpinElement), to: hairpinSet)

        let (saddr, daddr): (Field, Field) = v4 ? (.ipSaddr, .ipDaddr) : (.ip6Saddr, .ip6Daddr)
        let mark = Action.setMarkBits(PacketMark.masquerade)
        var marking: [[Expression]] = []
        let frontend: [Field] = [daddr, .l4proto, .thDport]
        if options.masqueradeAll {
            marking.append(Match.inSet(clusterSet.name, frontend) + mark)
        } else {
            for cidr in options.clusterCIDRs where cidr.address.isIPv4 == v4 {
                marking.append(Match.notInPrefix(saddr, cidr) + Match.inSet(clusterSet.name, frontend) + mark)
            }
        }
        marking.append(Match.inSet(externalSet.name, frontend) + mark)
        // Marks are set before IPVS sees the packet (its hooks sit at NAT priorities).
        for (chain, hook) in [("prerouting", Hook.prerouting), ("output", Hook.output)] {
            tx.add(Chain(table, chain, base: BaseChain(type: .filter, hook: hook, priority: Priority.mangle)))
            for rule in marking { tx.add(Rule(table, chain, rule)) }
        }
        tx.add(Chain(table, "postrouting", base: BaseChain(type: .nat, hook: .postrouting, priority: Priority.srcnat)))
        tx.add(Rule(table, "postrouting", Match.mark(PacketMark.masquerade, mask: PacketMark.masquerade)
                    + Action.masquerade(fullyRandom: true)))
        tx.add(Rule(table, "postrouting", Match.inSet(hairpinSet.name, [daddr, .l4proto, .thDport, saddr]) + Action.masquerade()))
        return tx
    }

    /// Element additions and removals for `family`.
    static func elementChanges(family: Family, options: IPVSOptions,
                               cluster: (added: [Frontend], removed: [Frontend]),
                               external: (added: [Frontend], removed: [Frontend]),
                               hairpin: (added: [Frontend], removed: [Frontend])) -> Transaction {
        let table = Table(family, options.tableName)
        let (clusterSet, externalSet, hairpinSet) = sets(table, family)
        let ofFamily = { (f: Frontend) in f.address.isIPv4 == (family == .ip) }
        var tx = Transaction()
        tx.delete(cluster.removed.filter(ofFamily).map(element), from: clusterSet)
        tx.delete(external.removed.filter(ofFamily).map(element), from: externalSet)
        tx.delete(hairpin.removed.filter(ofFamily).map(hairpinElement), from: hairpinSet)
        tx.add(cluster.added.filter(ofFamily).map(element), to: clusterSet)
        tx.add(external.added.filter(ofFamily).map(element), to: externalSet)
        tx.add(hairpin.added.filter(ofFamily).map(hairpinElement), to: hairpinSet)
        return tx
    }
}
