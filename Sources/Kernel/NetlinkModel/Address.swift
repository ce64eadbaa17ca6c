public import NetAddress

/// An address assigned to an interface (`ip addr show`).
public struct InterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address with its prefix length, host bits kept (`10.244.0.1/24`).
    public var prefix: IPPrefix
    public var linkIndex: Int32
    public var scope: RouteScope
    /// The IPv4 label (`eth0:1`); nil for IPv6.
    public var label: String?

    public init(prefix: IPPrefix, linkIndex: Int32, scope: RouteScope = .universe, label: String? = nil) {
        self.prefix = prefix
        self.linkIndex = linkIndex
        self.scope = scope
        self.label = label
    }

    public var description: String { "\(prefix) on link \(linkIndex) scope \(scope)" }
}
