public import NetAddress

/// Hands out node pod CIDRs: subnets of `maskSize` bits carved from one cluster CIDR, the
/// node-IPAM half of kube-controller-manager's range allocator. Pure bookkeeping; the
/// controller decides what is taken (every podCIDR the Nodes carry) and what to release.
public struct PodCIDRAllocator: Sendable {
    public let clusterCIDR: IPPrefix
    public let maskSize: Int
    /// Subnet indexes in use.
    private var used: Set<Int> = []
    /// Where the next search starts: after the last subnet handed out (round robin, so a
    /// released subnet is not handed to the next node at once).
    private var next = 0

    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// `maskSize` must be at least the cluster CIDR's length and leave room for pods
    /// (at most 30 for IPv4, 126 for IPv6); at most 2^24 subnets are managed.
    public init(clusterCIDR: IPPrefix, maskSize: Int) throws(Error) {
        let width = clusterCIDR.address.bitWidth
        guard clusterCIDR.network == clusterCIDR else {
            throw Error(description: "cluster CIDR \(clusterCIDR) has host bits set (did you mean \(clusterCIDR.network)?)")
        }
        guard maskSize >= clusterCIDR.length, maskSize <= width - 2 else {
            throw Error(description: "node CIDR mask size \(maskSize) must be between \(clusterCIDR.length) (the cluster CIDR's) and \(width - 2)")
        }
        guard maskSize - clusterCIDR.length <= 24 else {
            throw Error(description: "node CIDR mask size \(maskSize) carves more than 2^24 subnets out of \(clusterCIDR); use a mask size of at most \(clusterCIDR.length + 24)")
        }
        self.clusterCIDR = clusterCIDR
        self.maskSize = maskSize
    }

    public var capacity: Int { clusterCIDR.subnetCount(length: maskSize) }
    public var usedCount: Int { used.count }

    /// Marks `cidr` as taken (a node already carries it). Returns false when it is not one of
    /// this allocator's subnets (another range, another mask size): such a CIDR is the
    /// operator's business and never handed out by this allocator either way.
    @discardableResult
    public mutating func occupy(_ cidr: IPPrefix) -> Bool {
        guard cidr.length == maskSize, let index = clusterCIDR.subnetIndex(of: cidr) else {
            // A node whose CIDR is larger or smaller still blocks the subnets it overlaps.
            if clusterCIDR.overlaps(cidr) { blockOverlapping(cidr); return true }
            return false
        }
        used.insert(index)
        return true
    }

    /// Forgets every subnet in use, keeping the round-robin position (a controller that
    /// recounts what the Nodes carry on every pass starts from here).
    public mutating func releaseAll() { used.removeAll(keepingCapacity: true) }

    /// Frees `cidr` (its node is gone).
    public mutating func release(_ cidr: IPPrefix) {
        if cidr.length == maskSize, let index = clusterCIDR.subnetIndex(of: cidr) { used.remove(index) }
    }

    /// The next free subnet, now taken; nil when the range is full.
    public mutating func allocate() -> IPPrefix? {
        let count = capacity
        guard used.count < count else { return nil }
        for step in 0..<count {
            let index = (next + step) % count
            if !used.contains(index) {
                used.insert(index)
                next = (index + 1) % count
                return clusterCIDR.subnet(index, length: maskSize)
            }
        }
        return nil
    }

    /// Blocks every subnet that a foreign-sized `cidr` overlaps.
    private mutating func blockOverlapping(_ cidr: IPPrefix) {
        if cidr.length < maskSize {
            // A larger block: all our subnets inside it (bounded by the allocator's size).
            let start = cidr.length <= clusterCIDR.length ? clusterCIDR : cidr.network
            let count = start.subnetCount(length: maskSize)
            guard let first = start.subnet(0, length: maskSize), let base = clusterCIDR.subnetIndex(of: first) else { return }
            for i in 0..<min(count, capacity) { used.insert(base + i) }
        } else if let containing = try? IPPrefix(address: cidr.address, length: maskSize).network,
                  let index = clusterCIDR.subnetIndex(of: containing) {
            used.insert(index)
        }
    }
}
