public import NetAddress

/// One address handed out: the address with its subnet's prefix length, the range's gateway
/// and the range set (index into `HostLocalConfig.rangeSets`) it came from.
public struct Allocation: Sendable, Equatable, CustomStringConvertible {
    public var address: IPPrefix
    public var gateway: IPAddress?
    public var rangeSetIndex: Int
    public init(address: IPPrefix, gateway: IPAddress?, rangeSetIndex: Int) {
        self.address = address; self.gateway = gateway; self.rangeSetIndex = rangeSetIndex
    }
    public var description: String { "\(address) gw \(gateway.map { "\($0)" } ?? "-") set \(rangeSetIndex)" }
}

/// The host-local allocator: one address per range set and attachment, handed out
/// round-robin after the last address reserved in that set, the gateway never. Every
/// operation runs holding the store's lock from start to end, so processes sharing a
/// `DiskStore` directory never hand out the same address.
public struct Allocator {
    public let config: HostLocalConfig
    public let store: any Store

    public init(config: HostLocalConfig, store: any Store) {
        self.config = config
        self.store = store
    }

    /// Reserves one address in every range set. A requested IP (`config.requestedIPs`, or
    /// `requested` when given) is used in the set whose range holds it; it must be free and
    /// not the gateway, and every requested IP must fall in some set. On any failure, what
    /// this call reserved is released again.
    public func allocate(containerID: String, ifname: String,
                         requested: [IPAddress]? = nil) throws(IPAMError) -> [Allocation] {
        try store.withLock { () throws(IPAMError) -> [Allocation] in
            var pending = requested ?? config.requestedIPs
            var done: [Allocation] = []
            do throws(IPAMError) {
                for (index, set) in config.rangeSets.enumerated() {
                    let rangeID = String(index)
                    if let k = pending.firstIndex(where: { set.rangeIndex(for: $0) != nil }) {
                        let ip = pending.remove(at: k)
                        let range = set[set.rangeIndex(for: ip)!]
                        if ip == range.gateway {
                            throw IPAMError(.unavailable, "requested ip \(ip) is subnet's gateway")
                        }
                        guard try store.reserve(ip, containerID: containerID, ifname: ifname, rangeID: rangeID) else {
                            throw IPAMError(.unavailable, "requested IP address \(ip) is not available in range set \(set.rangeSetDescription)")
                        }
                        done.append(try allocation(ip, range, index))
                        continue
                    }
                    for held in try store.getByID(containerID: containerID, ifname: ifname)
                    where set.rangeIndex(for: held) != nil {
                        throw IPAMError(.duplicate, "\(held) has been allocated to \(containerID), duplicate allocation is not allowed")
                    }
                    done.append(try next(in: set, index: index, containerID: containerID, ifname: ifname))
                }
                if !pending.isEmpty {
                    throw IPAMError(.unavailable, "failed to allocate all requested IPs: "
                                    + pending.map(\.description).joined(separator: ", "))
                }
            } catch {
                for a in done { try? store.release(a.address.address) }
                throw error
            }
            return done
        }
    }

    /// Releases every address of the attachment (DEL); releasing nothing is not an error.
    public func release(containerID: String, ifname: String) throws(IPAMError) {
        try store.withLock { () throws(IPAMError) in
            try store.releaseByID(containerID: containerID, ifname: ifname)
        }
    }

    /// The attachment's addresses (CHECK); an error unless it holds one in every range set.
    @discardableResult
    public func check(containerID: String, ifname: String) throws(IPAMError) -> [IPAddress] {
        try store.withLock { () throws(IPAMError) -> [IPAddress] in
            let held = try store.getByID(containerID: containerID, ifname: ifname)
            for set in config.rangeSets where !held.contains(where: { set.rangeIndex(for: $0) != nil }) {
                throw IPAMError(.notFound, "host-local: Failed to find address added by container \(containerID) in range set \(set.rangeSetDescription)")
            }
            return held
        }
    }

    /// Releases every reservation whose attachment is not in `valid` (GC with
    /// `cni.dev/valid-attachments`) and returns what it released. A reservation written in
    /// the old format (no ifname) stays while its container has any valid attachment.
    @discardableResult
    public func gc(valid: [Attachment]) throws(IPAMError) -> [Reservation] {
        let keep = Set(valid)
        let containers = Set(valid.map(\.containerID))
        return try store.withLock { () throws(IPAMError) -> [Reservation] in
            var released: [Reservation] = []
            for r in try store.reservations() {
                let live = r.ifname.isEmpty ? containers.contains(r.containerID)
                    : keep.contains(Attachment(containerID: r.containerID, ifname: r.ifname))
                if live { continue }
                try store.release(r.ip)
                released.append(r)
            }
            return released
        }
    }

    // MARK: - Round robin

    /// Walks the set from just after its last reserved address (or from the first range's
    /// start), across ranges in order and around, skipping gateways, and reserves the first
    /// free address; the last reserved address itself is tried last.
    private func next(in set: [IPRange], index: Int, containerID: String,
                      ifname: String) throws(IPAMError) -> Allocation {
        let rangeID = String(index)
        var r = 0
        var cur: IPAddress?
        if let last = try store.lastReservedIP(rangeID: rangeID), let i = set.rangeIndex(for: last) {
            r = i
            cur = last
        }
        var start: IPAddress?
        while true {
            if let c = cur {
                if c == set[r].rangeEnd {
                    r = (r + 1) % set.count
                    cur = set[r].rangeStart
                } else {
                    cur = c.next
                }
                if start == nil { start = cur } else if cur == start { break }
            } else {
                cur = set[r].rangeStart
                start = cur
            }
            guard let ip = cur else { break }
            if ip == set[r].gateway { continue }
            if try store.reserve(ip, containerID: containerID, ifname: ifname, rangeID: rangeID) {
                return try allocation(ip, set[r], index)
            }
        }
        throw IPAMError(.exhausted, "no IP addresses available in range set: \(set.rangeSetDescription)")
    }

    private func allocation(_ ip: IPAddress, _ range: IPRange, _ index: Int) throws(IPAMError) -> Allocation {
        do {
            return Allocation(address: try IPPrefix(address: ip, length: range.subnet.length),
                              gateway: range.gateway, rangeSetIndex: index)
        } catch {
            throw IPAMError(.invalidConfig, error.description)
        }
    }
}
