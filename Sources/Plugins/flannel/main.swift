// CNI flannel plugin: turns flanneld's subnet.env into a `bridge` + `host-local` config and
// delegates to it, the way flannel's own plugin (flannel-io/cni-plugin) does, so a flannel
// conflist works unchanged: `{"type": "flannel", "delegate": {"hairpinMode": true,
// "isDefaultGateway": true}}`. The delegate config is saved per container under `dataDir`,
// and DEL replays it (even if subnet.env changed or is gone by then).
import CNI
import Glibc

/// subnet.env as flanneld writes it.
struct SubnetEnv {
    var network: String?
    var subnet: String?
    var mtu: Int?
    var ipMasq: Bool?

    static func load(_ path: String) throws(CNIError) -> SubnetEnv {
        guard let bytes = readFile(path) else {
            throw CNIError(code: .tryAgainLater,
                           msg: "failed to load flannel subnet file \(path): \(String(cString: strerror(errno)))",
                           details: "is flanneld running on this node? It writes the file once the node has its subnet")
        }
        var env = SubnetEnv()
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingSpaces, value = String(line[line.index(after: eq)...].trimmingSpaces)
            switch key {
            case "FLANNEL_NETWORK": env.network = value
            case "FLANNEL_SUBNET": env.subnet = value
            case "FLANNEL_MTU": env.mtu = Int(value)
            case "FLANNEL_IPMASQ": env.ipMasq = value == "true"
            default: break
            }
        }
        guard let subnet = env.subnet, let network = env.network, env.mtu != nil, env.ipMasq != nil,
              let subnetNetwork = networkOf(subnet) else {
            throw CNIError(code: .invalidNetworkConfig,
                           msg: "\(path) is missing FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU or FLANNEL_IPMASQ, or has an invalid subnet")
        }
        env.subnet = subnetNetwork
        env.network = network
        return env
    }

    /// `10.244.1.1/24` -> `10.244.1.0/24` (what host-local's range wants).
    static func networkOf(_ cidr: String) -> String? {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let length = Int(parts[1]), (0...32).contains(length) else { return nil }
        let octets = parts[0].split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 < 256 }) else { return nil }
        let value = octets.reduce(0) { $0 << 8 | $1 }
        let mask: UInt32 = length == 0 ? 0 : ~0 << (32 - UInt32(length))
        let network = value & mask
        return "\(network >> 24).\(network >> 16 & 0xff).\(network >> 8 & 0xff).\(network & 0xff)/\(length)"
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" || s.first == "\r" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\r" { s = s.dropLast() }
        return s
    }
}

func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    return PluginMain.readAll(fd: fd)
}

/// The plugin's own settings.
struct FlannelConf {
    var subnetFile = "/run/flannel/subnet.env"
    var dataDir = "/var/lib/cni/flannel"
    var delegate: [String: JSONValue] = [:]

    init(_ config: NetConf) throws(CNIError) {
        if let file = config["subnetFile"] {
            guard let path = file.stringValue, !path.isEmpty else { throw invalid("subnetFile must be a path") }
            subnetFile = path
        }
        if let dir = config["dataDir"] {
            guard let path = dir.stringValue, !path.isEmpty else { throw invalid("dataDir must be a path") }
            dataDir = path
        }
        if let value = config["delegate"], value != .null {
            guard case .object(let object) = value else { throw invalid("delegate must be an object") }
            delegate = object
        }
    }

    func invalid(_ msg: String) -> CNIError { CNIError(code: .invalidNetworkConfig, msg: msg) }

    /// Where ADD saves the delegate config it used, for DEL to replay.
    func scratchPath(_ containerID: String) throws(CNIError) -> String {
        guard !containerID.isEmpty, !containerID.contains("/"), containerID != ".", containerID != ".." else {
            throw CNIError(code: .invalidEnvironment, msg: "invalid CNI_CONTAINERID \"\(containerID)\"")
        }
        return dataDir + "/" + containerID
    }
}

