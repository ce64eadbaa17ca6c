import APIMachinery
public import JSON

/// The files a configMap, secret, downwardAPI or projected volume holds, computed from the
/// pod and its inputs (the agent writes them; nothing here touches a disk).
public struct VolumeFile: Sendable, Equatable {
    /// Relative to the volume's root, never escaping it.
    public var path: String
    public var contents: [UInt8]
    public var mode: Int

    public init(path: String, contents: [UInt8], mode: Int) {
        self.path = path
        self.contents = contents
        self.mode = mode
    }
}

public enum VolumeFiles {
    /// What kind of storage a pod volume needs from the agent.
    public enum Kind: Sendable, Equatable {
        case emptyDir(memory: Bool)
        case hostPath(path: String, type: String)
        /// Files the agent writes (configMap, secret, downwardAPI, projected).
        case files([VolumeFile])
    }

    /// The volume's kind; `token` supplies a service-account token for a projected
    /// serviceAccountToken source (nil: the source is refused with the reason).
    public static func kind(_ volume: JSONValue, pod: JSONValue, podIPs: [String], hostIP: String?, inputs: any PodInputs,
                            token: (_ audience: String?, _ seconds: Int) -> String?) throws(ContainerConfigError) -> Kind {
        let name = volume["name"]?.stringValue ?? ""
        let namespace = pod.namespace ?? "default"
        if let empty = volume["emptyDir"] { return .emptyDir(memory: empty["medium"]?.stringValue == "Memory") }
        if let host = volume["hostPath"] {
            guard let path = host["path"]?.stringValue, path.hasPrefix("/") else {
                throw ContainerConfigError("volume \(name): hostPath.path must be absolute")
            }
            return .hostPath(path: path, type: host["type"]?.stringValue ?? "")
        }
        if let source = volume["configMap"] {
            return .files(try configMapFiles(source, namespace: namespace, inputs: inputs, defaultMode: source["defaultMode"]?.intValue ?? 0o644))
        }
        if let source = volume["secret"] {
            return .files(try secretFiles(source, namespace: namespace, inputs: inputs, defaultMode: source["defaultMode"]?.intValue ?? 0o644))
        }
        if let source = volume["downwardAPI"] {
            return .files(try downwardFiles(source, pod: pod, podIPs: podIPs, hostIP: hostIP, defaultMode: source["defaultMode"]?.intValue ?? 0o644))
        }
        if let projected = volume["projected"] {
            let mode = projected["defaultMode"]?.intValue ?? 0o644
            var files: [VolumeFile] = []
            for source in projected["sources"]?.arrayValue ?? [] {
                if let cm = source["configMap"] {
                    files += try configMapFiles(cm, namespace: namespace, inputs: inputs, defaultMode: mode)
                } else if let secret = source["secret"] {
                    files += try secretFiles(secret, namespace: namespace, inputs: inputs, defaultMode: mode)
                } else if let downward = source["downwardAPI"] {
                    files += try downwardFiles(downward, pod: pod, podIPs: podIPs, hostIP: hostIP, defaultMode: mode)
                } else if let sa = source["serviceAccountToken"] {
                    let path = sa["path"]?.stringValue ?? "token"
                    let seconds = sa["expirationSeconds"]?.intValue ?? 3607
                    guard let value = token(sa["audience"]?.stringValue, seconds) else {
                        throw ContainerConfigError("volume \(name): the API server issued no service account token")
                    }
                    // The volume's mode (0644 unless set): the container's user, whoever it is, reads it.
                    files.append(VolumeFile(path: try checked(path, name), contents: Array(value.utf8), mode: mode))
                } else {
                    throw ContainerConfigError("volume \(name): projected source \(source.objectValue?.keys.sorted().first ?? "?") is not supported")
                }
            }
            return .files(files)
        }
        let type = volume.objectValue?.keys.filter { $0 != "name" }.sorted().first ?? "?"
        throw ContainerConfigError("volume \(name): \(type) volumes are not supported by netplane kubelet")
    }

    static func configMapFiles(_ source: JSONValue, namespace: String, inputs: any PodInputs,
                               defaultMode: Int) throws(ContainerConfigError) -> [VolumeFile] {
        let name = source["name"]?.stringValue ?? ""
        guard let data = inputs.configMap(namespace, name) else {
            if source["optional"]?.boolValue == true { return [] }
            throw ContainerConfigError("configmap \"\(name)\" not found")
        }
        return try project(data.mapValues { Array($0.utf8) }, source, defaultMode: defaultMode, what: "ConfigMap \(name)")
    }

    static func secretFiles(_ source: JSONValue, namespace: String, inputs: any PodInputs,
                            defaultMode: Int) throws(ContainerConfigError) -> [VolumeFile] {
        let name = source["secretName"]?.stringValue ?? source["name"]?.stringValue ?? ""
        guard let data = inputs.secret(namespace, name) else {
            if source["optional"]?.boolValue == true { return [] }
            throw ContainerConfigError("secret \"\(name)\" not found")
        }
        return try project(data, source, defaultMode: defaultMode, what: "Secret \(name)")
    }

