public import JSON
import NetAddress

/// Validation of objects on create and update: metadata for every kind, and the fields the
/// rest of Netplane relies on (Service ports and IPs, Pod containers, selectors,
/// NetworkPolicy peers, Ingress paths, Node CIDRs), with Kubernetes' field paths and messages.
public enum ObjectValidation {
    public static func validate(_ object: JSONValue, _ resource: ResourceType) -> [FieldError] {
        var errors = validateMetadata(object, resource)
        switch (resource.group, resource.kind) {
        case ("", "Service"): errors += validateService(object)
        case ("", "Pod"): errors += validatePodSpec(object["spec"], path: "spec")
        case ("", "Node"): errors += validateNode(object)
        case ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"):
            errors += validateWorkload(object)
        case ("networking.k8s.io", "NetworkPolicy"): errors += validateNetworkPolicy(object)
        case ("networking.k8s.io", "Ingress"): errors += validateIngress(object)
        case ("discovery.k8s.io", "EndpointSlice"):
            let type = object["addressType"]?.stringValue ?? ""
            if !["IPv4", "IPv6", "FQDN"].contains(type) {
                errors.append(type.isEmpty ? .required("addressType") : .notSupported("addressType", type, ["FQDN", "IPv4", "IPv6"]))
            }
        case ("certificates.k8s.io", "CertificateSigningRequest"): errors += validateCertificateSigningRequest(object)
        default: break
        }
        return errors
    }

    /// A CSR carries a PEM certificate request and names its signer; approval conditions
    /// are Approved or Denied (not both), each True.
    static func validateCertificateSigningRequest(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        let request = object[path: ["spec", "request"]]?.stringValue ?? ""
        if request.isEmpty {
            errors.append(.required("spec.request"))
        } else if let pem = Base64.decode(request), !String(decoding: pem, as: UTF8.self).contains("-----BEGIN CERTIFICATE REQUEST-----") {
            errors.append(.invalid("spec.request", "<\(pem.count) bytes>", "must be a PEM-encoded CERTIFICATE REQUEST"))
        } else if Base64.decode(request) == nil {
            errors.append(.invalid("spec.request", "<not base64>", "must be base64-encoded PEM"))
        }
        let signer = object[path: ["spec", "signerName"]]?.stringValue ?? ""
        if signer.isEmpty {
            errors.append(.required("spec.signerName"))
        } else if signer.split(separator: "/").count != 2 {
            errors.append(.invalid("spec.signerName", signer, "must be a fully qualified domain and path of the form 'example.com/signer-name'"))
        }
        let types = (object[path: ["status", "conditions"]]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue }
        if types.contains("Approved"), types.contains("Denied") {
            errors.append(.invalid("status.conditions", "Approved, Denied", "Approved and Denied conditions are mutually exclusive"))
        }
        for (i, type) in types.enumerated() where Set(types).count != types.count && types.firstIndex(of: type) != i {
            errors.append(.duplicate("status.conditions[\(i)].type", type))
        }
        return errors
    }

    static func validateMetadata(_ object: JSONValue, _ resource: ResourceType) -> [FieldError] {
        var errors: [FieldError] = []
        let name = object.name ?? ""
        if name.isEmpty {
            errors.append(FieldError(field: "metadata.name", reason: "FieldValueRequired",
                                     message: "Required value: name or generateName is required"))
        } else {
            // Namespaces and Services become DNS labels (service.namespace.svc), the rest subdomains.
            let labelOnly = resource.group.isEmpty && ["namespaces", "services"].contains(resource.plural)
            // RBAC names only have to fit in a URL path segment ("system:node" is one).
            let pathSegmentOnly = resource.group == "rbac.authorization.k8s.io"
            let problem = resource.plural == "events" ? nil
                : pathSegmentOnly ? NameRules.pathSegmentProblem(name)
                : labelOnly ? NameRules.dns1123LabelProblem(name) : NameRules.dns1123SubdomainProblem(name)
            if let problem { errors.append(.invalid("metadata.name", name, problem)) }
        }
        for (key, value) in object.labels {
            if let problem = NameRules.qualifiedNameProblem(key) { errors.append(.invalid("metadata.labels", key, problem)) }
            if let problem = NameRules.labelValueProblem(value) { errors.append(.invalid("metadata.labels", value, problem)) }
        }
        var annotationBytes = 0
        for (key, value) in object.annotations {
            if let problem = NameRules.qualifiedNameProblem(key) { errors.append(.invalid("metadata.annotations", key, problem)) }
            annotationBytes += key.utf8.count + value.utf8.count
        }
        if annotationBytes > 256 * 1024 {
            errors.append(FieldError(field: "metadata.annotations", reason: "FieldValueTooLong",
                                     message: "Too long: must have at most 262144 bytes"))
        }
        return errors
    }

