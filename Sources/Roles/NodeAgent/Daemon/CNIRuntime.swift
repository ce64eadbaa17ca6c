import Foundation
public import JSON

/// The runtime side of CNI (what libcni does for containerd): the node's network is the
/// first configuration in the conf dir in lexical order (`.conflist`, or a single-plugin
/// `.conf`/`.json`), its plugins run in order for ADD with each one's result passed to the
/// next as prevResult, in reverse for DEL, with the Kubernetes CNI_ARGS and the
/// `portMappings` capability for hostPorts.
public struct CNIRuntime: Sendable {
    public var binDirs: [String]
    public var confDir: String

    public struct CNIError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Who the attachment is for.
    public struct Attachment: Sendable {
        public var containerID: String
        public var netns: String
        public var ifName = "eth0"
        public var podNamespace: String
        public var podName: String
        public var podUID: String
        /// hostPort mappings (the portMappings capability's entries).
        public var portMappings: [JSONValue] = []

        public init(containerID: String, netns: String, podNamespace: String, podName: String, podUID: String, portMappings: [JSONValue] = []) {
            self.containerID = containerID
            self.netns = netns
            self.podNamespace = podNamespace
            self.podName = podName
            self.podUID = podUID
            self.portMappings = portMappings
        }
    }

    public init(binDirs: [String], confDir: String) {
        self.binDirs = binDirs
        self.confDir = confDir
    }

    /// The network list in force (nil: no configuration yet, the node is not ready).
    public func network() throws(CNIError) -> JSONValue? {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: confDir)) ?? [])
            .filter { $0.hasSuffix(".conflist") || $0.hasSuffix(".conf") || $0.hasSuffix(".json") }.sorted()
        guard let file = files.first else { return nil }
        let path = confDir + "/" + file
        let json: JSONValue
        do {
            guard let data = FileManager.default.contents(atPath: path) else { throw CNIError(description: "\(path): unreadable") }
            json = try JSONValue.parse(Array(data))
        } catch let error as CNIError { throw error } catch { throw CNIError(description: "\(path): \(error)") }
        if file.hasSuffix(".conflist") {
            guard json["plugins"]?.arrayValue?.isEmpty == false else { throw CNIError(description: "\(path): no plugins") }
            return json
        }
        guard json["type"]?.stringValue != nil else { throw CNIError(description: "\(path): no type") }
        return ["cniVersion": json["cniVersion"] ?? "0.4.0", "name": json["name"] ?? "", "plugins": [json]]
    }

    /// ADD through every plugin; the last plugin's result.
    public func add(_ attachment: Attachment, network: JSONValue) async throws(CNIError) -> JSONValue {
        var previous: JSONValue?
        for plugin in network["plugins"]?.arrayValue ?? [] {
            let result = try await invoke("ADD", plugin, network: network, attachment, previous: previous)
            previous = result
        }
        return previous ?? .emptyObject
    }

    /// DEL through every plugin in reverse, with the cached result as prevResult. Every
    /// plugin is asked even when one fails (each releases what it holds); the first error is
    /// thrown at the end.
    public func delete(_ attachment: Attachment, network: JSONValue, result: JSONValue?) async throws(CNIError) {
        var firstError: CNIError?
        for plugin in (network["plugins"]?.arrayValue ?? []).reversed() {
            do { _ = try await invoke("DEL", plugin, network: network, attachment, previous: result) } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    /// CHECK through every plugin (CNI 0.4.0 and later).
    public func check(_ attachment: Attachment, network: JSONValue, result: JSONValue?) async throws(CNIError) {
        for plugin in network["plugins"]?.arrayValue ?? [] {
            _ = try await invoke("CHECK", plugin, network: network, attachment, previous: result)
        }
    }

    func invoke(_ command: String, _ plugin: JSONValue, network: JSONValue, _ a: Attachment,
                previous: JSONValue?) async throws(CNIError) -> JSONValue {
        guard let type = plugin["type"]?.stringValue else { throw CNIError(description: "a plugin of \(network["name"]?.stringValue ?? "") has no type") }
        let candidates: [String] = binDirs.map { dir in dir + "/" + type }
        guard let binary = candidates.first(where: { path in access(path, X_OK) == 0 }) else {
            throw CNIError(description: "failed to find plugin \"\(type)\" in path \(binDirs)")
        }
        var config = plugin
        config["name"] = network["name"] ?? ""
        config["cniVersion"] = network["cniVersion"] ?? "0.4.0"
        if let previous { config["prevResult"] = previous }
        if plugin[path: ["capabilities", "portMappings"]]?.boolValue == true {
            config["runtimeConfig"] = ["portMappings": .array(a.portMappings)]
        }
        let args = "IgnoreUnknown=1;K8S_POD_NAMESPACE=\(a.podNamespace);K8S_POD_NAME=\(a.podName);K8S_POD_INFRA_CONTAINER_ID=\(a.containerID);K8S_POD_UID=\(a.podUID)"
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CNI_") }.map { "\($0.key)=\($0.value)" }
        env += ["CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(a.containerID)", "CNI_NETNS=\(a.netns)", "CNI_IFNAME=\(a.ifName)",
                "CNI_ARGS=\(args)", "CNI_PATH=\(binDirs.joined(separator: ":"))"]
        let output: ProcessRunner.Output
        do {
            output = try await ProcessRunner.shared.run([binary], environment: env, input: config.jsonBytes(), timeout: 60)
        } catch { throw CNIError(description: "\(type): \(error)") }
        if !output.succeeded {
            if let error = try? JSONValue.parse(output.stdout), let message = error["msg"]?.stringValue {
                let details = error["details"]?.stringValue.map { ": \($0)" } ?? ""
                throw CNIError(description: "plugin type=\"\(type)\" failed (\(command.lowercased())): \(message)\(details)")
            }
            throw CNIError(description: "plugin type=\"\(type)\" failed (\(command.lowercased())): exit \(output.status): \(output.stderrText)")
        }
        guard command == "ADD" else { return .emptyObject }
        do { return try JSONValue.parse(output.stdout) } catch {
            throw CNIError(description: "plugin type=\"\(type)\": result is not JSON: \(error)")
        }
    }

    /// The pod IPs of an ADD result (CNI 0.3+ `ips`, or 0.2 `ip4`/`ip6`), without prefix length.
    public static func podIPs(_ result: JSONValue) -> [String] {
        var ips = (result["ips"]?.arrayValue ?? []).compactMap { $0["address"]?.stringValue }
        if ips.isEmpty {
            ips = [result[path: ["ip4", "ip"]]?.stringValue, result[path: ["ip6", "ip"]]?.stringValue].compactMap { $0 }
        }
        return ips.map { String($0.split(separator: "/").first ?? "") }
    }
}
