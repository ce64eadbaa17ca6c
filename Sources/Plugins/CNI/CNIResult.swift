/// An ADD result (spec "Success" output), readable in every supported version's format and
/// written in the version asked for.
public struct CNIResult: Hashable, Sendable {
    public struct Interface: Hashable, Sendable {
        public var name: String
        public var mac: String?
        public var mtu: Int?
        public var sandbox: String?
        public var socketPath: String?
        public var pciID: String?
        public init(name: String, mac: String? = nil, mtu: Int? = nil, sandbox: String? = nil,
                    socketPath: String? = nil, pciID: String? = nil) {
            self.name = name; self.mac = mac; self.mtu = mtu; self.sandbox = sandbox
            self.socketPath = socketPath; self.pciID = pciID
        }
    }

    public struct IPConfig: Hashable, Sendable {
        /// CIDR, e.g. `10.1.0.5/24`.
        public var address: String
        public var gateway: String?
        /// Index into `interfaces`.
        public var interface: Int?
        public init(address: String, gateway: String? = nil, interface: Int? = nil) {
            self.address = address; self.gateway = gateway; self.interface = interface
        }
        /// "4" or "6", from the address.
        public var family: String { address.contains(":") ? "6" : "4" }
    }

    public struct Route: Hashable, Sendable {
        public var dst: String
        public var gw: String?
        public var mtu: Int?
        public var advmss: Int?
        public var priority: Int?
        public var table: Int?
        public var scope: Int?
        public init(dst: String, gw: String? = nil, mtu: Int? = nil, advmss: Int? = nil,
                    priority: Int? = nil, table: Int? = nil, scope: Int? = nil) {
            self.dst = dst; self.gw = gw; self.mtu = mtu; self.advmss = advmss
            self.priority = priority; self.table = table; self.scope = scope
        }
    }

    public var cniVersion: String
    public var interfaces: [Interface]
    public var ips: [IPConfig]
    public var routes: [Route]
    public var dns: DNS

    public init(cniVersion: String = CNIVersion.latest, interfaces: [Interface] = [], ips: [IPConfig] = [],
                routes: [Route] = [], dns: DNS = DNS()) {
        self.cniVersion = cniVersion; self.interfaces = interfaces; self.ips = ips
        self.routes = routes; self.dns = dns
    }

    /// Reads a result of any supported version (0.3.0 to 1.1.0).
    public init(json: JSONValue) throws(CNIError) {
        guard let o = json.objectValue else {
            throw CNIError(code: .decodingFailure, msg: "result is not a JSON object")
        }
        cniVersion = o["cniVersion"]?.stringValue ?? ""
        guard CNIVersion.all.contains(cniVersion) else {
            throw CNIError(code: .incompatibleVersion, msg: "unsupported result version \"\(cniVersion)\"",
                           details: "supported: \(CNIVersion.all.joined(separator: ", "))")
        }
        func bad(_ what: String) -> CNIError {
            CNIError(code: .decodingFailure, msg: "result: \(what)")
        }
        interfaces = []
        for v in o["interfaces"]?.arrayValue ?? [] {
            guard let name = v["name"]?.stringValue else { throw bad("interface without a name") }
            interfaces.append(Interface(name: name, mac: v["mac"]?.stringValue, mtu: v["mtu"]?.intValue,
                                        sandbox: v["sandbox"]?.stringValue, socketPath: v["socketPath"]?.stringValue,
                                        pciID: v["pciID"]?.stringValue))
        }
        ips = []
        for v in o["ips"]?.arrayValue ?? [] {
            guard let address = v["address"]?.stringValue else { throw bad("ip without an address") }
            if let version = v["version"]?.stringValue, version != "4", version != "6" {
                throw bad("ip version \"\(version)\"")
            }
            ips.append(IPConfig(address: address, gateway: v["gateway"]?.stringValue, interface: v["interface"]?.intValue))
        }
        routes = []
        for v in o["routes"]?.arrayValue ?? [] {
            guard let dst = v["dst"]?.stringValue else { throw bad("route without dst") }
            routes.append(Route(dst: dst, gw: v["gw"]?.stringValue, mtu: v["mtu"]?.intValue,
                                advmss: v["advmss"]?.intValue, priority: v["priority"]?.intValue,
                                table: v["table"]?.intValue, scope: v["scope"]?.intValue))
        }
        dns = o["dns"].map(DNS.init(json:)) ?? DNS()
    }

    public init(bytes: [UInt8]) throws(CNIError) {
        try self.init(json: JSONValue.parseCNI(bytes))
    }

    /// The result in `version`'s format (`cniVersion` set to it): 0.3.x and 0.4.0 carry a
    /// per-ip `"version"`; fields added in 1.1.0 (interface mtu, socketPath, pciID; route
    /// mtu, advmss, priority, table, scope) are left out of older versions.
    public func json(version: String) throws(CNIError) -> JSONValue {
        guard CNIVersion.all.contains(version) else {
            throw CNIError(code: .incompatibleVersion, msg: "cannot convert a result to version \"\(version)\"",
                           details: "supported: \(CNIVersion.all.joined(separator: ", "))")
        }
        let v11 = CNIVersion.atLeast(version, "1.1.0")
        let perIPVersion = !CNIVersion.atLeast(version, "1.0.0")
        var o: [String: JSONValue] = ["cniVersion": .string(version)]
        if !interfaces.isEmpty {
            o["interfaces"] = .array(interfaces.map { i in
                var d: [String: JSONValue] = ["name": .string(i.name)]
                if let mac = i.mac { d["mac"] = .string(mac) }
                if let sandbox = i.sandbox { d["sandbox"] = .string(sandbox) }
                if v11 {
                    if let mtu = i.mtu { d["mtu"] = .int(Int64(mtu)) }
                    if let s = i.socketPath { d["socketPath"] = .string(s) }
                    if let p = i.pciID { d["pciID"] = .string(p) }
                }
                return .object(d)
            })
        }
        if !ips.isEmpty {
            o["ips"] = .array(ips.map { ip in
                var d: [String: JSONValue] = ["address": .string(ip.address)]
                if let gw = ip.gateway { d["gateway"] = .string(gw) }
                if let i = ip.interface { d["interface"] = .int(Int64(i)) }
                if perIPVersion { d["version"] = .string(ip.family) }
                return .object(d)
            })
        }
        if !routes.isEmpty {
            o["routes"] = .array(routes.map { r in
                var d: [String: JSONValue] = ["dst": .string(r.dst)]
                if let gw = r.gw { d["gw"] = .string(gw) }
                if v11 {
                    for (k, v) in [("mtu", r.mtu), ("advmss", r.advmss), ("priority", r.priority),
                                   ("table", r.table), ("scope", r.scope)] {
                        if let v { d[k] = .int(Int64(v)) }
                    }
                }
                return .object(d)
            })
        }
        if !dns.isEmpty { o["dns"] = dns.json }
        return .object(o)
    }

    /// Result as JSON in its own `cniVersion`.
    public var json: JSONValue {
        get throws(CNIError) { try json(version: cniVersion) }
    }
}