    static func validPort(_ value: JSONValue?) -> Bool {
        guard let p = value?.int64Value else { return false }
        return (1...65535).contains(p)
    }

    static func validateService(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        let spec = object["spec"] ?? .emptyObject
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(type) {
            errors.append(.notSupported("spec.type", type, ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]))
        }
        let ports = spec["ports"]?.arrayValue ?? []
        if ports.isEmpty && type != "ExternalName" && spec["clusterIP"]?.stringValue != "None" {
            errors.append(.required("spec.ports"))
        }
        var names: Set<String> = []
        for (i, port) in ports.enumerated() {
            let path = "spec.ports[\(i)]"
            let name = port["name"]?.stringValue ?? ""
            if ports.count > 1 && name.isEmpty { errors.append(.required("\(path).name")) }
            if !name.isEmpty {
                if let problem = NameRules.dns1123LabelProblem(name) { errors.append(.invalid("\(path).name", name, problem)) }
                if !names.insert(name).inserted { errors.append(.duplicate("\(path).name", name)) }
            }
            if !validPort(port["port"]) {
                errors.append(.invalid("\(path).port", port["port"]?.description ?? "", "must be between 1 and 65535, inclusive"))
            }
            let proto = port["protocol"]?.stringValue ?? "TCP"
            if !["TCP", "UDP", "SCTP"].contains(proto) { errors.append(.notSupported("\(path).protocol", proto, ["SCTP", "TCP", "UDP"])) }
            switch port["targetPort"] {
            case nil, .string?: break
            case let value? where !validPort(value):
                errors.append(.invalid("\(path).targetPort", value.description, "must be between 1 and 65535, inclusive"))
            default: break
            }
            if let nodePort = port["nodePort"], nodePort.int64Value != 0 {
                if type == "ClusterIP" { errors.append(.forbidden("\(path).nodePort", "may not be used when `type` is 'ClusterIP'")) }
                if !validPort(nodePort) { errors.append(.invalid("\(path).nodePort", nodePort.description, "must be between 1 and 65535, inclusive")) }
            }
        }
        if let ip = spec["clusterIP"]?.stringValue, !ip.isEmpty, ip != "None", IPAddress(ip) == nil {
            errors.append(.invalid("spec.clusterIP", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        }
        for (i, ip) in (spec["externalIPs"]?.arrayValue ?? []).enumerated() where IPAddress(ip.stringValue ?? "") == nil {
            errors.append(.invalid("spec.externalIPs[\(i)]", ip.stringValue ?? "", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        }
        if let affinity = spec["sessionAffinity"]?.stringValue, !["None", "ClientIP"].contains(affinity) {
            errors.append(.notSupported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
        }
        for field in ["externalTrafficPolicy", "internalTrafficPolicy"] {
            if let policy = spec[field]?.stringValue, !["Cluster", "Local"].contains(policy) {
                errors.append(.notSupported("spec.\(field)", policy, ["Cluster", "Local"]))
            }
        }
        if type == "ExternalName", (spec["externalName"]?.stringValue ?? "").isEmpty {
            errors.append(.required("spec.externalName"))
        }
        return errors
    }

    static func validatePodSpec(_ spec: JSONValue?, path: String) -> [FieldError] {
        var errors: [FieldError] = []
        let containers = spec?["containers"]?.arrayValue ?? []
        if containers.isEmpty { errors.append(.required("\(path).containers")) }
        var names: Set<String> = []
        for (i, c) in containers.enumerated() {
            let p = "\(path).containers[\(i)]"
            let name = c["name"]?.stringValue ?? ""
            if name.isEmpty { errors.append(.required("\(p).name")) }
            else if let problem = NameRules.dns1123LabelProblem(name) { errors.append(.invalid("\(p).name", name, problem)) }
            else if !names.insert(name).inserted { errors.append(.duplicate("\(p).name", name)) }
            if (c["image"]?.stringValue ?? "").isEmpty { errors.append(.required("\(p).image")) }
            for (j, port) in (c["ports"]?.arrayValue ?? []).enumerated() where !validPort(port["containerPort"]) {
                errors.append(.invalid("\(p).ports[\(j)].containerPort", port["containerPort"]?.description ?? "",
                                       "must be between 1 and 65535, inclusive"))
            }
        }
        if let policy = spec?["restartPolicy"]?.stringValue, !["Always", "OnFailure", "Never"].contains(policy) {
            errors.append(.notSupported("\(path).restartPolicy", policy, ["Always", "Never", "OnFailure"]))
        }
        return errors
    }

    static func validateNode(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        var cidrs = object[path: ["spec", "podCIDRs"]]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let single = object[path: ["spec", "podCIDR"]]?.stringValue, !single.isEmpty, !cidrs.contains(single) { cidrs.insert(single, at: 0) }
        for (i, cidr) in cidrs.enumerated() where (try? IPPrefix(cidr)) == nil {
            errors.append(.invalid("spec.podCIDRs[\(i)]", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
        }
        return errors
    }

    static func validateWorkload(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        let spec = object["spec"] ?? .emptyObject
        if let replicas = spec["replicas"], (replicas.int64Value ?? -1) < 0 {
            errors.append(.invalid("spec.replicas", replicas.description, "must be greater than or equal to 0"))
        }
        guard let selectorJSON = spec["selector"] else {
            errors.append(.required("spec.selector"))
            return errors
        }
        guard let selector = try? LabelSelector(json: selectorJSON) else {
            errors.append(.invalid("spec.selector", selectorJSON.description, "invalid label selector"))
            return errors
        }
        if selector.isEverything {
            errors.append(.invalid("spec.selector", selectorJSON.description, "empty selector is invalid for deployment"))
        }
        let templateLabels = stringMap(spec[path: ["template", "metadata", "labels"]])
        if !selector.matches(templateLabels) {
            errors.append(.invalid("spec.template.metadata.labels", templateLabels.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: ","), "`selector` does not match template `labels`"))
        }
        errors += validatePodSpec(spec[path: ["template", "spec"]], path: "spec.template.spec")
        return errors
    }

    static func validateNetworkPolicy(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        let spec = object["spec"] ?? .emptyObject
        if spec["podSelector"] == nil { errors.append(.required("spec.podSelector")) }
        for (i, t) in (spec["policyTypes"]?.arrayValue ?? []).enumerated() {
            let type = t.stringValue ?? ""
            if !["Ingress", "Egress"].contains(type) { errors.append(.notSupported("spec.policyTypes[\(i)]", type, ["Egress", "Ingress"])) }
        }
        for (direction, peersField) in [("ingress", "from"), ("egress", "to")] {
            for (i, rule) in (spec[direction]?.arrayValue ?? []).enumerated() {
                for (j, port) in (rule["ports"]?.arrayValue ?? []).enumerated() {
                    let p = "spec.\(direction)[\(i)].ports[\(j)]"
                    let proto = port["protocol"]?.stringValue ?? "TCP"
                    if !["TCP", "UDP", "SCTP"].contains(proto) { errors.append(.notSupported("\(p).protocol", proto, ["SCTP", "TCP", "UDP"])) }
                    if case .int? = port["port"], !validPort(port["port"]) {
                        errors.append(.invalid("\(p).port", port["port"]!.description, "must be between 1 and 65535, inclusive"))
                    }
                    if let end = port["endPort"]?.int64Value, let start = port["port"]?.int64Value, end < start {
                        errors.append(.invalid("\(p).endPort", String(end), "must be greater than or equal to `port`"))
                    }
                }
                for (j, peer) in (rule[peersField]?.arrayValue ?? []).enumerated() {
                    guard let block = peer["ipBlock"] else { continue }
                    let p = "spec.\(direction)[\(i)].\(peersField)[\(j)].ipBlock"
                    guard let cidrText = block["cidr"]?.stringValue, let cidr = try? IPPrefix(cidrText) else {
                        errors.append(.invalid("\(p).cidr", block["cidr"]?.stringValue ?? "", "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
                        continue
                    }
                    for (k, e) in (block["except"]?.arrayValue ?? []).enumerated() {
                        let text = e.stringValue ?? ""
                        guard let except = try? IPPrefix(text) else {
                            errors.append(.invalid("\(p).except[\(k)]", text, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
                            continue
                        }
                        if !(cidr.contains(except.address) && except.length > cidr.length) {
                            errors.append(.invalid("\(p).except[\(k)]", text, "must be a strict subset of `cidr`"))
                        }
                    }
                }
            }
        }
        return errors
    }

    static func validateIngress(_ object: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        for (i, rule) in (object[path: ["spec", "rules"]]?.arrayValue ?? []).enumerated() {
            for (j, path) in (rule[path: ["http", "paths"]]?.arrayValue ?? []).enumerated() {
                let p = "spec.rules[\(i)].http.paths[\(j)]"
                let type = path["pathType"]?.stringValue ?? ""
                if type.isEmpty { errors.append(.required("\(p).pathType")) }
                else if !["Exact", "Prefix", "ImplementationSpecific"].contains(type) {
                    errors.append(.notSupported("\(p).pathType", type, ["Exact", "ImplementationSpecific", "Prefix"]))
                }
                if let text = path["path"]?.stringValue, type != "ImplementationSpecific", !text.hasPrefix("/") {
                    errors.append(.invalid("\(p).path", text, "must be an absolute path"))
                }
                if path["backend"]?["service"] == nil && path["backend"]?["resource"] == nil {
                    errors.append(.required("\(p).backend"))
                }
            }
        }
        return errors
    }
}
