import CNI

/// The bridge plugin's own fields of the network config (reference names and defaults).
struct BridgeConfig {
    var bridge = "cni0"
    var mtu: UInt32?
    var isGateway = false
    var isDefaultGateway = false
    var ipMasq = false

    init(_ config: NetConf) throws(CNIError) {
        func flag(_ key: String) throws(CNIError) -> Bool {
            guard let v = config[key], v != .null else { return false }
            guard let b = v.boolValue else {
                throw CNIError(code: .decodingFailure, msg: "\"\(key)\" must be a boolean")
            }
            return b
        }
        if let name = config["bridge"]?.stringValue, !name.isEmpty { bridge = name }
        if let m = config["mtu"]?.intValue, m > 0 { mtu = UInt32(m) }
        isDefaultGateway = try flag("isDefaultGateway")
        // Reference: isDefaultGateway implies isGateway.
        isGateway = try flag("isGateway") || isDefaultGateway
        ipMasq = try flag("ipMasq")
    }
}

/// The host end of the veth: `veth` and 8 hex digits of a hash of container ID and ifname
/// (FNV-1a, stable across runs so DEL finds what ADD made).
func hostVethName(containerID: String, ifname: String) -> String {
    var h: UInt32 = 0x811c_9dc5
    for b in (containerID + "\u{0}" + ifname).utf8 {
        h ^= UInt32(b)
        h = h &* 0x0100_0193
    }
    let hex = String(h, radix: 16)
    return "veth" + String(repeating: "0", count: 8 - hex.count) + hex
}
