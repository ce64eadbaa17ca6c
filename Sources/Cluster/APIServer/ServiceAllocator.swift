import JSON
import APIMachinery
import NetAddress
import Storage

/// Hands out Service ClusterIPs from `--service-cluster-ip-range` and NodePorts from
/// `--service-node-port-range`, without collisions even between API servers sharing one
/// etcd: each allocation is a key of its own (`/registry/ranges/serviceips/10.96.0.17`,
/// `/registry/ranges/servicenodeports/30080`) created with create-if-absent, whose value
/// names the Service holding it. `repair()` frees allocations whose Service is gone (a
/// crash between allocating and storing the Service).
struct ServiceAllocator: Sendable {
    let store: any Store
    let serviceRange: IPPrefix
    /// The other family's range, when the cluster is dual-stack.
    let secondaryRange: IPPrefix?
    let nodePorts: ClosedRange<Int>

    static let ipPrefix = "/registry/ranges/serviceips/"
    static let portPrefix = "/registry/ranges/servicenodeports/"

    /// The range of a family (nil: the cluster has none of it).
    func range(v4: Bool) -> IPPrefix? {
        [serviceRange, secondaryRange].compactMap { $0 }.first { $0.address.isIPv4 == v4 }
    }

    /// Usable addresses: the range without its network and broadcast addresses.
    static func ipCount(_ range: IPPrefix) -> UInt64 {
        let hostBits = range.address.bitWidth - range.length
        return hostBits >= 63 ? UInt64(Int64.max) : max(0, (UInt64(1) << hostBits) - 2)
    }

    static func address(at offset: UInt64, in range: IPPrefix) -> IPAddress {
        switch range.network.address {
        case .v4(let v4): .v4(IPv4Address(v4.value &+ UInt32(truncatingIfNeeded: offset + 1)))
        case .v6(let v6): .v6(IPv6Address(high: v6.high, low: v6.low &+ offset + 1))
        }
    }

    /// Allocates `requested` (422 if outside its family's range or taken) or a free address of
    /// the family; `field` names the entry of spec.clusterIPs in errors.
    func allocateIP(_ requested: String?, v4: Bool, for owner: String, resource: ResourceType, name: String,
                    field: String = "spec.clusterIPs") async throws(APIError) -> String {
        guard let serviceRange = range(v4: v4) else {
            throw .invalid(resource, name: name, [.invalid(field, requested ?? "", "\(v4 ? "IPv4" : "IPv6") is not configured on this cluster")])
        }
        if let requested {
            guard let ip = IPAddress(requested), serviceRange.contains(ip), ip != serviceRange.network.address else {
                throw .invalid(resource, name: name, [.invalid(field, requested,
                    "failed to allocate IP \(requested): the provided IP (\(requested)) is not in the valid range. The range of valid IPs is \(serviceRange.network)")])
            }
            guard try await claim(Self.ipPrefix + ip.description, owner) else {
                throw .invalid(resource, name: name, [.invalid(field, requested,
                    "failed to allocate IP \(requested): provided IP is already allocated")])
            }
            return ip.description
        }
        let taken = try await allocated(Self.ipPrefix).filter { IPAddress($0).map(serviceRange.contains) == true }
        let count = Self.ipCount(serviceRange)
        guard UInt64(taken.count) < count else {
            throw .internalError("failed to allocate a serviceIP: range \(serviceRange.network) is full")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let candidate = Self.address(at: UInt64.random(in: 0..<count, using: &generator), in: serviceRange).description
            if taken.contains(candidate) { continue }
            if try await claim(Self.ipPrefix + candidate, owner) { return candidate }
        }
        throw .serviceUnavailable("failed to allocate a serviceIP: too many collisions, try again")
    }

    /// Allocates the requested node port (422 if out of range or taken by another Service) or a free one.
    func allocateNodePort(_ requested: Int?, for owner: String, resource: ResourceType, name: String, field: String) async throws(APIError) -> Int {
        if let requested {
            guard nodePorts.contains(requested) else {
                throw .invalid(resource, name: name, [.invalid(field, String(requested),
                    "provided port is not in the valid range. The range of valid ports is \(nodePorts.lowerBound)-\(nodePorts.upperBound)")])
            }
            guard try await claim(Self.portPrefix + String(requested), owner) else {
                throw .invalid(resource, name: name, [.invalid(field, String(requested), "provided port is already allocated")])
            }
            return requested
        }
        let taken = try await allocated(Self.portPrefix)
        guard taken.count < nodePorts.count else { throw .internalError("failed to allocate a nodePort: range is full") }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<64 {
            let candidate = Int.random(in: nodePorts, using: &generator)
            if taken.contains(String(candidate)) { continue }
            if try await claim(Self.portPrefix + String(candidate), owner) { return candidate }
        }
        throw .serviceUnavailable("failed to allocate a nodePort: too many collisions, try again")
    }

    /// Creates the allocation key; false if another Service holds it.
    func claim(_ key: String, _ owner: String) async throws(APIError) -> Bool {
        do {
            _ = try await store.create(key, value: Array(owner.utf8))
            return true
        } catch {
            guard error.kind == .alreadyExists else { throw .internalError(error.message) }
            return false
        }
    }

    func releaseIP(_ ip: String) async {
        _ = try? await store.delete(Self.ipPrefix + ip, ifRevision: nil)
    }

    func releaseNodePort(_ port: Int) async {
        _ = try? await store.delete(Self.portPrefix + String(port), ifRevision: nil)
    }

    func allocated(_ prefix: String) async throws(APIError) -> Set<String> {
        do {
            return Set(try await store.listAll(prefix: prefix, pageSize: 10_000).items.map { String($0.key.dropFirst(prefix.count)) })
        } catch {
            throw .internalError(error.message)
        }
    }

    /// Frees every allocation whose Service no longer exists or no longer holds it.
    func repair() async throws(APIError) {
        for prefix in [Self.ipPrefix, Self.portPrefix] {
            let page: ListPage
            do { page = try await store.list(prefix: prefix, after: nil, limit: nil) } catch {
                throw .internalError(error.message)
            }
            for item in page.items {
                let value = String(item.key.dropFirst(prefix.count))
                let owner = String(decoding: item.value, as: UTF8.self)
                var held = false
                if let stored = try? await store.get(owner), let service = try? JSONValue.parse(stored.value) {
                    held = prefix == Self.ipPrefix
                        ? Self.clusterIPs(service).contains(value)
                        : Self.heldNodePorts(service).contains(Int(value) ?? -1)
                }
                if !held { _ = try? await store.delete(item.key, ifRevision: item.modRevision) }
            }
        }
    }

    static func clusterIPs(_ service: JSONValue) -> [String] {
        let spec = service["spec"]
        var ips = spec?["clusterIPs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let ip = spec?["clusterIP"]?.stringValue, !ips.contains(ip) { ips.insert(ip, at: 0) }
        return ips.filter { $0 != "None" && !$0.isEmpty }
    }

    /// Every node-port allocation a Service holds: its ports' node ports and the
    /// healthCheckNodePort of an `externalTrafficPolicy: Local` LoadBalancer.
    static func heldNodePorts(_ service: JSONValue) -> Set<Int> {
        var ports = Set((service[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue })
        if let health = service[path: ["spec", "healthCheckNodePort"]]?.intValue { ports.insert(health) }
        return ports.subtracting([0])
    }
}
