public import JSON

/// The defaults the Kubernetes API fills in on create (and keeps filled on update), for the
/// fields Netplane's daemons read: a proxy must not guess a Service port's protocol, a node
/// agent must not guess a container's pull policy.
public enum ObjectDefaults {
    public static func apply(_ object: inout JSONValue, _ resource: ResourceType) {
        switch (resource.group, resource.kind) {
        case ("", "Namespace"):
            if let name = object.name { object[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = .string(name) }
            if object[path: ["spec", "finalizers"]] == nil { object[path: ["spec", "finalizers"]] = ["kubernetes"] }
            if object[path: ["status", "phase"]] == nil { object[path: ["status", "phase"]] = "Active" }
        case ("", "Service"):
            defaultService(&object)
        case ("", "Secret"):
            setIfMissing(&object, ["type"], "Opaque")
        case ("", "Pod"):
            if var spec = object["spec"] { defaultPodSpec(&spec); object["spec"] = spec }
        case ("apps", "Deployment"):
            setIfMissing(&object, ["spec", "replicas"], 1)
            setIfMissing(&object, ["spec", "revisionHistoryLimit"], 10)
            setIfMissing(&object, ["spec", "progressDeadlineSeconds"], 600)
            if object[path: ["spec", "strategy", "type"]] == nil {
                object[path: ["spec", "strategy"]] = ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]]
            }
            defaultTemplate(&object)
        case ("apps", "ReplicaSet"):
            setIfMissing(&object, ["spec", "replicas"], 1)
            defaultTemplate(&object)
        case ("apps", "StatefulSet"):
            defaultStatefulSet(&object)
        case ("apps", "DaemonSet"), ("batch", "Job"):
            defaultTemplate(&object)
        case ("batch", "CronJob"):
            setIfMissing(&object, ["spec", "concurrencyPolicy"], "Allow")
            setIfMissing(&object, ["spec", "suspend"], false)
            setIfMissing(&object, ["spec", "successfulJobsHistoryLimit"], 3)
            setIfMissing(&object, ["spec", "failedJobsHistoryLimit"], 1)
            if var spec = object[path: ["spec", "jobTemplate", "spec", "template", "spec"]] {
                defaultPodSpec(&spec)
                object[path: ["spec", "jobTemplate", "spec", "template", "spec"]] = spec
            }
        case ("networking.k8s.io", "NetworkPolicy"):
            defaultNetworkPolicy(&object)
        case ("discovery.k8s.io", "EndpointSlice"):
            if var ports = object["ports"]?.arrayValue {
                // Both are pointers in the Go types that clients dereference (kubectl describe
                // does): Kubernetes always fills them in.
                for i in ports.indices {
                    if ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
                    if ports[i]["name"] == nil { ports[i]["name"] = "" }
                }
                object["ports"] = .array(ports)
            }
        default:
            break
        }
    }

    public static func setIfMissing(_ object: inout JSONValue, _ path: [String], _ value: JSONValue) {
        if object[path: path] == nil || object[path: path]?.isNull == true { object[path: path] = value }
    }

    static func defaultService(_ object: inout JSONValue) {
        var spec = object["spec"] ?? .emptyObject
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        setIfMissing(&spec, ["type"], .string(type))
        if type != "ExternalName" {
            setIfMissing(&spec, ["sessionAffinity"], "None")
            setIfMissing(&spec, ["internalTrafficPolicy"], "Cluster")
        }
        if type == "NodePort" || type == "LoadBalancer" {
            setIfMissing(&spec, ["externalTrafficPolicy"], "Cluster")
        }
        if type == "LoadBalancer" { setIfMissing(&spec, ["allocateLoadBalancerNodePorts"], true) }
        if spec["sessionAffinity"] == "ClientIP" {
            setIfMissing(&spec, ["sessionAffinityConfig", "clientIP", "timeoutSeconds"], 10800)
        }
        if var ports = spec["ports"]?.arrayValue {
            for i in ports.indices {
                if ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
                if ports[i]["targetPort"] == nil, let port = ports[i]["port"] { ports[i]["targetPort"] = port }
            }
            spec["ports"] = .array(ports)
        }
        object["spec"] = spec
    }

    /// As Kubernetes' SetDefaults_StatefulSet: `kubectl rollout status` refuses a set whose
    /// updateStrategy.type is not RollingUpdate, and compares against its partition.
    static func defaultStatefulSet(_ object: inout JSONValue) {
        setIfMissing(&object, ["spec", "replicas"], 1)
        setIfMissing(&object, ["spec", "podManagementPolicy"], "OrderedReady")
        setIfMissing(&object, ["spec", "revisionHistoryLimit"], 10)
        if object[path: ["spec", "updateStrategy", "type"]] == nil {
            object[path: ["spec", "updateStrategy", "type"]] = "RollingUpdate"
            setIfMissing(&object, ["spec", "updateStrategy", "rollingUpdate"], .emptyObject)
        }
        if object[path: ["spec", "updateStrategy", "type"]] == "RollingUpdate",
           object[path: ["spec", "updateStrategy", "rollingUpdate"]]?.objectValue != nil {
            setIfMissing(&object, ["spec", "updateStrategy", "rollingUpdate", "partition"], 0)
        }
        setIfMissing(&object, ["spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"], "Retain")
        setIfMissing(&object, ["spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"], "Retain")
        defaultTemplate(&object)
    }

    static func defaultTemplate(_ object: inout JSONValue) {
        if var spec = object[path: ["spec", "template", "spec"]] {
            defaultPodSpec(&spec)
            object[path: ["spec", "template", "spec"]] = spec
        }
    }

    static func defaultPodSpec(_ spec: inout JSONValue) {
        setIfMissing(&spec, ["restartPolicy"], "Always")
        setIfMissing(&spec, ["dnsPolicy"], "ClusterFirst")
        setIfMissing(&spec, ["terminationGracePeriodSeconds"], 30)
        setIfMissing(&spec, ["schedulerName"], "default-scheduler")
        setIfMissing(&spec, ["securityContext"], .emptyObject)
        for field in ["containers", "initContainers"] {
            guard var containers = spec[field]?.arrayValue else { continue }
            for i in containers.indices {
                var c = containers[i]
                if c["imagePullPolicy"] == nil {
                    let image = c["image"]?.stringValue ?? ""
                    let tag = image.split(separator: "/").last.flatMap { $0.split(separator: ":").dropFirst().first }
                    c["imagePullPolicy"] = (tag == nil || tag == "latest") && !image.contains("@") ? "Always" : "IfNotPresent"
                }
                setIfMissing(&c, ["terminationMessagePath"], "/dev/termination-log")
                setIfMissing(&c, ["terminationMessagePolicy"], "File")
                setIfMissing(&c, ["resources"], .emptyObject)
                if var ports = c["ports"]?.arrayValue {
                    for j in ports.indices where ports[j]["protocol"] == nil { ports[j]["protocol"] = "TCP" }
                    c["ports"] = .array(ports)
                }
                containers[i] = c
            }
            spec[field] = .array(containers)
        }
    }

    static func defaultNetworkPolicy(_ object: inout JSONValue) {
        guard var spec = object["spec"] else { return }
        if spec["policyTypes"] == nil {
            var types: [JSONValue] = ["Ingress"]
            if spec["egress"] != nil { types.append("Egress") }
            spec["policyTypes"] = .array(types)
        }
        for direction in ["ingress", "egress"] {
            guard var rules = spec[direction]?.arrayValue else { continue }
            for i in rules.indices {
                guard var ports = rules[i]["ports"]?.arrayValue else { continue }
                for j in ports.indices where ports[j]["protocol"] == nil { ports[j]["protocol"] = "TCP" }
                rules[i]["ports"] = .array(ports)
            }
            spec[direction] = .array(rules)
        }
        object["spec"] = spec
    }
}
