public import JSON

/// The `meta.k8s.io/v1 Table` that `kubectl get` asks for: the columns kubectl prints for each
/// kind, computed on the server as the Kubernetes printers do.
public enum TableConverter {
    public struct Column: Sendable {
        public var name: String
        public var type: String
        public var format: String
        public var description: String
        public var priority: Int
        let cell: @Sendable (JSONValue, Int) -> JSONValue

        init(_ name: String, _ type: String = "string", format: String = "", priority: Int = 0,
             _ description: String = "", cell: @escaping @Sendable (JSONValue, Int) -> JSONValue) {
            self.name = name
            self.type = type
            self.format = format
            self.description = description
            self.priority = priority
            self.cell = cell
        }
    }

    static let nameColumn = Column("Name", format: "name", "Name must be unique within a namespace.") { o, _ in
        .string(o.name ?? "")
    }
    static let ageColumn = Column("Age", "CreationTimestamp is a timestamp representing the server time when this object was created.") { o, now in
        .string(o[path: ["metadata", "creationTimestamp"]]?.stringValue.flatMap(APITime.parse).map { APITime.age(since: $0, now: now) } ?? "<unknown>")
    }

    static func text(_ path: [String], _ fallback: String = "<none>") -> @Sendable (JSONValue, Int) -> JSONValue {
        { o, _ in
            switch o[path: path] {
            case .string(let s)? where !s.isEmpty: .string(s)
            case .int(let i)?: .string(String(i))
            case .bool(let b)?: .string(b ? "true" : "false")
            default: .string(fallback)
            }
        }
    }
    /// A pod's STATUS as kubectl prints it: the waiting or terminated reason of the container
    /// that has one (CrashLoopBackOff, ErrImagePull, Completed, Error), Init:N/M while init
    /// containers run, Terminating once deleted, else the phase.
    static func podStatus(_ o: JSONValue) -> String {
        var reason = o[path: ["status", "reason"]]?.stringValue ?? o[path: ["status", "phase"]]?.stringValue ?? "Pending"
        let inits = o[path: ["status", "initContainerStatuses"]]?.arrayValue ?? []
        let initCount = o[path: ["spec", "initContainers"]]?.arrayValue?.count ?? 0
        var initializing = false
        for (i, c) in inits.enumerated() {
            if let t = c[path: ["state", "terminated"]] {
                if t["exitCode"]?.intValue == 0 { continue }
                reason = "Init:" + (t["reason"]?.stringValue ?? "ExitCode:\(t["exitCode"]?.intValue ?? 0)")
            } else if let w = c[path: ["state", "waiting", "reason"]]?.stringValue, !w.isEmpty, w != "PodInitializing" {
                reason = "Init:" + w
            } else {
                reason = "Init:\(i)/\(initCount)"
            }
            initializing = true
            break
        }
        let initialized = hasTrueCondition(o, "Initialized")
        if !initializing || initialized {
            var running = false
            for c in (o[path: ["status", "containerStatuses"]]?.arrayValue ?? []).reversed() {
                if let w = c[path: ["state", "waiting", "reason"]]?.stringValue, !w.isEmpty {
                    reason = w
                } else if let t = c[path: ["state", "terminated"]] {
                    reason = t["reason"]?.stringValue ?? "ExitCode:\(t["exitCode"]?.intValue ?? 0)"
                } else if c["ready"]?.boolValue == true, c[path: ["state", "running"]] != nil {
                    running = true
                }
            }
            if reason == "Completed" && running {
                reason = hasTrueCondition(o, "Ready") ? "Running" : "NotReady"
            }
        }
        if o.deletionTimestamp != nil { reason = o[path: ["status", "reason"]]?.stringValue == "NodeLost" ? "Unknown" : "Terminating" }
        return reason
    }

    static func int(_ path: [String]) -> @Sendable (JSONValue, Int) -> JSONValue {
        { o, _ in .int(o[path: path]?.int64Value ?? 0) }
    }