/// flannel's delegate config: the user's `delegate` with defaults filled from subnet.env (a
/// bridge that is the pods' gateway, the overlay's MTU, masquerade only if flanneld does not),
/// and host-local IPAM over this node's subnet with a route to the whole network.
func delegateConfig(_ config: NetConf, _ conf: FlannelConf, _ env: SubnetEnv) throws(CNIError) -> JSONValue {
    var delegate = conf.delegate
    delegate["name"] = .string(config.name)
    if delegate["type"] == nil { delegate["type"] = "bridge" }
    guard let type = delegate["type"]?.stringValue, !type.isEmpty else { throw conf.invalid("delegate.type must be a plugin name") }
    if delegate["ipMasq"] == nil { delegate["ipMasq"] = .bool(!(env.ipMasq ?? false)) }
    if delegate["mtu"] == nil { delegate["mtu"] = .int(Int64(env.mtu ?? 1500)) }
    if type == "bridge", delegate["isGateway"] == nil { delegate["isGateway"] = true }
    delegate["cniVersion"] = .string(config.cniVersion)
    if let runtimeConfig = config.runtimeConfig { delegate["runtimeConfig"] = runtimeConfig }

    var ipam: [String: JSONValue] = [:]
    if let value = config.ipam, value != .null {
        guard case .object(let object) = value else { throw conf.invalid("ipam must be an object") }
        ipam = object
    }
    if ipam["type"] == nil { ipam["type"] = "host-local" }
    ipam["ranges"] = [[["subnet": .string(env.subnet ?? "")]]]
    var routes = ipam["routes"]?.arrayValue ?? []
    routes.append(["dst": .string(env.network ?? "")])
    ipam["routes"] = .array(routes)
    delegate["ipam"] = .object(ipam)
    return .object(delegate)
}

func writeScratch(_ path: String, _ bytes: [UInt8]) throws(CNIError) {
    var partial = ""
    for component in path.split(separator: "/").dropLast() {
        partial += "/" + component
        _ = mkdir(partial, 0o700)
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        throw CNIError(code: .ioFailure, msg: "failed to save the delegate config: \(String(cString: strerror(errno)))", details: path)
    }
    PluginMain.writeAll(fd: fd, bytes)
    close(fd)
}

/// The delegate's plugin name in a config.
func delegateType(_ bytes: [UInt8]) throws(CNIError) -> String {
    guard let type = (try? JSONValue.parse(bytes))?["type"]?.stringValue else {
        throw CNIError(code: .decodingFailure, msg: "saved delegate config has no type")
    }
    return type
}

PluginMain.run(
    supportedVersions: CNIVersion.all,
    add: { request in
        let conf = try FlannelConf(request.config)
        let env = try SubnetEnv.load(conf.subnetFile)
        let delegate = try delegateConfig(request.config, conf, env)
        let bytes = delegate.jsonBytes()
        let path = try conf.scratchPath(request.env.containerID)
        try writeScratch(path, bytes)
        let type = try delegateType(bytes)
        do {
            guard let result = try IPAMDelegate.exec(plugin: type, config: bytes) else {
                throw CNIError(code: .generic, msg: "delegate \(type) returned no result")
            }
            return result
        } catch {
            // Undo whatever the delegate got done (addresses reserved, links made), then forget it.
            _ = try? IPAMDelegate.exec(plugin: type, config: bytes, env: ["CNI_COMMAND": "DEL"])
            unlink(path)
            throw error
        }
    },
    del: { request in
        let conf = try FlannelConf(request.config)
        let path = try conf.scratchPath(request.env.containerID)
        // No saved config: never added, or already deleted. DEL must succeed either way.
        guard let bytes = readFile(path) else { return }
        try IPAMDelegate.exec(plugin: try delegateType(bytes), config: bytes)
        unlink(path)
    },
    check: { request in
        let conf = try FlannelConf(request.config)
        let path = try conf.scratchPath(request.env.containerID)
        guard let bytes = readFile(path), case .object(var saved)? = try? JSONValue.parse(bytes) else {
            throw CNIError(code: .unknownContainer, msg: "no delegate config saved for container \(request.env.containerID) in \(conf.dataDir)")
        }
        if let prev = request.config.prevResult { saved["prevResult"] = prev }
        let config = JSONValue.object(saved).jsonBytes()
        try IPAMDelegate.exec(plugin: try delegateType(config), config: config)
    },
    gc: { request in
        // The delegate (host-local through the bridge) releases what the valid attachments
        // no longer hold; it needs the current config, which subnet.env gives.
        let conf = try FlannelConf(request.config)
        let env = try SubnetEnv.load(conf.subnetFile)
        guard case .object(var delegate) = try delegateConfig(request.config, conf, env) else { return }
        if let valid = request.config["cni.dev/valid-attachments"] { delegate["cni.dev/valid-attachments"] = valid }
        let bytes = JSONValue.object(delegate).jsonBytes()
        try IPAMDelegate.exec(plugin: try delegateType(bytes), config: bytes)
    },
    status: { request in
        let conf = try FlannelConf(request.config)
        do throws(CNIError) { _ = try SubnetEnv.load(conf.subnetFile) } catch {
            throw CNIError(code: .pluginNotAvailable, msg: error.msg, details: error.details)
        }
    }
)
