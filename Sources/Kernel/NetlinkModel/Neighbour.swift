public import NetAddress

/// An ARP/NDP entry (`ip neigh`).
public struct Neighbour: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    /// nil for an entry still resolving or failed.
    public var mac: MACAddress?
    public var device: String
    public var state: NeighbourState

    /// A neighbour entry; `permanent` by default, the state an overlay programs so the kernel
    /// never tries to resolve or expire it.
    public init(ip: IPAddress, mac: MACAddress?, device: String, state: NeighbourState = .permanent) {
        self.ip = ip
        self.mac = mac
        self.device = device
        self.state = state
    }

    public var description: String {
        "\(ip) dev \(device)" + (mac.map { " lladdr \($0)" } ?? "") + " \(state)"
    }
}

/// Neighbour-cache states (`NUD_*`), also used by FDB entries.
public struct NeighbourState: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let incomplete = NeighbourState(rawValue: 0x01)
    public static let reachable = NeighbourState(rawValue: 0x02)
    public static let stale = NeighbourState(rawValue: 0x04)
    public static let delay = NeighbourState(rawValue: 0x08)
    public static let probe = NeighbourState(rawValue: 0x10)
    public static let failed = NeighbourState(rawValue: 0x20)
    public static let noARP = NeighbourState(rawValue: 0x40)
    public static let permanent = NeighbourState(rawValue: 0x80)

    public var description: String {
        let names: [(NeighbourState, String)] = [
            (.incomplete, "INCOMPLETE"), (.reachable, "REACHABLE"), (.stale, "STALE"), (.delay, "DELAY"),
            (.probe, "PROBE"), (.failed, "FAILED"), (.noARP, "NOARP"), (.permanent, "PERMANENT"),
        ]
        let set = names.filter { contains($0.0) }.map(\.1)
        return set.isEmpty ? "NONE" : set.joined(separator: ",")
    }
}

/// A bridge forwarding-database entry (`bridge fdb`). On a VXLAN device it says which remote
/// VTEP (`destination`) a MAC lives behind; the all-zero MAC with several destinations floods
/// broadcast and unknown traffic to each of them.
public struct FDBEntry: Hashable, Sendable, CustomStringConvertible {
    public var mac: MACAddress
    public var device: String
    /// The remote VTEP (NDA_DST), for VXLAN entries.
    public var destination: IPAddress?
    public var vlan: UInt16?
    public var state: NeighbourState
    /// The bridge the device is a port of, for entries the bridge learned or was given.
    public var master: String?
    /// NTF_SELF: the entry lives in the device's own table (VXLAN), not its bridge's.
    public var isSelf: Bool

    public init(mac: MACAddress, device: String, destination: IPAddress? = nil, vlan: UInt16? = nil,
                state: NeighbourState = [.permanent, .noARP], master: String? = nil, isSelf: Bool = true) {
        self.mac = mac
        self.device = device
        self.destination = destination
        self.vlan = vlan
        self.state = state
        self.master = master
        self.isSelf = isSelf
    }

    public var description: String {
        "\(mac) dev \(device)" + (destination.map { " dst \($0)" } ?? "") + (vlan.map { " vlan \($0)" } ?? "")
            + (master.map { " master \($0)" } ?? "") + (isSelf ? " self" : "") + " \(state)"
    }
}
