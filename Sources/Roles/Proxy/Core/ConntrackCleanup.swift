public import NetAddress

/// UDP has no connection to close: a conntrack entry keeps sending a client's datagrams to
/// the endpoint it was DNATed to for as long as they keep coming, even after that endpoint
/// left the service. So, as kube-proxy does, the proxy deletes the flows whose replies come
/// from a UDP endpoint that stopped serving a port.
public enum ConntrackCleanup {
    public struct Endpoint: Hashable, Sendable {
        public var address: IPAddress
        public var port: UInt16
        public init(address: IPAddress, port: UInt16) {
            self.address = address
            self.port = port
        }
    }

    /// The endpoints that served a UDP port in `before` and serve it no more in `after`
    /// (ports matched by id; a port missing from `after` lost all of its endpoints). Pure.
    public static func staleUDPEndpoints(before: [ServicePort], after: [ServicePort]) -> Set<Endpoint> {
        let now = Dictionary(after.filter { $0.proto == .udp }.map { ($0.id, serving($0)) }, uniquingKeysWith: { a, b in a.union(b) })
        var stale = Set<Endpoint>()
        for port in before where port.proto == .udp {
            stale.formUnion(serving(port).subtracting(now[port.id] ?? []))
        }
        // An endpoint that still serves another port at the same address and port keeps its flows.
        let stillServing = now.values.reduce(into: Set<Endpoint>()) { $0.formUnion($1) }
        return stale.subtracting(stillServing)
    }

    package static func serving(_ port: ServicePort) -> Set<Endpoint> {
        Set((port.clusterEndpoints + port.externalEndpoints).map { Endpoint(address: $0.address, port: $0.port) })
    }
}
