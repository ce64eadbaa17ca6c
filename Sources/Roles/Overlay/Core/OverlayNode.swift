public import APITypes
import JSON
public import NetAddress

/// The Node annotations flannel's kube subnet manager reads and writes; Netplane uses the
/// same names, so the Nodes look the same to tools that know flannel.
public enum FlannelAnnotation {
    public static let prefix = "flannel.alpha.coreos.com/"
    public static let backendType = prefix + "backend-type"
    /// JSON: `{"VNI": 1, "VtepMAC": "…"}` for VXLAN, `null` for host-gw and UDP.
    public static let backendData = prefix + "backend-data"
    public static let publicIP = prefix + "public-ip"
    public static let kubeSubnetManager = prefix + "kube-subnet-manager"
}

/// What the overlay needs to know about one node, read from its Node object.
public struct OverlayNode: Hashable, Sendable {
    public var name: String
    /// The node's IPv4 pod subnet (spec.podCIDRs), if it has one.
    public var podCIDR: IPPrefix?
    /// Where its encapsulated (or, host-gw, routed) traffic goes: the public-ip annotation, or
    /// the node's InternalIP until its flanneld has published one.
    public var publicIP: IPv4Address?
    public var backendType: String?
    public var vtepMAC: MACAddress?

    public init(name: String, podCIDR: IPPrefix?, publicIP: IPv4Address?, backendType: String? = nil,
                vtepMAC: MACAddress? = nil) {
        self.name = name
        self.podCIDR = podCIDR
        self.publicIP = publicIP
        self.backendType = backendType
        self.vtepMAC = vtepMAC
    }

    public init(_ node: Node) {
        let annotations = node.annotations
        let cidr = node.podCIDRs.lazy.compactMap { try? IPPrefix($0) }.first { $0.address.isIPv4 }
        let internalIP = node.addresses.first { $0.type == "InternalIP" && IPv4Address($0.address) != nil }
        let data = annotations[FlannelAnnotation.backendData].flatMap { try? JSONValue.parse($0) }
        self.init(name: node.name, podCIDR: cidr,
                  publicIP: annotations[FlannelAnnotation.publicIP].flatMap { IPv4Address($0) }
                      ?? internalIP.flatMap { IPv4Address($0.address) },
                  backendType: annotations[FlannelAnnotation.backendType],
                  vtepMAC: data?["VtepMAC"]?.stringValue.flatMap { MACAddress($0) })
    }
}
