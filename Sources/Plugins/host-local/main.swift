// CNI host-local IPAM plugin: hands out addresses from the configured range sets and keeps
// them in the reference plugin's on-disk layout (<dataDir>/<network>/), so it can replace
// containernetworking/plugins' host-local on a running node.
import CNI
import Glibc
import IPAM
import NetAddress

/// The ipam section plus requested IPs (CNI_ARGS `IP=`, args, runtimeConfig) of a request.
func hostLocalConfig(_ request: CNIRequest) throws(CNIError) -> HostLocalConfig {
    do {
        return try HostLocalConfig(json: request.stdin, cniArgs: request.env.arg("IP").map { "IP=" + $0 })
    } catch {
        throw cniError(error)
    }
}

func cniError(_ error: IPAMError) -> CNIError {
    let code: CNIError.Code = switch error.kind {
    case .decode: .decodingFailure
    case .invalidConfig: .invalidNetworkConfig
    case .io: .ioFailure
    case .exhausted, .unavailable, .duplicate, .notFound: .generic
    }
    return CNIError(code: code, msg: error.message)
}

func withAllocator<T>(_ request: CNIRequest, _ body: (Allocator) throws(IPAMError) -> T) throws(CNIError) -> T {
    let config = try hostLocalConfig(request)
    do {
        let store = try DiskStore(network: config.name, dataDir: config.dataDir)
        return try body(Allocator(config: config, store: store))
    } catch {
        throw cniError(error)
    }
}

func readText(_ path: String) throws(CNIError) -> String {
    guard let f = fopen(path, "rb") else {
        throw CNIError(code: .ioFailure, msg: "open \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n == 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

PluginMain.run(
    add: { request in
        let config = try hostLocalConfig(request)
        var result = CNIResult(cniVersion: request.config.cniVersion)
        if let path = config.resolvConf, !path.isEmpty {
            let r = ResolvConf(parsing: try readText(path))
            result.dns = DNS(nameservers: r.nameservers, domain: r.domain, search: r.search, options: r.options)
        }
        let allocations = try withAllocator(request) { (a) throws(IPAMError) in
            try a.allocate(containerID: request.env.containerID, ifname: request.env.ifname)
        }
        result.ips = allocations.map { .init(address: $0.address.description, gateway: $0.gateway?.description) }
        result.routes = config.routes.map { .init(dst: $0.dst.description, gw: $0.gw?.description) }
        return result
    },
    del: { request in
        try withAllocator(request) { (a) throws(IPAMError) in
            try a.release(containerID: request.env.containerID, ifname: request.env.ifname)
        }
    },
    check: { request in
        try withAllocator(request) { (a) throws(IPAMError) in
            _ = try a.check(containerID: request.env.containerID, ifname: request.env.ifname)
        }
    },
    gc: { request in
        let valid = try request.config.validAttachments().map { Attachment(containerID: $0.containerID, ifname: $0.ifname) }
        try withAllocator(request) { (a) throws(IPAMError) in _ = try a.gc(valid: valid) }
    },
    // Ready when the config is valid and the data directory can be opened and locked.
    status: { request in
        try withAllocator(request) { (_) throws(IPAMError) in }
    })