    /// Whether `o`'s status has the condition `type` with status "True".
    static func hasTrueCondition(_ o: JSONValue, _ type: String) -> Bool {
        (o[path: ["status", "conditions"]]?.arrayValue ?? []).contains { $0["type"]?.stringValue == type && $0["status"] == "True" }
    }

    /// A label map as kubectl prints one (apimachinery's FormatLabels): "k=v" sorted by key,
    /// "<none>" when empty.
    static func labelsText(_ map: JSONValue?) -> String {
        let labels = stringMap(map)
        return labels.isEmpty ? "<none>" : labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    /// A LabelSelector as kubectl prints one (apimachinery's FormatLabelSelector): its
    /// requirements sorted by key, "k=v", "k in (a,b)", "k notin (a,b)", "k", "!k"; "<none>"
    /// when it has none.
    static func selectorText(_ selector: JSONValue?) -> String {
        var requirements = stringMap(selector?["matchLabels"]).map { (key: $0.key, text: "\($0.key)=\($0.value)") }
        for expression in selector?["matchExpressions"]?.arrayValue ?? [] {
            guard let key = expression["key"]?.stringValue else { continue }
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue).sorted().joined(separator: ",")
            switch expression["operator"]?.stringValue {
            case "In": requirements.append((key, "\(key) in (\(values))"))
            case "NotIn": requirements.append((key, "\(key) notin (\(values))"))
            case "Exists": requirements.append((key, key))
            case "DoesNotExist": requirements.append((key, "!\(key)"))
            default: continue
            }
        }
        let text = requirements.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
            .map(\.element.text).joined(separator: ",")
        return text.isEmpty ? "<none>" : text
    }

    /// The -o wide columns of a workload: its pod template's containers and images, and (when
    /// `selector` is given) its selector, a LabelSelector or, for a ReplicationController, a
    /// label map.
    static func templateColumns(_ template: [String], selector: [String]?, selectorIsMap: Bool = false) -> [Column] {
        let containers: @Sendable (JSONValue) -> [JSONValue] = { $0[path: template + ["spec", "containers"]]?.arrayValue ?? [] }
        var columns = [
            Column("Containers", priority: 1) { o, _ in .string(containers(o).compactMap { $0["name"]?.stringValue }.joined(separator: ",")) },
            Column("Images", priority: 1) { o, _ in .string(containers(o).compactMap { $0["image"]?.stringValue }.joined(separator: ",")) },
        ]
        if let selector {
            columns.append(Column("Selector", priority: 1) { o, _ in
                .string(selectorIsMap ? labelsText(o[path: selector]) : selectorText(o[path: selector]))
            })
        }
        return columns
    }

    /// A Job's STATUS as kube-apiserver's printer gives it, from its conditions.
    static func jobStatus(_ o: JSONValue) -> String {
        func has(_ type: String) -> Bool { hasTrueCondition(o, type) }
        if has("Complete") { return "Complete" }
        if has("Failed") { return "Failed" }
        if o.deletionTimestamp != nil { return "Terminating" }
        if has("Suspended") { return "Suspended" }
        if has("FailureTarget") { return "FailureTarget" }
        if has("SuccessCriteriaMet") { return "SuccessCriteriaMet" }
        return "Running"
    }

