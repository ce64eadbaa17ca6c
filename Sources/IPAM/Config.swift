public import NetAddress
import FoundationEssentials

/// A route handed back in the IPAM result: `{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}`.
public struct IPAMRoute: Sendable, Equatable, Decodable {
    public var dst: IPPrefix
    public var gw: IPAddress?
    public init(dst: IPPrefix, gw: IPAddress? = nil) { self.dst = dst; self.gw = gw }

    enum CodingKeys: String, CodingKey { case dst, gw }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = try c.decode(String.self, forKey: .dst)
        do { dst = try IPPrefix(d) } catch {
            throw DecodingError.dataCorruptedError(forKey: .dst, in: c, debugDescription: error.description)
        }
        if let g = try c.decodeIfPresent(String.self, forKey: .gw), !g.isEmpty {
            guard let a = IPAddress(g) else {
                throw DecodingError.dataCorruptedError(forKey: .gw, in: c, debugDescription: "invalid IP address \"\(g)\"")
            }
            gw = a
        }
    }
}

/// The `ipam` section of a host-local network config, with the same field names as the
/// reference plugin: `ranges` (a list of range sets), the legacy single-range fields
/// `subnet`/`rangeStart`/`rangeEnd`/`gateway` at the top of the section, `routes`,
/// `dataDir` and `resolvConf`.
public struct HostLocalConfig: Sendable, Equatable {
    public static let defaultDataDir = "/var/lib/cni/networks"

    /// The network name (the config's top-level `name`): the store's directory.
    public var name: String
    /// Canonical range sets (defaults filled in, validated), in config order; the index of a
    /// set is its range ID in the store (`last_reserved_ip.<index>`).
    public var rangeSets: [[IPRange]]
    public var routes: [IPAMRoute]
    public var dataDir: String
    public var resolvConf: String?
    /// IPs asked for through `CNI_ARGS` `IP=`, `args.cni.ips` or `runtimeConfig.ips`.
    public var requestedIPs: [IPAddress]

    /// Validates and canonicalizes already-parsed fields.
    public init(name: String, rangeSets: [[IPRange]], routes: [IPAMRoute] = [], dataDir: String? = nil,
                resolvConf: String? = nil, requestedIPs: [IPAddress] = []) throws(IPAMError) {
        guard !name.isEmpty else { throw IPAMError(.invalidConfig, "network config is missing 'name'") }
        guard !name.contains("/"), name != ".", name != ".." else {
            throw IPAMError(.invalidConfig, "network name \"\(name)\" cannot be used as a directory name")
        }
        guard !rangeSets.isEmpty else { throw IPAMError(.invalidConfig, "no IP ranges specified") }
        var sets: [[IPRange]] = []
        for s in rangeSets { sets.append(try s.canonicalized()) }
        for i in sets.indices {
            for j in sets.indices where j > i && sets[i].overlaps(sets[j]) {
                throw IPAMError(.invalidConfig, "range set \(i) overlaps with \(j)")
            }
        }
        self.name = name
        self.rangeSets = sets
        self.routes = routes
        self.dataDir = dataDir.flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultDataDir
        self.resolvConf = resolvConf
        self.requestedIPs = requestedIPs
    }

    /// Parses a whole network config (stdin of the plugin) plus `CNI_ARGS`.
    public init(json: [UInt8], cniArgs: String? = nil) throws(IPAMError) {
        let raw: RawNetConf
        do { raw = try JSONDecoder().decode(RawNetConf.self, from: Data(json)) } catch {
            throw IPAMError(.decode, "failed to load netconf: \(describe(error))")
        }
        guard let ipam = raw.ipam else { throw IPAMError(.invalidConfig, "IPAM config missing 'ipam' key") }
        var sets: [[IPRange]] = []
        if let subnet = ipam.subnet {
            guard let prefix = try? IPPrefix(subnet) else {
                throw IPAMError(.invalidConfig, "invalid subnet \"\(subnet)\"")
            }
            func addr(_ s: String?, _ field: String) throws(IPAMError) -> IPAddress? {
                guard let s, !s.isEmpty else { return nil }
                guard let a = IPAddress(s) else { throw IPAMError(.invalidConfig, "invalid \(field) \"\(s)\"") }
                return a
            }
            sets.append([IPRange(subnet: prefix, rangeStart: try addr(ipam.rangeStart, "rangeStart"),
                                 rangeEnd: try addr(ipam.rangeEnd, "rangeEnd"),
                                 gateway: try addr(ipam.gateway, "gateway"))])
        }
        sets += ipam.ranges ?? []

        var requested: [IPAddress] = []
        func request(_ text: Substring, _ source: String) throws(IPAMError) {
            let t = text.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            guard let a = IPAddress(t) else { throw IPAMError(.invalidConfig, "invalid IP \"\(text)\" in \(source)") }
            if !requested.contains(a) { requested.append(a) }
        }
        for pair in (cniArgs ?? "").split(separator: ";") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, kv[0] == "IP" else { continue }
            for ip in kv[1].split(separator: ",") { try request(ip, "CNI_ARGS") }
        }
        for ip in raw.args?.cni?.ips ?? [] { try request(Substring(ip), "args.cni.ips") }
        for ip in raw.runtimeConfig?.ips ?? [] { try request(Substring(ip), "runtimeConfig.ips") }

        try self.init(name: raw.name ?? "", rangeSets: sets, routes: ipam.routes ?? [], dataDir: ipam.dataDir,
                      resolvConf: ipam.resolvConf, requestedIPs: requested)
    }
}

private func describe(_ error: any Error) -> String {
    switch error {
    case DecodingError.dataCorrupted(let c): return c.debugDescription
    case DecodingError.keyNotFound(let k, _): return "missing field '\(k.stringValue)'"
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
        return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
    default: return "\(error)"
    }
}

private struct RawNetConf: Decodable {
    struct IPAM: Decodable {
        var subnet: String?
        var rangeStart: String?
        var rangeEnd: String?
        var gateway: String?
        var ranges: [[IPRange]]?
        var routes: [IPAMRoute]?
        var dataDir: String?
        var resolvConf: String?
    }
    struct IPs: Decodable { var ips: [String]? }
    struct Args: Decodable { var cni: IPs? }
    var name: String?
    var ipam: IPAM?
    var args: Args?
    var runtimeConfig: IPs?
}
