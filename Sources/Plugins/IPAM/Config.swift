public import NetAddress
import JSON

/// A route handed back in the IPAM result: `{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}`.
public struct IPAMRoute: Sendable, Equatable {
    public var dst: IPPrefix
    public var gw: IPAddress?
    public init(dst: IPPrefix, gw: IPAddress? = nil) { self.dst = dst; self.gw = gw }
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
    ///
    /// Through the JSON module rather than Codable: the plugin starts once per call, and
    /// Codable's generic decoding costs a fresh process more (runtime type lookups) than the
    /// whole allocation does.
    public init(json: [UInt8], cniArgs: String? = nil) throws(IPAMError) {
        let raw: Fields
        do { raw = Fields(try JSONValue.parse(json), path: "") } catch {
            throw IPAMError(.decode, "failed to load netconf: \(error)")
        }
        guard let ipam = try raw.object("ipam") else { throw IPAMError(.invalidConfig, "IPAM config missing 'ipam' key") }
        var sets: [[IPRange]] = []
        if let subnet = try ipam.string("subnet") {
            guard let prefix = try? IPPrefix(subnet) else {
                throw IPAMError(.invalidConfig, "invalid subnet \"\(subnet)\"")
            }
            func addr(_ field: String) throws(IPAMError) -> IPAddress? {
                guard let s = try ipam.string(field), !s.isEmpty else { return nil }
                guard let a = IPAddress(s) else { throw IPAMError(.invalidConfig, "invalid \(field) \"\(s)\"") }
                return a
            }
            sets.append([IPRange(subnet: prefix, rangeStart: try addr("rangeStart"), rangeEnd: try addr("rangeEnd"),
                                 gateway: try addr("gateway"))])
        }
        for set in try ipam.array("ranges") ?? [] {
            var ranges: [IPRange] = []
            for range in try set.elements() { ranges.append(try range.range()) }
            sets.append(ranges)
        }
        var routes: [IPAMRoute] = []
        for route in try ipam.array("routes") ?? [] {
            let dst = try route.required("dst")
            let prefix: IPPrefix
            do { prefix = try IPPrefix(dst) } catch { throw route.corrupt("dst", error.description) }
            var gw: IPAddress?
            if let g = try route.string("gw"), !g.isEmpty {
                guard let a = IPAddress(g) else { throw route.corrupt("gw", "invalid IP address \"\(g)\"") }
                gw = a
            }
            routes.append(IPAMRoute(dst: prefix, gw: gw))
        }

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
        for ip in try raw.object("args")?.object("cni")?.strings("ips") ?? [] { try request(Substring(ip), "args.cni.ips") }
        for ip in try raw.object("runtimeConfig")?.strings("ips") ?? [] { try request(Substring(ip), "runtimeConfig.ips") }

        try self.init(name: try raw.string("name") ?? "", rangeSets: sets, routes: routes, dataDir: try ipam.string("dataDir"),
                      resolvConf: try ipam.string("resolvConf"), requestedIPs: requested)
    }
}

/// A JSON value of the config with its path, for typed reads that name the field they
/// fail on (a `null` field counts as absent, as in Go's decoder).
private struct Fields {
    let value: JSONValue
    let path: String

    init(_ value: JSONValue, path: String) { self.value = value; self.path = path }

    func corrupt(_ key: String, _ message: String) -> IPAMError {
        IPAMError(.decode, "failed to load netconf: \(path.isEmpty ? key : path + "." + key): \(message)")
    }

    /// This value is not of the `expected` JSON type.
    func mismatch(_ expected: String) -> IPAMError {
        IPAMError(.decode, "failed to load netconf: \(path.isEmpty ? "config" : path): expected \(expected), found \(value.typeName)")
    }

    /// The field `key` of this object, nil when absent or null.
    private func child(_ key: String) throws(IPAMError) -> Fields? {
        guard let object = value.objectValue else { throw mismatch("an object") }
        guard let v = object[key], !v.isNull else { return nil }
        return Fields(v, path: path.isEmpty ? key : path + "." + key)
    }

    func string(_ key: String) throws(IPAMError) -> String? {
        guard let f = try child(key) else { return nil }
        guard let s = f.value.stringValue else { throw f.mismatch("a string") }
        return s
    }

    func required(_ key: String) throws(IPAMError) -> String {
        guard let s = try string(key) else { throw corrupt(key, "missing field '\(key)'") }
        return s
    }

    func object(_ key: String) throws(IPAMError) -> Fields? {
        guard let f = try child(key) else { return nil }
        guard f.value.objectValue != nil else { throw f.mismatch("an object") }
        return f
    }

    func array(_ key: String) throws(IPAMError) -> [Fields]? {
        try child(key)?.elements()
    }

    func strings(_ key: String) throws(IPAMError) -> [String]? {
        guard let items = try array(key) else { return nil }
        var out: [String] = []
        for item in items {
            guard let s = item.value.stringValue else { throw item.mismatch("a string") }
            out.append(s)
        }
        return out
    }

    /// The items of this value, which must be an array (a range set).
    func elements() throws(IPAMError) -> [Fields] {
        guard let items = value.arrayValue else { throw mismatch("an array") }
        return items.enumerated().map { Fields($1, path: "\(path)[\($0)]") }
    }

    /// A range: `subnet` (required) and the optional `rangeStart`, `rangeEnd`, `gateway`.
    func range() throws(IPAMError) -> IPRange {
        let text = try required("subnet")
        let subnet: IPPrefix
        do { subnet = try IPPrefix(text) } catch { throw corrupt("subnet", error.description) }
        func address(_ key: String) throws(IPAMError) -> IPAddress? {
            guard let s = try string(key), !s.isEmpty else { return nil }
            guard let a = IPAddress(s) else { throw corrupt(key, "invalid IP address \"\(s)\"") }
            return a
        }
        return IPRange(subnet: subnet, rangeStart: try address("rangeStart"), rangeEnd: try address("rangeEnd"),
                       gateway: try address("gateway"))
    }
}
