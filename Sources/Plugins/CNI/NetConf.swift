/// DNS settings of a config or a result.
public struct DNS: Hashable, Sendable {
    public var nameservers: [String]
    public var domain: String?
    public var search: [String]
    public var options: [String]

    public init(nameservers: [String] = [], domain: String? = nil, search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.domain = domain
        self.search = search
        self.options = options
    }

    public init(json: JSONValue) {
        self.init(nameservers: json["nameservers"]?.stringArray ?? [], domain: json["domain"]?.stringValue,
                  search: json["search"]?.stringArray ?? [], options: json["options"]?.stringArray ?? [])
    }

    public var isEmpty: Bool { nameservers.isEmpty && domain == nil && search.isEmpty && options.isEmpty }

    public var json: JSONValue {
        var o: [String: JSONValue] = [:]
        if !nameservers.isEmpty { o["nameservers"] = .array(nameservers.map { .string($0) }) }
        if let domain { o["domain"] = .string(domain) }
        if !search.isEmpty { o["search"] = .array(search.map { .string($0) }) }
        if !options.isEmpty { o["options"] = .array(options.map { .string($0) }) }
        return .object(o)
    }
}

extension JSONValue {
    var stringArray: [String]? { arrayValue?.compactMap(\.stringValue) }
}

/// One plugin's network configuration, as given on stdin. The typed fields are the spec's;
/// `raw` holds the whole object, including plugin-specific fields.
public struct NetConf: Hashable, Sendable {
    public var cniVersion: String
    public var name: String
    public var type: String
    public var ipam: JSONValue?
    public var dns: DNS?
    public var prevResult: JSONValue?
    public var runtimeConfig: JSONValue?
    public var args: JSONValue?
    public var capabilities: JSONValue?
    /// The whole config object as received.
    public var raw: [String: JSONValue]

    public init(json: JSONValue) throws(CNIError) {
        guard let o = json.objectValue else {
            throw CNIError(code: .decodingFailure, msg: "network config is not a JSON object")
        }
        func string(_ key: String, required: Bool) throws(CNIError) -> String? {
            guard let v = o[key], v != .null else {
                if required {
                    throw CNIError(code: .invalidNetworkConfig, msg: "network config has no \"\(key)\"")
                }
                return nil
            }
            guard let s = v.stringValue else {
                throw CNIError(code: .decodingFailure, msg: "network config field \"\(key)\" is not a string")
            }
            return s
        }
        cniVersion = try string("cniVersion", required: false) ?? "0.1.0"
        name = try string("name", required: false) ?? ""
        type = try string("type", required: false) ?? ""
        ipam = o["ipam"]
        dns = o["dns"].map(DNS.init(json:))
        prevResult = o["prevResult"]
        runtimeConfig = o["runtimeConfig"]
        args = o["args"]
        capabilities = o["capabilities"]
        raw = o
    }

    public init(bytes: [UInt8]) throws(CNIError) {
        try self.init(json: JSONValue.parseCNI(bytes))
    }

    /// A plugin-specific field.
    public subscript(key: String) -> JSONValue? { raw[key] }

    /// The IPAM plugin's type (`ipam.type`), if the config names one.
    public var ipamType: String? { ipam?["type"]?.stringValue }

    /// GC's `cni.dev/valid-attachments`: the (container, interface) pairs still in use.
    public func validAttachments() throws(CNIError) -> [(containerID: String, ifname: String)] {
        var result: [(containerID: String, ifname: String)] = []
        for item in raw["cni.dev/valid-attachments"]?.arrayValue ?? [] {
            guard let id = item["containerID"]?.stringValue, let ifname = item["ifname"]?.stringValue else {
                throw CNIError(code: .invalidNetworkConfig,
                               msg: "cni.dev/valid-attachments entries need containerID and ifname")
            }
            result.append((id, ifname))
        }
        return result
    }

    /// prevResult decoded, if present.
    public func decodedPrevResult() throws(CNIError) -> CNIResult? {
        guard let prevResult, prevResult != .null else { return nil }
        return try CNIResult(json: prevResult)
    }