    /// Every key as a file, or only `items` (key → path, mode).
    static func project(_ data: [String: [UInt8]], _ source: JSONValue, defaultMode: Int,
                        what: String) throws(ContainerConfigError) -> [VolumeFile] {
        guard let items = source["items"]?.arrayValue else {
            return data.sorted { $0.key < $1.key }.map { VolumeFile(path: $0.key, contents: $0.value, mode: defaultMode) }
        }
        var files: [VolumeFile] = []
        for item in items {
            let key = item["key"]?.stringValue ?? ""
            guard let value = data[key] else {
                if source["optional"]?.boolValue == true { continue }
                throw ContainerConfigError("couldn't find key \(key) in \(what)")
            }
            files.append(VolumeFile(path: try checked(item["path"]?.stringValue ?? key, what),
                                    contents: value, mode: item["mode"]?.intValue ?? defaultMode))
        }
        return files
    }

    static func downwardFiles(_ source: JSONValue, pod: JSONValue, podIPs: [String], hostIP: String?,
                              defaultMode: Int) throws(ContainerConfigError) -> [VolumeFile] {
        var files: [VolumeFile] = []
        for item in source["items"]?.arrayValue ?? [] {
            let path = try checked(item["path"]?.stringValue ?? "", "downwardAPI")
            let value: String
            if let field = item[path: ["fieldRef", "fieldPath"]]?.stringValue {
                value = try Environment.fieldValue(field, pod: pod, podIPs: podIPs, hostIP: hostIP)
            } else if let resource = item["resourceFieldRef"] {
                let containerName = resource["containerName"]?.stringValue ?? ""
                let container = pod[path: ["spec", "containers"]]?.arrayValue?.first { $0["name"]?.stringValue == containerName }
                value = try Environment.resourceValue(resource, pod: pod, container: container ?? .emptyObject)
            } else {
                throw ContainerConfigError("downwardAPI item \(path): needs fieldRef or resourceFieldRef")
            }
            files.append(VolumeFile(path: path, contents: Array(value.utf8), mode: item["mode"]?.intValue ?? defaultMode))
        }
        return files
    }

    /// A relative path that stays inside the volume.
    static func checked(_ path: String, _ what: String) throws(ContainerConfigError) -> String {
        let parts = path.split(separator: "/")
        guard !path.isEmpty, !path.hasPrefix("/"), !parts.contains("..") else {
            throw ContainerConfigError("\(what): path \(path) must be relative and may not contain '..'")
        }
        return path
    }

    /// The pod's /etc/hosts, as the kubelet writes it.
    public static func hostsFile(pod: JSONValue, podIPs: [String]) -> String {
        var lines = ["# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                     "fe00::0\tip6-localnet", "fe00::0\tip6-mcastprefix", "fe00::1\tip6-allnodes", "fe00::2\tip6-allrouters"]
        let hostname = pod[path: ["spec", "hostname"]]?.stringValue ?? pod.name ?? ""
        var names = hostname
        if let subdomain = pod[path: ["spec", "subdomain"]]?.stringValue, !subdomain.isEmpty {
            names = "\(hostname).\(subdomain).\(pod.namespace ?? "default").svc.cluster.local\t\(hostname)"
        }
        for ip in podIPs { lines.append("\(ip)\t\(names)") }
        for alias in pod[path: ["spec", "hostAliases"]]?.arrayValue ?? [] {
            let hostnames = alias["hostnames"]?.arrayValue?.compactMap(\.stringValue) ?? []
            if let ip = alias["ip"]?.stringValue, !hostnames.isEmpty { lines.append("\(ip)\t\(hostnames.joined(separator: "\t"))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The pod's resolv.conf: ClusterFirst with a cluster DNS server (search domains and
    /// ndots:5), else the node's own (Default, or ClusterFirst without cluster DNS, as the
    /// kubelet falls back), or the pod's dnsConfig for None.
    public static func resolvConf(pod: JSONValue, clusterDNS: [String], clusterDomain: String, nodeResolvConf: String) -> String {
        let policy = pod[path: ["spec", "dnsPolicy"]]?.stringValue ?? "ClusterFirst"
        var nameservers: [String] = []
        var searches: [String] = []
        var options: [String] = []
        var base = nodeResolvConf
        if policy == "None" { base = "" }
        if (policy == "ClusterFirst" || policy == "ClusterFirstWithHostNet"), !clusterDNS.isEmpty {
            let ns = pod.namespace ?? "default"
            nameservers = clusterDNS
            searches = ["\(ns).svc.\(clusterDomain)", "svc.\(clusterDomain)", clusterDomain]
            options = ["ndots:5"]
            base = base.split(separator: "\n").filter { $0.hasPrefix("search ") }.joined(separator: "\n")
            for line in base.split(separator: "\n") { searches += line.split(separator: " ").dropFirst().map(String.init) }
            base = ""
        }
        let config = pod[path: ["spec", "dnsConfig"]] ?? .emptyObject
        nameservers += config["nameservers"]?.arrayValue?.compactMap(\.stringValue) ?? []
        searches += config["searches"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for option in config["options"]?.arrayValue ?? [] {
            guard let name = option["name"]?.stringValue else { continue }
            options.append(option["value"]?.stringValue.map { "\(name):\($0)" } ?? name)
        }
        var lines = base.split(separator: "\n").map(String.init)
        if !searches.isEmpty {
            lines.removeAll { $0.hasPrefix("search ") }
            lines.append("search " + searches.joined(separator: " "))
        }
        lines += nameservers.map { "nameserver \($0)" }
        if !options.isEmpty { lines.append("options " + options.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }
}