    /// The columns of a resource, after Name and before Age.
    public static func columns(for resource: ResourceType) -> [Column] {
        var middle: [Column] = []
        switch (resource.group, resource.plural) {
        case ("", "pods"):
            middle = [
                Column("Ready") { o, _ in
                    let statuses = o[path: ["status", "containerStatuses"]]?.arrayValue ?? []
                    let total = o[path: ["spec", "containers"]]?.arrayValue?.count ?? 0
                    let ready = statuses.filter { $0["ready"]?.boolValue == true }.count
                    return .string("\(ready)/\(total)")
                },
                Column("Status") { o, _ in .string(podStatus(o)) },
                Column("Restarts", "integer") { o, _ in
                    .int((o[path: ["status", "containerStatuses"]]?.arrayValue ?? []).reduce(0) { $0 + ($1["restartCount"]?.int64Value ?? 0) })
                },
            ]
            return [nameColumn] + middle + [ageColumn,
                Column("IP", priority: 1, cell: text(["status", "podIP"])),
                Column("Node", priority: 1, cell: text(["spec", "nodeName"])),
                Column("Nominated Node", priority: 1, cell: text(["status", "nominatedNodeName"])),
                Column("Readiness Gates", priority: 1) { o, _ in
                    let gates = (o[path: ["spec", "readinessGates"]]?.arrayValue ?? []).compactMap { $0["conditionType"]?.stringValue }
                    if gates.isEmpty { return "<none>" }
                    let met = gates.filter { hasTrueCondition(o, $0) }
                    return .string("\(met.count)/\(gates.count)")
                }]
        case ("", "services"):
            middle = [
                Column("Type", cell: text(["spec", "type"], "ClusterIP")),
                Column("Cluster-IP", cell: text(["spec", "clusterIP"])),
                Column("External-IP") { o, _ in
                    var ips = o[path: ["spec", "externalIPs"]]?.arrayValue?.compactMap(\.stringValue) ?? []
                    ips += (o[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
                    if ips.isEmpty {
                        let type = o[path: ["spec", "type"]]?.stringValue
                        if type == "LoadBalancer" { return "<pending>" }
                        if type == "ExternalName" { return .string(o[path: ["spec", "externalName"]]?.stringValue ?? "<none>") }
                        return "<none>"
                    }
                    return .string(ips.joined(separator: ","))
                },
                Column("Port(s)") { o, _ in
                    let ports = (o[path: ["spec", "ports"]]?.arrayValue ?? []).map { p -> String in
                        let port = p["port"]?.int64Value ?? 0
                        let proto = p["protocol"]?.stringValue ?? "TCP"
                        if let node = p["nodePort"]?.int64Value { return "\(port):\(node)/\(proto)" }
                        return "\(port)/\(proto)"
                    }
                    return .string(ports.isEmpty ? "<none>" : ports.joined(separator: ","))
                },
            ]
            return [nameColumn] + middle + [ageColumn,
                Column("Selector", priority: 1) { o, _ in .string(labelsText(o[path: ["spec", "selector"]])) }]
        case ("", "serviceaccounts"):
            middle = [Column("Secrets", "integer") { o, _ in .int(Int64(o["secrets"]?.arrayValue?.count ?? 0)) }]
        case ("", "nodes"):
            // kubectl's node columns: roles from node-role.kubernetes.io/ labels, the agent's
            // version, and (-o wide) addresses and what the node runs.
            func address(_ type: String) -> @Sendable (JSONValue, Int) -> JSONValue {
                { o, _ in
                    .string((o[path: ["status", "addresses"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == type }?["address"]?.stringValue ?? "<none>")
                }
            }
            return [nameColumn,
                Column("Status") { o, _ in
                    let ready = (o[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "Ready" }
                    var s = ready?["status"] == "True" ? "Ready" : ready == nil || ready?["status"] == "False" ? "NotReady" : "Unknown"
                    if o[path: ["spec", "unschedulable"]]?.boolValue == true { s += ",SchedulingDisabled" }
                    return .string(s)
                },
                Column("Roles") { o, _ in
                    let roles = o.labels.keys.filter { $0.hasPrefix("node-role.kubernetes.io/") }
                        .map { String($0.dropFirst("node-role.kubernetes.io/".count)) }.sorted()
                    return .string(roles.isEmpty ? "<none>" : roles.joined(separator: ","))
                },
                ageColumn,
                Column("Version", cell: text(["status", "nodeInfo", "kubeletVersion"])),
                Column("Internal-IP", priority: 1, cell: address("InternalIP")),
                Column("External-IP", priority: 1, cell: address("ExternalIP")),
                Column("OS-Image", priority: 1, cell: text(["status", "nodeInfo", "osImage"], "<unknown>")),
                Column("Kernel-Version", priority: 1, cell: text(["status", "nodeInfo", "kernelVersion"], "<unknown>")),
                Column("Container-Runtime", priority: 1, cell: text(["status", "nodeInfo", "containerRuntimeVersion"], "<unknown>"))]
        case ("", "namespaces"):
            middle = [Column("Status", cell: text(["status", "phase"], "Active"))]
        case ("", "configmaps"):
            middle = [Column("Data", "integer") { o, _ in
                .int(Int64((o["data"]?.objectValue?.count ?? 0) + (o["binaryData"]?.objectValue?.count ?? 0)))
            }]
        case ("", "secrets"):
            middle = [Column("Type", cell: text(["type"], "Opaque")),
                      Column("Data", "integer") { o, _ in .int(Int64(o["data"]?.objectValue?.count ?? 0)) }]
        case ("", "endpoints"):
            middle = [Column("Endpoints") { o, _ in
                var list: [String] = []
                for subset in o["subsets"]?.arrayValue ?? [] {
                    let ports = (subset["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.int64Value }
                    for a in subset["addresses"]?.arrayValue ?? [] {
                        guard let ip = a["ip"]?.stringValue else { continue }
                        list += ports.isEmpty ? [ip] : ports.map { "\(ip):\($0)" }
                    }
                }
                return .string(list.isEmpty ? "<none>" : list.joined(separator: ","))
            }]
        case ("apps", "deployments"):
            middle = [
                Column("Ready") { o, _ in
                    .string("\(o[path: ["status", "readyReplicas"]]?.int64Value ?? 0)/\(o[path: ["spec", "replicas"]]?.int64Value ?? 1)")
                },
                Column("Up-to-date", "integer", cell: int(["status", "updatedReplicas"])),
                Column("Available", "integer", cell: int(["status", "availableReplicas"])),
            ]
            return [nameColumn] + middle + [ageColumn] + templateColumns(["spec", "template"], selector: ["spec", "selector"])
        case ("apps", "replicasets"):
            middle = [
                Column("Desired", "integer") { o, _ in .int(o[path: ["spec", "replicas"]]?.int64Value ?? 1) },
                Column("Current", "integer", cell: int(["status", "replicas"])),
                Column("Ready", "integer", cell: int(["status", "readyReplicas"])),
            ]
            return [nameColumn] + middle + [ageColumn] + templateColumns(["spec", "template"], selector: ["spec", "selector"])
        case ("apps", "statefulsets"):
            middle = [
                Column("Ready") { o, _ in
                    .string("\(o[path: ["status", "readyReplicas"]]?.int64Value ?? 0)/\(o[path: ["spec", "replicas"]]?.int64Value ?? 1)")
                },
            ]
            return [nameColumn] + middle + [ageColumn] + templateColumns(["spec", "template"], selector: nil)
        case ("apps", "controllerrevisions"):
            middle = [
                Column("Controller") { o, _ in
                    let ref = (o[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).first { $0["controller"] == true }
                    guard let ref, let kind = ref["kind"]?.stringValue, let name = ref["name"]?.stringValue else { return "<none>" }
                    let apiVersion = ref["apiVersion"]?.stringValue ?? ""
                    let group = apiVersion.contains("/") ? "." + apiVersion.split(separator: "/")[0] : ""
                    return .string("\(kind.lowercased())\(group)/\(name)")
                },
                Column("Revision", "integer", cell: int(["revision"])),
            ]
        case ("apps", "daemonsets"):
            middle = [
                Column("Desired", "integer", cell: int(["status", "desiredNumberScheduled"])),
                Column("Current", "integer", cell: int(["status", "currentNumberScheduled"])),
                Column("Ready", "integer", cell: int(["status", "numberReady"])),
                Column("Up-to-date", "integer", cell: int(["status", "updatedNumberScheduled"])),
                Column("Available", "integer", cell: int(["status", "numberAvailable"])),
                Column("Node Selector") { o, _ in .string(labelsText(o[path: ["spec", "template", "spec", "nodeSelector"]])) },
            ]
            return [nameColumn] + middle + [ageColumn] + templateColumns(["spec", "template"], selector: ["spec", "selector"])
        case ("policy", "poddisruptionbudgets"):
            func bound(_ field: String) -> @Sendable (JSONValue, Int) -> JSONValue {
                { o, _ in
                    switch o[path: ["spec", field]] {
                    case .int(let n)?: .string(String(n))
                    case .string(let s)?: .string(s)
                    default: "N/A"
                    }
                }
            }
            middle = [
                Column("Min Available", cell: bound("minAvailable")),
                Column("Max Unavailable", cell: bound("maxUnavailable")),
                Column("Allowed Disruptions", "integer", cell: int(["status", "disruptionsAllowed"])),
            ]
        case ("scheduling.k8s.io", "priorityclasses"):
            middle = [
                Column("Value", "integer", cell: int(["value"])),
                Column("Global-Default", "boolean") { o, _ in .bool(o["globalDefault"]?.boolValue ?? false) },
            ]
        case ("networking.k8s.io", "networkpolicies"):
            middle = [Column("Pod-Selector") { o, _ in .string(labelsText(o[path: ["spec", "podSelector", "matchLabels"]])) }]
        case ("networking.k8s.io", "ingresses"):
            middle = [
                Column("Class", cell: text(["spec", "ingressClassName"])),
                Column("Hosts") { o, _ in
                    let hosts = (o[path: ["spec", "rules"]]?.arrayValue ?? []).compactMap { $0["host"]?.stringValue }
                    return .string(hosts.isEmpty ? "*" : hosts.joined(separator: ","))
                },
                Column("Address") { o, _ in
                    let ips = (o[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
                    return .string(ips.joined(separator: ","))
                },
                Column("Ports") { o, _ in (o[path: ["spec", "tls"]]?.arrayValue ?? []).isEmpty ? "80" : "80, 443" },
            ]
        case ("networking.k8s.io", "ingressclasses"):
            middle = [
                Column("Controller", cell: text(["spec", "controller"])),
                Column("Parameters") { o, _ in
                    guard let parameters = o[path: ["spec", "parameters"]], let name = parameters["name"]?.stringValue else { return "<none>" }
                    var kind = parameters["kind"]?.stringValue ?? ""
                    if let group = parameters["apiGroup"]?.stringValue { kind += "." + group }
                    return .string("\(kind)/\(name)")
                },
            ]
        case ("discovery.k8s.io", "endpointslices"):
            middle = [
                Column("AddressType", cell: text(["addressType"])),
                Column("Ports") { o, _ in
                    let ports = (o["ports"]?.arrayValue ?? []).map { $0["port"]?.int64Value.map(String.init) ?? "<unset>" }
                    return .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ","))
                },
                Column("Endpoints") { o, _ in
                    // As kubectl prints them: the first three, and how many more.
                    let all = (o["endpoints"]?.arrayValue ?? []).flatMap { $0["addresses"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
                    if all.isEmpty { return "<unset>" }
                    return .string(all.prefix(3).joined(separator: ",") + (all.count > 3 ? " + \(all.count - 3) more..." : ""))
                },
            ]
        case ("", "events"), ("events.k8s.io", "events"):
            // The same columns through either API; the fields are named as each shows them.
            let core = resource.group.isEmpty
            let regarding = core ? "involvedObject" : "regarding"
            middle = [
                Column("Last Seen") { o, now in
                    let last = [core ? "lastTimestamp" : "deprecatedLastTimestamp", "eventTime"]
                        .lazy.compactMap { o[$0]?.stringValue.flatMap(APITime.parse) }.first
                        ?? o[path: ["metadata", "creationTimestamp"]]?.stringValue.flatMap(APITime.parse)
                    return .string(last.map { APITime.age(since: $0, now: now) } ?? "<unknown>")
                },
                Column("Type", cell: text(["type"])),
                Column("Reason", cell: text(["reason"])),
                Column("Object") { o, _ in
                    .string("\((o[path: [regarding, "kind"]]?.stringValue ?? "").lowercased())/\(o[path: [regarding, "name"]]?.stringValue ?? "")")
                },
                Column("Message", cell: text([core ? "message" : "note"], "")),
            ]
        case ("certificates.k8s.io", "certificatesigningrequests"):
            middle = [
                Column("SignerName", cell: text(["spec", "signerName"])),
                Column("Requestor", cell: text(["spec", "username"])),
                Column("Condition") { o, _ in
                    let types = (o[path: ["status", "conditions"]]?.arrayValue ?? []).filter { $0["status"] != "False" }
                        .compactMap { $0["type"]?.stringValue }
                    var all = types
                    if o[path: ["status", "certificate"]]?.stringValue?.isEmpty == false { all.append("Issued") }
                    return .string(all.isEmpty ? "Pending" : all.joined(separator: ","))
                },
            ]
        case ("", "persistentvolumeclaims"):
            middle = [
                Column("Status", cell: text(["status", "phase"], "Pending")),
                Column("Volume", cell: text(["spec", "volumeName"], "")),
                Column("Capacity", cell: text(["status", "capacity", "storage"], "")),
                Column("Access Modes") { o, _ in
                    .string(accessModes(o[path: ["status", "accessModes"]]))
                },
                Column("StorageClass", cell: text(["spec", "storageClassName"], "<unset>")),
            ]
        case ("", "persistentvolumes"):
            middle = [
                Column("Capacity", cell: text(["spec", "capacity", "storage"], "")),
                Column("Access Modes") { o, _ in .string(accessModes(o[path: ["spec", "accessModes"]])) },
                Column("Reclaim Policy", cell: text(["spec", "persistentVolumeReclaimPolicy"], "Retain")),
                Column("Status", cell: text(["status", "phase"], "Pending")),
                Column("Claim") { o, _ in
                    guard let name = o[path: ["spec", "claimRef", "name"]]?.stringValue else { return "" }
                    return .string("\(o[path: ["spec", "claimRef", "namespace"]]?.stringValue ?? "")/\(name)")
                },
            ]
        case ("", "replicationcontrollers"):
            middle = [
                Column("Desired", "integer") { o, _ in .int(o[path: ["spec", "replicas"]]?.int64Value ?? 1) },
                Column("Current", "integer", cell: int(["status", "replicas"])),
                Column("Ready", "integer", cell: int(["status", "readyReplicas"])),
            ]
            return [nameColumn] + middle + [ageColumn] + templateColumns(["spec", "template"], selector: ["spec", "selector"], selectorIsMap: true)
        case ("batch", "jobs"):
            middle = [
                Column("Status") { o, _ in .string(jobStatus(o)) },
                Column("Completions") { o, _ in
                    let succeeded = o[path: ["status", "succeeded"]]?.int64Value ?? 0
                    if let completions = o[path: ["spec", "completions"]]?.int64Value { return .string("\(succeeded)/\(completions)") }
                    if let parallelism = o[path: ["spec", "parallelism"]]?.int64Value, parallelism > 1 {
                        return .string("\(succeeded)/1 of \(parallelism)")
                    }
                    return .string("\(succeeded)/1")
                },
                Column("Duration") { o, now in
                    guard let start = o[path: ["status", "startTime"]]?.stringValue.flatMap(APITime.parse) else { return "" }
                    let end = o[path: ["status", "completionTime"]]?.stringValue.flatMap(APITime.parse) ?? now
                    return .string(APITime.humanDuration(end - start))
                },
            ]
            return [nameColumn] + middle + [ageColumn] + templateColumns(["spec", "template"], selector: ["spec", "selector"])
        case ("batch", "cronjobs"):
            middle = [
                Column("Schedule", cell: text(["spec", "schedule"])),
                Column("Timezone", cell: text(["spec", "timeZone"])),
                Column("Suspend", "boolean") { o, _ in
                    o[path: ["spec", "suspend"]]?.boolValue.map { JSONValue.string($0 ? "True" : "False") } ?? "<unset>"
                },
                Column("Active", "integer") { o, _ in .int(Int64(o[path: ["status", "active"]]?.arrayValue?.count ?? 0)) },
                Column("Last Schedule") { o, now in
                    .string(o[path: ["status", "lastScheduleTime"]]?.stringValue.flatMap(APITime.parse).map { APITime.age(since: $0, now: now) } ?? "<none>")
                },
            ]
            return [nameColumn] + middle + [ageColumn]
                + templateColumns(["spec", "jobTemplate", "spec", "template"], selector: ["spec", "jobTemplate", "spec", "selector"])
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            // kube's default table: the creation time itself, not an age.
            return [nameColumn, Column("Created At", "date", "CreationTimestamp is a timestamp representing the server time when this object was created.") { o, _ in
                o[path: ["metadata", "creationTimestamp"]] ?? .null
            }]
        case ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles"):
            // kube's printer: the creation time itself, not an age.
            return [nameColumn, Column("Created At", "date") { o, _ in o[path: ["metadata", "creationTimestamp"]] ?? .null }]
        case ("rbac.authorization.k8s.io", "rolebindings"), ("rbac.authorization.k8s.io", "clusterrolebindings"):
            func subjects(_ kind: String) -> @Sendable (JSONValue, Int) -> JSONValue {
                { o, _ in
                    .string((o["subjects"]?.arrayValue ?? []).filter { $0["kind"]?.stringValue == kind }.compactMap { s -> String? in
                        guard let name = s["name"]?.stringValue else { return nil }
                        guard kind == "ServiceAccount", let namespace = s["namespace"]?.stringValue, !namespace.isEmpty else { return name }
                        return "\(namespace)/\(name)"
                    }.joined(separator: ", "))
                }
            }
            return [nameColumn,
                Column("Role") { o, _ in .string("\(o[path: ["roleRef", "kind"]]?.stringValue ?? "")/\(o[path: ["roleRef", "name"]]?.stringValue ?? "")") },
                ageColumn,
                Column("Users", priority: 1, cell: subjects("User")),
                Column("Groups", priority: 1, cell: subjects("Group")),
                Column("ServiceAccounts", priority: 1, cell: subjects("ServiceAccount"))]
        case ("coordination.k8s.io", "leases"):
            middle = [Column("Holder", cell: text(["spec", "holderIdentity"], ""))]
        default:
            break
        }
        return [nameColumn] + middle + [ageColumn]
    }

    /// Access modes as kubectl abbreviates them (RWO, ROX, RWX, RWOP).
    static func accessModes(_ modes: JSONValue?) -> String {
        let short = ["ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"]
        return (modes?.arrayValue ?? []).compactMap(\.stringValue).map { short[$0] ?? $0 }.joined(separator: ",")
    }

    /// The Table of `objects`; each row carries the object itself, or only its metadata
    /// (`includeObject=Metadata`, the default), or nothing (`None`).
    public static func table(_ objects: [JSONValue], resource: ResourceType, includeObject: String?,
                             listMetadata: JSONValue) -> JSONValue {
        table(objects, columns: columns(for: resource), includeObject: includeObject, listMetadata: listMetadata)
    }

    /// The Table of `objects` with these columns (a custom resource's, from its CRD).
    public static func table(_ objects: [JSONValue], columns: [Column], includeObject: String?,
                             listMetadata: JSONValue) -> JSONValue {
        let now = APITime.now()
        let definitions: [JSONValue] = columns.map {
            ["name": .string($0.name), "type": .string($0.type), "format": .string($0.format),
             "description": .string($0.description), "priority": .int(Int64($0.priority))]
        }
        let rows: [JSONValue] = objects.map { object in
            var row: JSONValue = ["cells": .array(columns.map { $0.cell(object, now) })]
            switch includeObject ?? "Metadata" {
            case "Object": row["object"] = object
            case "None": break
            default:
                row["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": object.metadata]
            }
            return row
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": listMetadata,
                "columnDefinitions": .array(definitions), "rows": .array(rows)]
    }
}
