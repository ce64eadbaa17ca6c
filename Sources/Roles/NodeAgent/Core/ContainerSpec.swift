import APIMachinery
public import JSON

/// What an image says about running it (the OCI image config's `config` object).
public struct ImageConfig: Sendable, Equatable {
    public var entrypoint: [String]
    public var cmd: [String]
    public var env: [String]
    public var workingDir: String?
    public var user: String?

    public init(entrypoint: [String] = [], cmd: [String] = [], env: [String] = [], workingDir: String? = nil, user: String? = nil) {
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.env = env
        self.workingDir = workingDir
        self.user = user
    }
}

/// A bind mount into a container: a volume (or a file the agent writes per pod) at `path`.
public struct ContainerMount: Sendable, Equatable {
    public var source: String
    public var destination: String
    public var readOnly: Bool

    public init(source: String, destination: String, readOnly: Bool) {
        self.source = source
        self.destination = destination
        self.readOnly = readOnly
    }
}

/// Where a container lives: the sandbox's namespaces, its cgroup, its root filesystem.
public struct ContainerPlacement: Sendable, Equatable {
    /// The pod's network namespace (a path such as /run/netns/cni-…).
    public var networkNamespace: String
    /// The sandbox's IPC and UTS namespaces (/proc/PID/ns/ipc, /proc/PID/ns/uts).
    public var ipcNamespace: String
    public var utsNamespace: String
    /// runc's cgroupsPath (cgroupfs: /netplane/<node>/pod<uid>/<container>).
    public var cgroupsPath: String
    public var rootfs: String

    public init(networkNamespace: String, ipcNamespace: String, utsNamespace: String, cgroupsPath: String, rootfs: String) {
        self.networkNamespace = networkNamespace
        self.ipcNamespace = ipcNamespace
        self.utsNamespace = utsNamespace
        self.cgroupsPath = cgroupsPath
        self.rootfs = rootfs
    }
}

/// Why a container's configuration cannot be made (the pod's CreateContainerConfigError).
public struct ContainerConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

