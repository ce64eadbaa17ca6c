import CNI
import NetAddress

/// The bridge plugin's own fields of the network config, with the reference plugin's names,
/// defaults and checks, so its config files work unchanged.
struct BridgeConfig {
    var bridge = "cni0"
    var mtu: UInt32?
    var isGateway = false
    var isDefaultGateway = false
    var forceAddress = false
    var ipMasq = false
    var hairpinMode = false
    var promiscMode = false
    /// Access VLAN of the pod's port (0: none).
    var vlan = 0
    /// Trunk VLANs of the pod's port, sorted and unique.
    var vlanTrunk: [Int] = []
    var preserveDefaultVlan = false
    var macSpoofCheck = false
    var enableDAD = false
    var disableContainerInterface = false
    var portIsolation = false
    /// The container interface's MAC: CNI_ARGS `MAC=`, then `args.cni.mac`, then
    /// `runtimeConfig.mac` (the later one wins, as in the reference plugin).
    var mac: MACAddress?
    /// The IPAM plugin; nil for a layer-2-only attachment.
    var ipamType: String?
    /// DNS settings of the config; when set they replace what IPAM returned.
    var dns: DNS?

    var usesVLANs: Bool { vlan != 0 || !vlanTrunk.isEmpty }

    init(_ config: NetConf, cniArgs env: CNIEnvironment) throws(CNIError) {
        func invalid(_ msg: String) -> CNIError { CNIError(code: .invalidNetworkConfig, msg: "bridge: \(msg)") }
        func flag(_ key: String) throws(CNIError) -> Bool {
            guard let v = config[key], v != .null else { return false }
            guard let b = v.boolValue else {
                throw CNIError(code: .decodingFailure, msg: "bridge: \"\(key)\" must be a boolean")
            }
            return b
        }
        func int(_ key: String) throws(CNIError) -> Int? {
            guard let v = config[key], v != .null else { return nil }
            guard let i = v.intValue else {
                throw CNIError(code: .decodingFailure, msg: "bridge: \"\(key)\" must be an integer")
            }
            return i
        }
        if let v = config["bridge"], v != .null {
            guard let name = v.stringValue else { throw CNIError(code: .decodingFailure, msg: "bridge: \"bridge\" must be a string") }
            if !name.isEmpty { bridge = name }
        }
        guard bridge.utf8.count < 16, !bridge.contains("/"), !bridge.contains(" ") else {
            throw invalid("invalid bridge name \"\(bridge)\"")
        }
        if let m = try int("mtu"), m != 0 {
            guard (68...65535).contains(m) else { throw invalid("invalid mtu \(m) (must be 68-65535)") }
            mtu = UInt32(m)
        }
        isDefaultGateway = try flag("isDefaultGateway")
        // Reference: isDefaultGateway implies isGateway.
        isGateway = try flag("isGateway") || isDefaultGateway
        forceAddress = try flag("forceAddress")
        ipMasq = try flag("ipMasq")
        // Masquerading is always done with nftables; both reference backends name the same effect.
        if let backend = config["ipMasqBackend"], backend != .null,
           !["iptables", "nftables"].contains(backend.stringValue ?? "") {
            throw invalid("ipMasqBackend must be \"iptables\" or \"nftables\", not \(backend.jsonString)")
        }
        hairpinMode = try flag("hairpinMode")
        promiscMode = try flag("promiscMode")
        if hairpinMode && promiscMode {
            throw invalid("cannot set hairpin mode and promiscuous mode at the same time")
        }
        vlan = try int("vlan") ?? 0
        guard (0...4094).contains(vlan) else { throw invalid("invalid VLAN ID \(vlan) (must be between 0 and 4094)") }
        vlanTrunk = try Self.trunk(config["vlanTrunk"])
        preserveDefaultVlan = try flag("preserveDefaultVlan")
        macSpoofCheck = try flag("macspoofchk")
        enableDAD = try flag("enabledad")
        disableContainerInterface = try flag("disableContainerInterface")
        portIsolation = try flag("portIsolation")
        if let type = config.ipamType, !type.isEmpty { ipamType = type }
        if disableContainerInterface && ipamType != nil {
            throw invalid("cannot use IPAM when disableContainerInterface is set")
        }
        dns = config.dns.flatMap { $0.isEmpty ? nil : $0 }

        var macText = env.arg("MAC")
        if let m = config.args?["cni"]?["mac"]?.stringValue, !m.isEmpty { macText = m }
        if let m = config.runtimeConfig?["mac"]?.stringValue, !m.isEmpty { macText = m }
        if let macText {
            guard let parsed = MACAddress(macText) else { throw invalid("invalid MAC address \"\(macText)\"") }
            mac = parsed
        }
    }

    /// `vlanTrunk`: a list of `{"id": N}` and `{"minID": A, "maxID": B}` items.
    static func trunk(_ value: JSONValue?) throws(CNIError) -> [Int] {
        guard let value, value != .null else { return [] }
        func invalid(_ msg: String) -> CNIError { CNIError(code: .invalidNetworkConfig, msg: "bridge: \(msg)") }
        guard let items = value.arrayValue else { throw invalid("vlanTrunk must be a list") }
        var ids = Set<Int>()
        for item in items {
            let minID = item["minID"]?.intValue, maxID = item["maxID"]?.intValue
            switch (minID, maxID) {
            case (let lo?, let hi?):
                guard (1...4094).contains(lo) else { throw invalid("incorrect trunk minID parameter") }
                guard (1...4094).contains(hi) else { throw invalid("incorrect trunk maxID parameter") }
                guard lo <= hi else { throw invalid("minID is greater than maxID in trunk parameter") }
                ids.formUnion(lo...hi)
            case (nil, _?): throw invalid("minID and maxID should be configured simultaneously, minID is missing")
            case (_?, nil): throw invalid("minID and maxID should be configured simultaneously, maxID is missing")
            case (nil, nil): break
            }
            if let id = item["id"]?.intValue {
                guard (1...4094).contains(id) else { throw invalid("incorrect trunk id parameter") }
                ids.insert(id)
            }
        }
        return ids.sorted()
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
