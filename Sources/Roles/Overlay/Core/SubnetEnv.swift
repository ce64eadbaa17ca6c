public import NetAddress

/// /run/flannel/subnet.env, what the flannel CNI plugin reads.
public struct SubnetEnv: Hashable, Sendable {
    public var network: IPPrefix
    public var subnet: IPPrefix
    public var mtu: UInt32
    public var ipMasq: Bool

    public init(network: IPPrefix, subnet: IPPrefix, mtu: UInt32, ipMasq: Bool) {
        self.network = network
        self.subnet = subnet
        self.mtu = mtu
        self.ipMasq = ipMasq
    }

    /// FLANNEL_SUBNET carries the gateway address (the subnet's first host) with the subnet's
    /// length, as flannel writes it.
    public var text: String {
        let gateway = subnet.network.address.next
        return """
            FLANNEL_NETWORK=\(network)
            FLANNEL_SUBNET=\(gateway)/\(subnet.length)
            FLANNEL_MTU=\(mtu)
            FLANNEL_IPMASQ=\(ipMasq)

            """
    }
}