/// Turns a pod's container into an OCI runtime spec (runc's config.json), the way the kubelet
/// and containerd's CRI plugin together do: command and args over the image's entrypoint and
/// cmd, environment with `$(VAR)` expansion, the default capability set with the container's
/// additions and drops, user and group, resources as cgroup limits, and the pod sandbox's
/// namespaces joined by path.
public enum ContainerSpec {
    /// containerd's default capability set for a container that is not privileged.
    public static let defaultCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]
    /// Every capability of this kernel generation (what a privileged container gets).
    public static let allCapabilities = defaultCapabilities + [
        "CAP_DAC_READ_SEARCH", "CAP_LINUX_IMMUTABLE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_LEASE", "CAP_AUDIT_CONTROL", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ]
    static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// The process's argv: Kubernetes' rules for command/args over the image's entrypoint/cmd.
    public static func argv(container: JSONValue, image: ImageConfig, env: [String: String]) throws(ContainerConfigError) -> [String] {
        let command = strings(container["command"])
        let args = strings(container["args"])
        let argv: [String]
        if !command.isEmpty {
            argv = command + args
        } else {
            argv = image.entrypoint + (args.isEmpty && container["args"] == nil ? image.cmd : args)
        }
        guard !argv.isEmpty else {
            throw ContainerConfigError("no command specified: the image has no entrypoint or cmd and the container no command")
        }
        return argv.map { expand($0, env) }
    }

    /// `$(VAR)` replaced by VAR's value when it is defined, `$$` escaping a `$`; anything
    /// else stays as written (Kubernetes' expansion rules).
    public static func expand(_ text: String, _ env: [String: String]) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var chars = Array(text)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            guard c == "$", let next = chars.first else { out.append(c); continue }
            if next == "$" {
                out.append("$")
                chars = chars.dropFirst()
            } else if next == "(", let close = chars.firstIndex(of: ")") {
                let name = String(chars[chars.index(after: chars.startIndex)..<close])
                if let value = env[name] {
                    out += value
                } else {
                    out += "$(" + name + ")"
                }
                chars = chars[chars.index(after: close)...]
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// The config.json for `container` of `pod`.
    /// - env: the container's resolved environment in order (image env first, then the
    ///   container's), already expanded.
    public static func runtimeSpec(pod: JSONValue, container: JSONValue, image: ImageConfig, env: [(String, String)],
                                   mounts: [ContainerMount], placement: ContainerPlacement) throws(ContainerConfigError) -> JSONValue {
        let envMap = Dictionary(env, uniquingKeysWith: { _, last in last })
        let argv = try argv(container: container, image: image, env: envMap)
        let security = container["securityContext"] ?? .emptyObject
        let podSecurity = pod[path: ["spec", "securityContext"]] ?? .emptyObject
        let privileged = security["privileged"]?.boolValue ?? false
        var (uid, gid) = try user(image.user)
        if let u = (security["runAsUser"] ?? podSecurity["runAsUser"])?.intValue { uid = u }
        if let g = (security["runAsGroup"] ?? podSecurity["runAsGroup"])?.intValue { gid = g }
        if (security["runAsNonRoot"] ?? podSecurity["runAsNonRoot"])?.boolValue == true, uid == 0 {
            throw ContainerConfigError("container has runAsNonRoot and image will run as root")
        }
        let supplemental = (podSecurity["supplementalGroups"]?.arrayValue ?? []).compactMap(\.intValue)
            + [podSecurity["fsGroup"]?.intValue].compactMap { $0 }
        var caps = privileged ? allCapabilities : defaultCapabilities
        let add = strings(security[path: ["capabilities", "add"]]).map(capabilityName)
        let drop = strings(security[path: ["capabilities", "drop"]]).map(capabilityName)
        if drop.contains("CAP_ALL") { caps = [] }
        caps = caps.filter { !drop.contains($0) }
        for cap in add where cap == "CAP_ALL" { caps = allCapabilities }
        for cap in add where cap != "CAP_ALL" && !caps.contains(cap) {
            guard allCapabilities.contains(cap) else { throw ContainerConfigError("unknown capability \(cap)") }
            caps.append(cap)
        }
        let capList = JSONValue.array(caps.map { .string($0) })
        // A process that is not root keeps its bounding set but starts without effective
        // capabilities (containerd's behaviour; ambient capabilities are not granted).
        let effective: JSONValue = uid == 0 ? capList : []
        var environment = env.map { "\($0.0)=\($0.1)" }
        if !env.contains(where: { $0.0 == "PATH" }) { environment.insert(defaultPath, at: 0) }

        var process: JSONValue = [
            "terminal": false,
            "user": ["uid": .int(Int64(uid)), "gid": .int(Int64(gid))],
            "args": .array(argv.map { .string($0) }),
            "env": .array(environment.map { .string($0) }),
            "cwd": .string(container["workingDir"]?.stringValue ?? image.workingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"),
            "capabilities": ["bounding": capList, "effective": effective, "permitted": effective],
            "noNewPrivileges": .bool(security["allowPrivilegeEscalation"]?.boolValue == false),
        ]
        if !supplemental.isEmpty { process[path: ["user", "additionalGids"]] = .array(supplemental.map { .int(Int64($0)) }) }

        var specMounts: [JSONValue] = [
            ["destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]],
            ["destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]],
            ["destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]],
            ["destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]],
            ["destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]],
            ["destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", privileged ? "rw" : "ro"]],
            ["destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", privileged ? "rw" : "ro"]],
        ]
        for mount in mounts {
            specMounts.append(["destination": .string(mount.destination), "type": "bind", "source": .string(mount.source),
                               "options": .array(["rbind", "rprivate", mount.readOnly ? "ro" : "rw"])])
        }

        var linux: JSONValue = [
            "cgroupsPath": .string(placement.cgroupsPath),
            "resources": ["devices": [["allow": .bool(privileged), "access": "rwm"]]],
            "namespaces": [
                ["type": "pid"],
                ["type": "ipc", "path": .string(placement.ipcNamespace)],
                ["type": "uts", "path": .string(placement.utsNamespace)],
                ["type": "mount"],
                ["type": "network", "path": .string(placement.networkNamespace)],
            ],
        ]
        if !privileged {
            linux["maskedPaths"] = ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                                    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
            linux["readonlyPaths"] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
        let resources = try Self.resources(container)
        if let limit = resources.memoryLimit { linux[path: ["resources", "memory"]] = ["limit": .int(limit)] }
        var cpu: JSONValue = ["shares": .int(resources.cpuShares)]
        if let quota = resources.cpuQuota {
            cpu["quota"] = .int(quota)
            cpu["period"] = .int(Resources.cpuPeriod)
        }
        linux[path: ["resources", "cpu"]] = cpu

        return [
            "ociVersion": "1.0.2",
            "process": process,
            "root": ["path": .string(placement.rootfs), "readonly": .bool(security["readOnlyRootFilesystem"]?.boolValue ?? false)],
            "mounts": .array(specMounts),
            "linux": linux,
            "annotations": ["io.kubernetes.pod.name": .string(pod.name ?? ""), "io.kubernetes.pod.namespace": .string(pod.namespace ?? ""),
                            "io.kubernetes.pod.uid": .string(pod.uid ?? ""),
                            "io.kubernetes.container.name": .string(container["name"]?.stringValue ?? "")],
        ]
    }

    /// A container's resources as cgroup values (what the kubelet's CRI request carries).
    public struct Resources: Sendable, Equatable {
        public static let cpuPeriod: Int64 = 100_000
        public var memoryLimit: Int64?
        public var cpuQuota: Int64?
        public var cpuShares: Int64
    }

    public static func resources(_ container: JSONValue) throws(ContainerConfigError) -> Resources {
        func quantity(_ path: [String], milli: Bool) throws(ContainerConfigError) -> Int64? {
            guard let value = container[path: ["resources"] + path] else { return nil }
            let text = value.stringValue ?? value.intValue.map(String.init) ?? ""
            guard let parsed = milli ? Quantity.milli(text) : Quantity.whole(text), parsed >= 0 else {
                throw ContainerConfigError("resources.\(path.joined(separator: ".")): \(text) is not a quantity")
            }
            return parsed
        }
        let memory = try quantity(["limits", "memory"], milli: false)
        let cpuLimit = try quantity(["limits", "cpu"], milli: true)
        // Requests default to limits when only limits are given (the API server's defaulting).
        let cpuRequest = try quantity(["requests", "cpu"], milli: true) ?? cpuLimit
        // The kubelet's milliCPUToShares: 1024 per CPU, at least 2.
        let shares = max(2, (cpuRequest ?? 0) * 1024 / 1000)
        let quota = cpuLimit.map { max(1000, $0 * Resources.cpuPeriod / 1000) }
        return Resources(memoryLimit: memory, cpuQuota: quota, cpuShares: shares)
    }

    /// "CAP_NET_ADMIN" from "NET_ADMIN" or "CAP_NET_ADMIN" (Kubernetes takes both), "ALL" kept as CAP_ALL.
    static func capabilityName(_ name: String) -> String {
        let upper = name.uppercased()
        return upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
    }

    /// uid and gid from an image's User ("1000", "1000:1000"); names cannot be looked up
    /// without reading the image's /etc/passwd, so they are refused.
    static func user(_ user: String?) throws(ContainerConfigError) -> (Int, Int) {
        guard let user, !user.isEmpty else { return (0, 0) }
        let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
        guard let uid = Int(parts[0]) else {
            throw ContainerConfigError("image user \(user): only numeric users are supported; set securityContext.runAsUser")
        }
        let gid = parts.count > 1 ? Int(parts[1]) : uid
        guard let gid else { throw ContainerConfigError("image user \(user): only numeric groups are supported") }
        return (uid, gid)
    }

    static func strings(_ value: JSONValue?) -> [String] { value?.arrayValue?.compactMap(\.stringValue) ?? [] }
}
