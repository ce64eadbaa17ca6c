public import NetAddress

/// The transport protocol of a virtual service.
public enum IPVSProtocol: UInt16, Hashable, Sendable, CustomStringConvertible {
    case tcp = 6
    case udp = 17
    case sctp = 132

    public var description: String {
        switch self {
        case .tcp: "TCP"
        case .udp: "UDP"
        case .sctp: "SCTP"
        }
    }
}

/// A virtual server (`ipvsadm -A -t ADDR:PORT -s SCHED [-p TIMEOUT]`): connections to
/// address:port are spread over its real servers by the scheduler.
public struct VirtualServer: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public var proto: IPVSProtocol
    /// rr, wrr, lc, wlc, sh, dh, sed, nq, … (the kernel module `ip_vs_<name>` must exist).
    public var scheduler: String
    /// Persistence (session affinity): a client keeps its real server for this many
    /// seconds after its last connection; nil for none.
    public var persistenceTimeout: UInt32?
    /// Other IP_VS_SVC_F_* flags (one-packet scheduling, sh fallback/port).
    public var flags: UInt32

    public init(address: IPAddress, port: UInt16, proto: IPVSProtocol = .tcp, scheduler: String = "rr",
                persistenceTimeout: UInt32? = nil, flags: UInt32 = 0) {
        self.address = address
        self.port = port
        self.proto = proto
        self.scheduler = scheduler
        self.persistenceTimeout = persistenceTimeout
        self.flags = flags
    }

    /// What identifies the service to the kernel (the rest can be edited in place).
    public var key: Key { Key(address: address, port: port, proto: proto) }

    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var address: IPAddress
        public var port: UInt16
        public var proto: IPVSProtocol
        public init(address: IPAddress, port: UInt16, proto: IPVSProtocol) {
            self.address = address
            self.port = port
            self.proto = proto
        }
        public var description: String {
            "\(proto) " + (address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)")
        }
    }

    public var description: String {
        "\(key) \(scheduler)" + (persistenceTimeout.map { " persistent \($0)" } ?? "")
    }
}

/// How packets reach a real server.
public enum ForwardMethod: UInt32, Hashable, Sendable {
    /// NAT: the destination is rewritten (the only method kube-proxy uses).
    case masquerade = 0
    case local = 1
    case tunnel = 2
    case route = 3
}

/// A real server of a virtual server (`ipvsadm -a -t VIP:PORT -r ADDR:PORT -m -w WEIGHT`).
public struct RealServer: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    /// 0 stops new connections (a draining endpoint) while existing ones continue.
    public var weight: UInt32
    public var forward: ForwardMethod

    public init(address: IPAddress, port: UInt16, weight: UInt32 = 1, forward: ForwardMethod = .masquerade) {
        self.address = address
        self.port = port
        self.weight = weight
        self.forward = forward
    }

    public var key: Key { Key(address: address, port: port) }

    public struct Key: Hashable, Sendable {
        public var address: IPAddress
        public var port: UInt16
    }

    public var description: String {
        (address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)") + " weight \(weight)"
    }
}
