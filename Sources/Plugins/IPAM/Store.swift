public import NetAddress

/// One reserved address and the attachment holding it.
public struct Reservation: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var containerID: String
    public var ifname: String
    public init(ip: IPAddress, containerID: String, ifname: String) {
        self.ip = ip; self.containerID = containerID; self.ifname = ifname
    }
    public var description: String { "\(ip) \(containerID)/\(ifname)" }
}

/// A (container, interface) pair: the unit one address per range set is given to.
public struct Attachment: Hashable, Sendable {
    public var containerID: String
    public var ifname: String
    public init(containerID: String, ifname: String) { self.containerID = containerID; self.ifname = ifname }
}

/// Where reservations live: the reference's `backend.Store`. The allocator calls every
/// method but `withLock` from inside `withLock`.
public protocol Store: AnyObject {
    /// Runs `body` holding the store's exclusive lock (across processes for `DiskStore`).
    func withLock<T>(_ body: () throws(IPAMError) -> T) throws(IPAMError) -> T
    /// Records `ip` for the attachment; false when it is already taken. Also remembers `ip`
    /// as the last reserved address of `rangeID`.
    func reserve(_ ip: IPAddress, containerID: String, ifname: String, rangeID: String) throws(IPAMError) -> Bool
    func lastReservedIP(rangeID: String) throws(IPAMError) -> IPAddress?
    func release(_ ip: IPAddress) throws(IPAMError)
    /// Releases every address of the attachment (and, as the reference does, addresses
    /// written by old versions with only the container ID when none matched exactly).
    func releaseByID(containerID: String, ifname: String) throws(IPAMError)
    func getByID(containerID: String, ifname: String) throws(IPAMError) -> [IPAddress]
    /// Every reservation, sorted by address.
    func reservations() throws(IPAMError) -> [Reservation]
}

/// A store in memory, for tests and for callers that keep state elsewhere.
public final class MemoryStore: Store {
    public private(set) var byIP: [IPAddress: Attachment] = [:]
    public private(set) var lastReserved: [String: IPAddress] = [:]
    public init() {}

    public func withLock<T>(_ body: () throws(IPAMError) -> T) throws(IPAMError) -> T { try body() }
    public func reserve(_ ip: IPAddress, containerID: String, ifname: String, rangeID: String) -> Bool {
        guard byIP[ip] == nil else { return false }
        byIP[ip] = Attachment(containerID: containerID, ifname: ifname)
        lastReserved[rangeID] = ip
        return true
    }
    public func lastReservedIP(rangeID: String) -> IPAddress? { lastReserved[rangeID] }
    public func release(_ ip: IPAddress) { byIP[ip] = nil }
    public func releaseByID(containerID: String, ifname: String) {
        let a = Attachment(containerID: containerID, ifname: ifname)
        byIP = byIP.filter { $0.value != a }
    }
    public func getByID(containerID: String, ifname: String) -> [IPAddress] {
        let a = Attachment(containerID: containerID, ifname: ifname)
        return byIP.filter { $0.value == a }.map(\.key).sorted()
    }
    public func reservations() -> [Reservation] {
        byIP.map { Reservation(ip: $0.key, containerID: $0.value.containerID, ifname: $0.value.ifname) }
            .sorted { $0.ip < $1.ip }
    }
}
