import APIMachinery
public import JSON

/// The ConfigMaps and Secrets a pod's environment and volumes read, fetched by the agent.
public protocol PodInputs: Sendable {
    /// A ConfigMap's data (binaryData as text where it is UTF-8); nil when it does not exist.
    func configMap(_ namespace: String, _ name: String) -> [String: String]?
    /// A Secret's data, decoded from base64; nil when it does not exist.
    func secret(_ namespace: String, _ name: String) -> [String: [UInt8]]?
}

/// A container's environment as the kubelet makes it: the image's, then envFrom sources in
/// order, then env entries (each may refer to earlier ones with `$(VAR)`), with the values of
/// fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef resolved.
public enum Environment {
    public static func resolve(pod: JSONValue, container: JSONValue, image: ImageConfig, podIPs: [String], hostIP: String?,
                               inputs: any PodInputs) throws(ContainerConfigError) -> [(String, String)] {
        var ordered: [(String, String)] = []
        var index: [String: Int] = [:]
        func set(_ name: String, _ value: String) {
            if let i = index[name] { ordered[i].1 = value } else {
                index[name] = ordered.count
                ordered.append((name, value))
            }
        }
        for entry in image.env {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            set(String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        set("HOSTNAME", pod[path: ["spec", "hostname"]]?.stringValue ?? pod.name ?? "")
        let namespace = pod.namespace ?? "default"
        for source in container["envFrom"]?.arrayValue ?? [] {
            let prefix = source["prefix"]?.stringValue ?? ""
            if let ref = source["configMapRef"] {
                let name = ref["name"]?.stringValue ?? ""
                guard let data = inputs.configMap(namespace, name) else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError("configmap \"\(name)\" not found")
                }
                for (key, value) in data.sorted(by: { $0.key < $1.key }) { set(prefix + key, value) }
            } else if let ref = source["secretRef"] {
                let name = ref["name"]?.stringValue ?? ""
                guard let data = inputs.secret(namespace, name) else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError("secret \"\(name)\" not found")
                }
                for (key, value) in data.sorted(by: { $0.key < $1.key }) { set(prefix + key, String(decoding: value, as: UTF8.self)) }
            }
        }
        for variable in container["env"]?.arrayValue ?? [] {
            guard let name = variable["name"]?.stringValue else { continue }
            if let value = variable["value"]?.stringValue {
                set(name, ContainerSpec.expand(value, Dictionary(ordered, uniquingKeysWith: { _, b in b })))
                continue
            }
            guard let from = variable["valueFrom"] else {
                set(name, "")
                continue
            }
            if let field = from[path: ["fieldRef", "fieldPath"]]?.stringValue {
                set(name, try fieldValue(field, pod: pod, podIPs: podIPs, hostIP: hostIP))
            } else if let resource = from["resourceFieldRef"] {
                set(name, try resourceValue(resource, pod: pod, container: container))
            } else if let ref = from["configMapKeyRef"] {
                let (cm, key) = (ref["name"]?.stringValue ?? "", ref["key"]?.stringValue ?? "")
                guard let data = inputs.configMap(namespace, cm) else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError("configmap \"\(cm)\" not found")
                }
                guard let value = data[key] else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError("couldn't find key \(key) in ConfigMap \(namespace)/\(cm)")
                }
                set(name, value)
            } else if let ref = from["secretKeyRef"] {
                let (secret, key) = (ref["name"]?.stringValue ?? "", ref["key"]?.stringValue ?? "")
                guard let data = inputs.secret(namespace, secret) else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError("secret \"\(secret)\" not found")
                }
                guard let value = data[key] else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError("couldn't find key \(key) in Secret \(namespace)/\(secret)")
                }
                set(name, String(decoding: value, as: UTF8.self))
            } else {
                throw ContainerConfigError("env \(name): valueFrom has no fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef")
            }
        }
        return ordered
    }

    /// A downward API field (env fieldRef and downwardAPI volume items share these).
    public static func fieldValue(_ path: String, pod: JSONValue, podIPs: [String], hostIP: String?) throws(ContainerConfigError) -> String {
        func mapValue(_ prefix: String, _ map: [String: String]) -> String? {
            guard path.hasPrefix(prefix + "['"), path.hasSuffix("']") else { return nil }
            return map[String(path.dropFirst(prefix.count + 2).dropLast(2))] ?? ""
        }
        switch path {
        case "metadata.name": return pod.name ?? ""
        case "metadata.namespace": return pod.namespace ?? ""
        case "metadata.uid": return pod.uid ?? ""
        case "metadata.labels": return formatMap(pod.labels)
        case "metadata.annotations": return formatMap(pod.annotations)
        case "spec.nodeName": return pod[path: ["spec", "nodeName"]]?.stringValue ?? ""
        case "spec.serviceAccountName": return pod[path: ["spec", "serviceAccountName"]]?.stringValue ?? "default"
        case "status.hostIP": return hostIP ?? ""
        case "status.hostIPs": return hostIP ?? ""
        case "status.podIP": return podIPs.first ?? ""
        case "status.podIPs": return podIPs.joined(separator: ",")
        default:
            if let value = mapValue("metadata.labels", pod.labels) ?? mapValue("metadata.annotations", pod.annotations) { return value }
            throw ContainerConfigError("unsupported fieldRef fieldPath \(path)")
        }
    }

    /// limits.cpu, requests.cpu, limits.memory, requests.memory, divided by `divisor` and
    /// rounded up, as the kubelet does.
    public static func resourceValue(_ ref: JSONValue, pod: JSONValue, container: JSONValue) throws(ContainerConfigError) -> String {
        let resource = ref["resource"]?.stringValue ?? ""
        let parts = resource.split(separator: ".").map(String.init)
        guard parts.count == 2, ["limits", "requests"].contains(parts[0]), ["cpu", "memory", "ephemeral-storage"].contains(parts[1]) else {
            throw ContainerConfigError("unsupported resourceFieldRef resource \(resource)")
        }
        let isCPU = parts[1] == "cpu"
        let raw = container[path: ["resources", parts[0], parts[1]]] ?? container[path: ["resources", "limits", parts[1]]]
        let text = raw?.stringValue ?? raw?.intValue.map(String.init) ?? (isCPU ? "0" : "0")
        let divisorText = ref["divisor"]?.stringValue ?? (isCPU ? "1" : "1")
        guard let value = isCPU ? Quantity.milli(text) : Quantity.whole(text),
              let divisor = isCPU ? Quantity.milli(divisorText) : Quantity.whole(divisorText), divisor > 0 else {
            throw ContainerConfigError("resourceFieldRef \(resource): cannot read \(text) / \(divisorText)")
        }
        return String((value + divisor - 1) / divisor)
    }

    /// key="value" lines, sorted, as the downward API writes labels and annotations.
    public static func formatMap(_ map: [String: String]) -> String {
        map.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: "\n")
    }
}
