import Glibc

/// What a plugin's handler gets: the checked environment, the config and its raw bytes.
public struct CNIRequest: Sendable {
    public var env: CNIEnvironment
    public var config: NetConf
    public var stdin: [UInt8]
}

/// The plugin entry point: reads CNI_* and stdin, dispatches to the verb's handler, prints
/// exactly one JSON document on stdout and exits (0 on success, 1 with the error JSON).
public enum PluginMain {
    public typealias AddHandler = (CNIRequest) throws -> CNIResult
    public typealias Handler = (CNIRequest) throws -> Void

    public static func run(supportedVersions: [String] = CNIVersion.all,
                           add: AddHandler, del: Handler, check: Handler? = nil,
                           gc: Handler? = nil, status: Handler? = nil) -> Never {
        var env: [String: String] = [:]
        for name in ["CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"] {
            if let v = getenv(name) { env[name] = String(cString: v) }
        }
        // VERSION may come without stdin (a terminal): do not wait for it.
        let needsStdin = env["CNI_COMMAND"] != nil && env["CNI_COMMAND"] != "VERSION"
        let input = needsStdin ? readAll(fd: 0) : []
        let (output, status) = handle(environment: env, stdin: input, supportedVersions: supportedVersions,
                                      add: add, del: del, check: check, gc: gc, status: status)
        writeAll(fd: 1, output)
        exit(status)
    }

    /// The whole invocation without process I/O: returns stdout's bytes and the exit status.
    public static func handle(environment: [String: String], stdin: [UInt8],
                              supportedVersions: [String] = CNIVersion.all,
                              add: AddHandler, del: Handler, check: Handler? = nil,
                              gc: Handler? = nil, status: Handler? = nil) -> (output: [UInt8], status: Int32) {
        var version = supportedVersions.last ?? CNIVersion.latest
        do {
            let env = try CNIEnvironment(environment)
            if env.command == .version {
                let doc: JSONValue = .object(["cniVersion": .string(version),
                                              "supportedVersions": .array(supportedVersions.map { .string($0) })])
                return (doc.jsonBytes() + [10], 0)
            }
            let config = try NetConf(bytes: stdin)
            guard supportedVersions.contains(config.cniVersion) else {
                throw CNIError(code: .incompatibleVersion,
                               msg: "incompatible CNI versions",
                               details: "config is \"\(config.cniVersion)\", plugin supports [\(supportedVersions.joined(separator: " "))]")
            }
            version = config.cniVersion
            let request = CNIRequest(env: env, config: config, stdin: stdin)
            func need(_ minimum: String, _ handler: Handler?) throws(CNIError) -> Handler {
                guard CNIVersion.atLeast(version, minimum) else {
                    throw CNIError(code: .incompatibleVersion, msg: "config version does not allow \(env.command.rawValue)")
                }
                guard let handler else {
                    throw CNIError(code: .invalidEnvironment, msg: "plugin does not implement \(env.command.rawValue)")
                }
                return handler
            }
            switch env.command {
            case .add:
                let result = try add(request)
                return (try result.json(version: version).jsonBytes() + [10], 0)
            case .del: try del(request)
            case .check: try need("0.4.0", check)(request)
            case .gc: try need("1.1.0", gc)(request)
            case .status: try need("1.1.0", status)(request)
            case .version: break
            }
            return ([], 0)
        } catch let error as CNIError {
            return (error.json(cniVersion: version).jsonBytes() + [10], 1)
        } catch {
            let e = CNIError(code: .generic, msg: "\(error)")
            return (e.json(cniVersion: version).jsonBytes() + [10], 1)
        }
    }

    public static func readAll(fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { out += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        return out
    }

    public static func writeAll(fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { break }
        }
    }
}