    /// The config as JSON: `raw` with the typed fields written over it.
    public var json: JSONValue {
        var o = raw
        o["cniVersion"] = .string(cniVersion)
        o["name"] = .string(name)
        o["type"] = .string(type)
        func set(_ key: String, _ value: JSONValue?) { if let value { o[key] = value } else { o[key] = nil } }
        set("ipam", ipam)
        set("dns", dns?.json)
        set("prevResult", prevResult)
        set("runtimeConfig", runtimeConfig)
        set("args", args)
        set("capabilities", capabilities)
        return .object(o)
    }
}

/// A network configuration list (`.conflist`).
public struct NetConfList: Hashable, Sendable {
    public var cniVersion: String
    public var cniVersions: [String]
    public var name: String
    public var disableCheck: Bool
    public var disableGC: Bool
    /// The plugin configs as given (objects).
    public var plugins: [[String: JSONValue]]
    public var raw: [String: JSONValue]

    public init(json: JSONValue) throws(CNIError) {
        guard let o = json.objectValue else {
            throw CNIError(code: .decodingFailure, msg: "network config list is not a JSON object")
        }
        guard let name = o["name"]?.stringValue, !name.isEmpty else {
            throw CNIError(code: .invalidNetworkConfig, msg: "network config list has no \"name\"")
        }
        guard let list = o["plugins"]?.arrayValue, !list.isEmpty else {
            throw CNIError(code: .invalidNetworkConfig, msg: "network config list \(name) has no plugins")
        }
        var plugins: [[String: JSONValue]] = []
        for (i, p) in list.enumerated() {
            guard let obj = p.objectValue, obj["type"]?.stringValue != nil else {
                throw CNIError(code: .invalidNetworkConfig, msg: "plugin \(i) of \(name) has no \"type\"")
            }
            plugins.append(obj)
        }
        self.name = name
        self.plugins = plugins
        cniVersions = o["cniVersions"]?.stringArray ?? []
        cniVersion = o["cniVersion"]?.stringValue ?? ""
        // libcni: disableCheck / disableGC may be booleans or the strings "true"/"false".
        func flag(_ key: String) throws(CNIError) -> Bool {
            switch o[key] {
            case nil, .null?: return false
            case .bool(let b)?: return b
            case .string(let s)? where s.lowercased() == "true": return true
            case .string(let s)? where s.lowercased() == "false": return false
            default: throw CNIError(code: .invalidNetworkConfig, msg: "\"\(key)\" must be a boolean")
            }
        }
        disableCheck = try flag("disableCheck")
        disableGC = try flag("disableGC")
        raw = o
    }

    public init(bytes: [UInt8]) throws(CNIError) {
        try self.init(json: JSONValue.parseCNI(bytes))
    }

    /// The version to run the list at: the highest of `cniVersions` that `supported` contains
    /// (spec 1.1.0), else `cniVersion`.
    public func effectiveVersion(supported: [String] = CNIVersion.all) -> String {
        let usable = cniVersions.filter { supported.contains($0) }
            .sorted { (CNIVersion.compare($0, $1) ?? 0) < 0 }
        return usable.last ?? cniVersion
    }

    /// The config that plugin `index` gets on stdin, as the spec assembles it: the list's
    /// `name` and `cniVersion` injected, `prevResult` (the previous plugin's result, for ADD,
    /// CHECK and DEL) added, and `runtimeConfig` holding the runtime's values for the
    /// capabilities the plugin declares.
    public func pluginConfig(at index: Int, prevResult: JSONValue? = nil,
                             runtimeConfig: [String: JSONValue] = [:]) throws(CNIError) -> NetConf {
        var o = plugins[index]
        o["name"] = .string(name)
        o["cniVersion"] = .string(effectiveVersion())
        if let prevResult { o["prevResult"] = prevResult }
        if let caps = o["capabilities"]?.objectValue {
            var rc: [String: JSONValue] = [:]
            for (key, enabled) in caps where enabled.boolValue == true {
                if let v = runtimeConfig[key] { rc[key] = v }
            }
            if !rc.isEmpty { o["runtimeConfig"] = .object(rc) }
        }
        return try NetConf(json: .object(o))
    }
}
