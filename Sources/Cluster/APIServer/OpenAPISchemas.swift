import JSON
import APIMachinery

/// The schemas in the OpenAPI v3 documents, for `kubectl explain`: every kind with its
/// top-level fields, and the types below them for the kinds Netplane's own daemons read
/// (Service, EndpointSlice, NetworkPolicy, Ingress, Node, Pod, Deployment, ConfigMap,
/// Secret, Namespace) and for RBAC (Role, ClusterRole, RoleBinding, ClusterRoleBinding) and
/// the access reviews of authorization.k8s.io, with what each field means. Kinds Netplane only stores get their
/// top-level fields, each an object kept as given.
///
/// kubectl finds a kind's schema by its `x-kubernetes-group-version-kind` and walks
/// `properties` through `allOf`/`$ref`, `items` and `additionalProperties`. Publishing
/// schemas does not change how `kubectl apply` patches: it computes strategic merge patches
/// from schemas only when a PATCH operation accepts them, and Netplane's list JSON and merge
/// patches only, so kubectl keeps using the types compiled into it. No schema carries
/// patch-merge keys for the same reason.
enum OpenAPISchemas {
    /// One field of a type: its name, what it holds and what it means.
    struct Field: Sendable {
        let name: String
        let type: FieldType
        let doc: String
        var required = false
    }

    indirect enum FieldType: Sendable {
        case string, integer, boolean, object
        case intOrString            // a number or a name (ports)
        case anything               // kept as given, of any JSON type
        case oneOf([String])        // a string with these values
        case ref(String)            // a type defined below, by name
        case list(FieldType)
        case map(FieldType)         // string keys
    }

    struct Definition: Sendable {
        let doc: String
        let fields: [Field]
    }

    /// The schema name of a shared type (what `kubectl explain` shows as `<Name>`).
    static func schemaName(_ type: String) -> String { "io.netplane.api.\(type)" }

    /// The schema name of a kind.
    static func schemaName(_ r: ResourceType) -> String {
        "io.netplane.api.\(r.group.isEmpty ? "core" : r.group).\(r.version).\(r.kind)"
    }

    /// `components.schemas` of one group-version document: its kinds and every shared type.
    static func components(for resources: [ResourceType]) -> [String: JSONValue] {
        var schemas = sharedSchemas
        var seen: Set<String> = []
        for r in resources where seen.insert(r.kind).inserted {
            let (doc, fields) = kind(r)
            var s = schema(Definition(doc: doc, fields: [
                Field(name: "apiVersion", type: .string, doc: "The versioned schema of this object: \(r.group.isEmpty ? r.version : "\(r.group)/\(r.version)")."),
                Field(name: "kind", type: .string, doc: "The kind of this object: \(r.kind)."),
                Field(name: "metadata", type: .ref("ObjectMeta"), doc: "Standard object metadata: name, namespace, labels, annotations, owners, resourceVersion."),
            ] + fields))
            s["x-kubernetes-group-version-kind"] = [["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]]
            schemas[schemaName(r)] = s
        }
        return schemas
    }

    /// The shared types' schemas, built once: every document carries them all.
    static let sharedSchemas: [String: JSONValue] =
        Dictionary(uniqueKeysWithValues: definitions.map { (schemaName($0.key), schema($0.value)) })

    static func schema(_ d: Definition) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for f in d.fields { properties[f.name] = schema(f.type, doc: f.doc) }
        var s: JSONValue = ["type": "object", "description": .string(d.doc), "properties": .object(properties)]
        let required = d.fields.filter(\.required).map { JSONValue.string($0.name) }
        if !required.isEmpty { s["required"] = .array(required) }
        return s
    }

    static func schema(_ type: FieldType, doc: String?) -> JSONValue {
        var s: JSONValue
        switch type {
        case .string: s = ["type": "string"]
        case .integer: s = ["type": "integer"]
        case .intOrString: s = ["type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": true]
        case .anything: s = ["x-kubernetes-preserve-unknown-fields": true]
        case .boolean: s = ["type": "boolean"]
        case .object: s = ["type": "object"]
        case .oneOf(let values): s = ["type": "string", "enum": .array(values.map { .string($0) })]
        case .ref(let name): s = ["allOf": [["$ref": .string("#/components/schemas/\(schemaName(name))")]]]
        case .list(let item): s = ["type": "array", "items": schema(item, doc: nil)]
        case .map(let value): s = ["type": "object", "additionalProperties": schema(value, doc: nil)]
        }
        if let doc { s["description"] = .string(doc) }
        return s
    }

    /// A kind's description and its fields beyond apiVersion, kind and metadata.
    static func kind(_ r: ResourceType) -> (String, [Field]) {
        func spec(_ type: String, _ doc: String) -> Field { Field(name: "spec", type: .ref(type), doc: doc) }
        func status(_ type: String, _ doc: String) -> Field { Field(name: "status", type: .ref(type), doc: doc) }
        switch (r.group, r.kind) {
        case ("", "Service"):
            return ("A Service names a set of pods (its selector, or EndpointSlices written by hand) and gives them one "
                    + "virtual address and port: netplane proxy programs the kernel to spread connections to it over the "
                    + "endpoints.",
                    [spec("ServiceSpec", "How the Service is reached and which endpoints serve it."),
                     status("ServiceStatus", "The load balancer addresses given to the Service, if any.")])
        case ("discovery.k8s.io", "EndpointSlice"):
            return ("An EndpointSlice lists some of the endpoints of a Service (the label kubernetes.io/service-name "
                    + "names it): their addresses, readiness and the ports they serve.",
                    [Field(name: "addressType", type: .oneOf(["IPv4", "IPv6", "FQDN"]), doc: "The kind of address every endpoint of this slice carries.", required: true),
                     Field(name: "endpoints", type: .list(.ref("Endpoint")), doc: "The endpoints of this slice.", required: true),
                     Field(name: "ports", type: .list(.ref("EndpointPort")), doc: "The ports every endpoint of this slice serves.")])
        case ("networking.k8s.io", "NetworkPolicy"):
            return ("A NetworkPolicy says which traffic the pods it selects may receive and send: once a pod is selected "
                    + "for a direction, only what some policy allows in that direction passes.",
                    [spec("NetworkPolicySpec", "The pods this policy selects and the traffic it allows them.")])
        case ("networking.k8s.io", "Ingress"):
            return ("An Ingress routes HTTP(S) requests by host and path to Services, through an ingress controller.",
                    [spec("IngressSpec", "The rules, TLS settings and default backend of this Ingress."),
                     status("IngressStatus", "The addresses the ingress controller serves this Ingress on.")])
        case ("", "Node"):
            return ("A Node is a machine of the cluster: its pod subnet, its addresses and whether pods may be placed on it.",
                    [spec("NodeSpec", "The Node's pod subnets and scheduling settings."),
                     status("NodeStatus", "What the node agent reports about the Node.")])
        case ("", "Pod"):
            return ("A Pod is a group of containers sharing one network namespace, placed on one Node.",
                    [spec("PodSpec", "The containers of the Pod and how they run."),
                     status("PodStatus", "The Pod's phase and addresses, as its node agent reports them.")])
        case ("apps", "Deployment"):
            return ("A Deployment keeps a number of identical Pods running from one template, replacing them on a change.",
                    [spec("DeploymentSpec", "How many Pods, from which template, replaced how."),
                     status("DeploymentStatus", "How many of the Deployment's Pods exist and are ready.")])
        case ("", "ConfigMap"):
            return ("A ConfigMap holds configuration as keys and values.",
                    [Field(name: "data", type: .map(.string), doc: "Text values by key."),
                     Field(name: "binaryData", type: .map(.string), doc: "Binary values by key, base64-encoded."),
                     Field(name: "immutable", type: .boolean, doc: "When true, data and binaryData cannot change.")])
        case ("", "Secret"):
            return ("A Secret holds sensitive values such as TLS keys and certificates (an Ingress's TLS secret).",
                    [Field(name: "data", type: .map(.string), doc: "Values by key, base64-encoded."),
                     Field(name: "stringData", type: .map(.string), doc: "Values by key as text, merged into data on write."),
                     Field(name: "type", type: .string, doc: "What the Secret holds, e.g. kubernetes.io/tls (keys tls.crt and tls.key) or Opaque."),
                     Field(name: "immutable", type: .boolean, doc: "When true, data cannot change.")])
        case ("", "Namespace"):
            return ("A Namespace scopes the names of namespaced objects; deleting it deletes everything in it.",
                    [spec("NamespaceSpec", "The finalizers that must finish before the Namespace is deleted."),
                     status("NamespaceStatus", "Whether the Namespace is active or terminating.")])
        case ("rbac.authorization.k8s.io", "Role"):
            return ("A Role is a namespaced set of PolicyRules that a RoleBinding grants as a unit.",
                    [Field(name: "rules", type: .list(.ref("PolicyRule")), doc: "The PolicyRules of this Role.")])
        case ("rbac.authorization.k8s.io", "ClusterRole"):
            return ("A ClusterRole is a cluster-wide set of PolicyRules that a RoleBinding or ClusterRoleBinding grants as a unit.",
                    [Field(name: "rules", type: .list(.ref("PolicyRule")), doc: "The PolicyRules of this ClusterRole."),
                     Field(name: "aggregationRule", type: .ref("AggregationRule"), doc: "How to build rules from other ClusterRoles; when set, rules is managed by the controller and direct changes are overwritten.")])
        case ("rbac.authorization.k8s.io", "RoleBinding"):
            return ("A RoleBinding grants a Role of its namespace, or a ClusterRole, to subjects within the RoleBinding's namespace only.",
                    [Field(name: "subjects", type: .list(.ref("Subject")), doc: "The users, groups and service accounts the role is granted to."),
                     Field(name: "roleRef", type: .ref("RoleRef"), doc: "The Role in this namespace or the ClusterRole granted. Immutable.", required: true)])
        case ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            return ("A ClusterRoleBinding grants a ClusterRole to subjects across the whole cluster.",
                    [Field(name: "subjects", type: .list(.ref("Subject")), doc: "The users, groups and service accounts the role is granted to."),
                     Field(name: "roleRef", type: .ref("RoleRef"), doc: "The ClusterRole granted. Immutable.", required: true)])
        case ("authorization.k8s.io", "SelfSubjectAccessReview"):
            return ("A SelfSubjectAccessReview asks whether the current user can perform an action. An empty "
                    + "spec.resourceAttributes.namespace means \"in all namespaces\".",
                    [Field(name: "spec", type: .ref("SelfSubjectAccessReviewSpec"), doc: "The action being checked.", required: true),
                     status("SubjectAccessReviewStatus", "Filled in by the server: whether the action is allowed.")])
        case ("authorization.k8s.io", "SubjectAccessReview"):
            return ("A SubjectAccessReview asks whether a user or group can perform an action.",
                    [Field(name: "spec", type: .ref("SubjectAccessReviewSpec"), doc: "The action being checked and who performs it.", required: true),
                     status("SubjectAccessReviewStatus", "Filled in by the server: whether the action is allowed.")])
        case ("authorization.k8s.io", "LocalSubjectAccessReview"):
            return ("A LocalSubjectAccessReview asks whether a user or group can perform an action in the namespace it is sent to.",
                    [Field(name: "spec", type: .ref("SubjectAccessReviewSpec"), doc: "The action being checked and who performs it; resourceAttributes.namespace must be the request's namespace (defaulted when empty).", required: true),
                     status("SubjectAccessReviewStatus", "Filled in by the server: whether the action is allowed.")])
        case ("authorization.k8s.io", "SelfSubjectRulesReview"):
            return ("A SelfSubjectRulesReview lists the actions the current user can perform in a namespace. The list may be "
                    + "incomplete, depending on the authorizers; use it to show or hide actions, not to make authorization decisions.",
                    [Field(name: "spec", type: .ref("SelfSubjectRulesReviewSpec"), doc: "The namespace to list the rules of.", required: true),
                     status("SubjectRulesReviewStatus", "Filled in by the server: the actions the user can perform.")])
        default:
            let fields = FieldValidation.topLevel(r).subtracting(["apiVersion", "kind", "metadata"]).sorted().map {
                Field(name: $0, type: .anything, doc: "Kept as given: Netplane stores \(r.kind) objects but does not publish the schema of this field.")
            }
            return ("\(r.kind) (\(r.group.isEmpty ? "core" : r.group)/\(r.version)), stored and served with Kubernetes semantics.", fields)
        }
    }

    /// The shared types, by name.
    static let definitions: [String: Definition] = {
        func f(_ name: String, _ type: FieldType, _ doc: String, required: Bool = false) -> Field {
            Field(name: name, type: type, doc: doc, required: required)
        }
        let protocols = FieldType.oneOf(["TCP", "UDP", "SCTP"])
        return [
            "ObjectMeta": Definition(doc: "Metadata every object has.", fields: [
                f("name", .string, "The object's name, unique within its namespace (or the cluster)."),
                f("generateName", .string, "A prefix: when name is empty the server appends a random suffix."),
                f("namespace", .string, "The namespace of a namespaced object."),
                f("uid", .string, "Set by the server: unique for the object's whole life."),
                f("resourceVersion", .string, "Set by the server: the revision of the store at the object's last change. An update carrying it fails with 409 Conflict if the object changed since."),
                f("generation", .integer, "Set by the server: incremented when the desired state (spec) changes."),
                f("creationTimestamp", .string, "Set by the server: when the object was created (RFC 3339)."),
                f("deletionTimestamp", .string, "Set by the server when deletion was asked for while finalizers remain."),
                f("deletionGracePeriodSeconds", .integer, "The grace period of a pending deletion."),
                f("labels", .map(.string), "Keys and values that selectors match."),
                f("annotations", .map(.string), "Keys and values for tools and controllers; not matched by selectors."),
                f("ownerReferences", .list(.ref("OwnerReference")), "The objects this one belongs to."),
                f("finalizers", .list(.string), "Names of the controllers that must finish before the object is deleted."),
            ]),
            "OwnerReference": Definition(doc: "An object that owns this one.", fields: [
                f("apiVersion", .string, "The owner's apiVersion.", required: true),
                f("kind", .string, "The owner's kind.", required: true),
                f("name", .string, "The owner's name.", required: true),
                f("uid", .string, "The owner's uid.", required: true),
                f("controller", .boolean, "Whether the owner is this object's managing controller."),
                f("blockOwnerDeletion", .boolean, "Whether deleting the owner in the foreground waits for this object."),
            ]),
            "ObjectReference": Definition(doc: "A reference to another object.", fields: [
                f("apiVersion", .string, "The object's apiVersion."), f("kind", .string, "The object's kind."),
                f("namespace", .string, "The object's namespace."), f("name", .string, "The object's name."),
                f("uid", .string, "The object's uid."), f("resourceVersion", .string, "The revision referred to."),
                f("fieldPath", .string, "A field within the object."),
            ]),
            "LabelSelector": Definition(doc: "Selects objects by their labels: every matchLabels pair and every expression must hold. An empty selector selects everything.", fields: [
                f("matchLabels", .map(.string), "Labels an object must carry with exactly these values."),
                f("matchExpressions", .list(.ref("LabelSelectorRequirement")), "Expressions on one label each."),
            ]),
            "LabelSelectorRequirement": Definition(doc: "One condition on one label.", fields: [
                f("key", .string, "The label.", required: true),
                f("operator", .oneOf(["In", "NotIn", "Exists", "DoesNotExist"]), "How the label is compared with values.", required: true),
                f("values", .list(.string), "The values for In and NotIn; empty for Exists and DoesNotExist."),
            ]),
            "ServiceSpec": Definition(doc: "The desired state of a Service: its type, virtual addresses, ports, selector, affinity and traffic policies.", fields: [
                f("type", .oneOf(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]), "ClusterIP (the default) gives a virtual address inside the cluster; NodePort adds a port on every node; LoadBalancer adds the addresses in status.loadBalancer; ExternalName is only a DNS alias."),
                f("selector", .map(.string), "The labels of the pods that serve the Service. Without a selector, EndpointSlices are written by hand."),
                f("ports", .list(.ref("ServicePort")), "The ports the Service exposes."),
                f("clusterIP", .string, "The virtual address, allocated from the service range unless given; \"None\" makes a headless Service, which the proxy skips."),
                f("clusterIPs", .list(.string), "The virtual addresses, one per IP family; the first is clusterIP."),
                f("ipFamilies", .list(.oneOf(["IPv4", "IPv6"])), "The IP families of clusterIPs, in order."),
                f("ipFamilyPolicy", .oneOf(["SingleStack", "PreferDualStack", "RequireDualStack"]), "How many IP families the Service gets."),
                f("externalIPs", .list(.string), "Addresses of the nodes' networks at which the proxy also accepts the Service's ports."),
                f("loadBalancerIP", .string, "The load balancer address asked for (deprecated in Kubernetes)."),
                f("loadBalancerSourceRanges", .list(.string), "CIDRs allowed to reach the load balancer addresses."),
                f("externalName", .string, "For type ExternalName: the DNS name the Service stands for."),
                f("externalTrafficPolicy", .oneOf(["Cluster", "Local"]), "For traffic from outside (NodePort, externalIPs, load balancer): Cluster spreads it over every endpoint and masquerades the client; Local sends it only to endpoints on the receiving node and keeps the client address."),
                f("internalTrafficPolicy", .oneOf(["Cluster", "Local"]), "For traffic from inside the cluster: Cluster uses every endpoint, Local only the node's own."),
                f("sessionAffinity", .oneOf(["None", "ClientIP"]), "ClientIP sends a client's connections to the same endpoint for the affinity timeout."),
                f("sessionAffinityConfig", .ref("SessionAffinityConfig"), "The ClientIP affinity timeout."),
                f("healthCheckNodePort", .integer, "For LoadBalancer Services with externalTrafficPolicy Local: the node port that answers whether a node has local endpoints."),
                f("publishNotReadyAddresses", .boolean, "Whether endpoints that are not ready are published too."),
                f("allocateLoadBalancerNodePorts", .boolean, "Whether a LoadBalancer Service gets node ports (default true)."),
            ]),
            "ServicePort": Definition(doc: "One port of a Service.", fields: [
                f("name", .string, "The port's name; required when a Service has several, and matched by EndpointSlice ports."),
                f("protocol", protocols, "The IP protocol (default TCP)."),
                f("port", .integer, "The port on the Service's addresses.", required: true),
                f("targetPort", .intOrString, "The port on the endpoints: a number, or the name of a container port (default: port)."),
                f("nodePort", .integer, "For NodePort and LoadBalancer Services: the port on every node, allocated from the node port range unless given."),
                f("appProtocol", .string, "The application protocol, a hint for proxies and ingress controllers."),
            ]),
            "SessionAffinityConfig": Definition(doc: "Session affinity settings.", fields: [
                f("clientIP", .ref("ClientIPConfig"), "ClientIP affinity settings."),
            ]),
            "ClientIPConfig": Definition(doc: "ClientIP affinity settings.", fields: [
                f("timeoutSeconds", .integer, "How long a client stays with its endpoint after its last connection (default 10800)."),
            ]),
            "ServiceStatus": Definition(doc: "The observed state of a Service.", fields: [
                f("loadBalancer", .ref("LoadBalancerStatus"), "The load balancer addresses, at which the proxy accepts the Service's ports."),
            ]),
            "LoadBalancerStatus": Definition(doc: "The addresses of a load balancer.", fields: [
                f("ingress", .list(.ref("LoadBalancerIngress")), "One entry per address."),
            ]),
            "LoadBalancerIngress": Definition(doc: "One load balancer address.", fields: [
                f("ip", .string, "An IP address."), f("hostname", .string, "A DNS name."),
            ]),
            "Endpoint": Definition(doc: "One endpoint of a Service.", fields: [
                f("addresses", .list(.string), "The endpoint's addresses (the proxy uses the first).", required: true),
                f("conditions", .ref("EndpointConditions"), "Whether the endpoint is ready, serving, terminating."),
                f("hostname", .string, "The endpoint's hostname."),
                f("nodeName", .string, "The node the endpoint is on (what internal and external traffic policy Local compare)."),
                f("zone", .string, "The zone the endpoint is in."),
                f("targetRef", .ref("ObjectReference"), "The object behind the endpoint, usually a Pod."),
            ]),
            "EndpointConditions": Definition(doc: "The state of an endpoint.", fields: [
                f("ready", .boolean, "Ready for new connections (absent counts as ready)."),
                f("serving", .boolean, "Serving, even while terminating: used when no endpoint is ready."),
                f("terminating", .boolean, "Being shut down."),
            ]),
            "EndpointPort": Definition(doc: "A port every endpoint of a slice serves.", fields: [
                f("name", .string, "The name of the Service port this serves."),
                f("protocol", protocols, "The IP protocol (default TCP)."),
                f("port", .integer, "The port number on the endpoints."),
                f("appProtocol", .string, "The application protocol."),
            ]),
            "NetworkPolicySpec": Definition(doc: "The desired state of a NetworkPolicy: a pod selector, the directions it isolates and the rules that allow traffic.", fields: [
                f("podSelector", .ref("LabelSelector"), "The pods of the policy's namespace it applies to; empty selects all of them.", required: true),
                f("policyTypes", .list(.oneOf(["Ingress", "Egress"])), "The directions the policy isolates (default: Ingress, plus Egress when egress rules exist)."),
                f("ingress", .list(.ref("NetworkPolicyIngressRule")), "Traffic the selected pods may receive: allowed if any rule matches."),
                f("egress", .list(.ref("NetworkPolicyEgressRule")), "Traffic the selected pods may send: allowed if any rule matches."),
            ]),
            "NetworkPolicyIngressRule": Definition(doc: "Incoming traffic allowed when it comes from one of from and goes to one of ports.", fields: [
                f("from", .list(.ref("NetworkPolicyPeer")), "Sources; empty means any source."),
                f("ports", .list(.ref("NetworkPolicyPort")), "Destination ports; empty means every port."),
            ]),
            "NetworkPolicyEgressRule": Definition(doc: "Outgoing traffic allowed when it goes to one of to and one of ports.", fields: [
                f("to", .list(.ref("NetworkPolicyPeer")), "Destinations; empty means any destination."),
                f("ports", .list(.ref("NetworkPolicyPort")), "Destination ports; empty means every port."),
            ]),
            "NetworkPolicyPeer": Definition(doc: "Pods (by pod and namespace selectors) or an address block.", fields: [
                f("podSelector", .ref("LabelSelector"), "Pods, in the policy's namespace unless namespaceSelector is given too."),
                f("namespaceSelector", .ref("LabelSelector"), "Namespaces whose pods (all, or those podSelector selects) match."),
                f("ipBlock", .ref("IPBlock"), "An address block; not combined with the selectors."),
            ]),
            "IPBlock": Definition(doc: "A CIDR with exceptions.", fields: [
                f("cidr", .string, "The block, e.g. 10.0.0.0/8.", required: true),
                f("except", .list(.string), "CIDRs inside cidr that do not match."),
            ]),
            "NetworkPolicyPort": Definition(doc: "A destination port or port range.", fields: [
                f("protocol", protocols, "The IP protocol (default TCP)."),
                f("port", .intOrString, "A port number or a named container port; absent means every port."),
                f("endPort", .integer, "With a numeric port: the last port of the range."),
            ]),
            "IngressSpec": Definition(doc: "The desired state of an Ingress.", fields: [
                f("ingressClassName", .string, "The IngressClass, i.e. which ingress controller serves this Ingress."),
                f("defaultBackend", .ref("IngressBackend"), "Where requests that no rule matches go."),
                f("tls", .list(.ref("IngressTLS")), "Hosts served over TLS and their certificates."),
                f("rules", .list(.ref("IngressRule")), "Routing by host and path."),
            ]),
            "IngressTLS": Definition(doc: "TLS for some hosts.", fields: [
                f("hosts", .list(.string), "The hosts the certificate is for."),
                f("secretName", .string, "The kubernetes.io/tls Secret in the Ingress's namespace holding certificate and key."),
            ]),
            "IngressRule": Definition(doc: "Routing for one host (or every host).", fields: [
                f("host", .string, "The host, exact or with a leading *. wildcard; empty matches every host."),
                f("http", .ref("HTTPIngressRuleValue"), "The paths of this host."),
            ]),
            "HTTPIngressRuleValue": Definition(doc: "The paths of a host.", fields: [
                f("paths", .list(.ref("HTTPIngressPath")), "Path rules, longest match first.", required: true),
            ]),
            "HTTPIngressPath": Definition(doc: "A path and its backend.", fields: [
                f("path", .string, "The path, starting with /."),
                f("pathType", .oneOf(["Exact", "Prefix", "ImplementationSpecific"]), "How path matches: exactly, by /-separated prefix, or as the controller decides.", required: true),
                f("backend", .ref("IngressBackend"), "Where matching requests go.", required: true),
            ]),
            "IngressBackend": Definition(doc: "A Service port requests are sent to.", fields: [
                f("service", .ref("IngressServiceBackend"), "The Service and port."),
            ]),
            "IngressServiceBackend": Definition(doc: "A Service in the Ingress's namespace and one of its ports.", fields: [
                f("name", .string, "The Service.", required: true),
                f("port", .ref("ServiceBackendPort"), "The Service port, by name or number."),
            ]),
            "ServiceBackendPort": Definition(doc: "A Service port by name or number.", fields: [
                f("name", .string, "The port's name."), f("number", .integer, "The port's number."),
            ]),
            "IngressStatus": Definition(doc: "The observed state of an Ingress.", fields: [
                f("loadBalancer", .ref("LoadBalancerStatus"), "The addresses the Ingress is served on."),
            ]),
            "NodeSpec": Definition(doc: "The desired state of a Node.", fields: [
                f("podCIDR", .string, "The Node's pod subnet, given by node IPAM (netplane controllers --cluster-cidr)."),
                f("podCIDRs", .list(.string), "The Node's pod subnets, one per IP family; the first is podCIDR."),
                f("unschedulable", .boolean, "When true, no new pods are placed on the Node."),
                f("taints", .list(.ref("Taint")), "Taints that keep pods off the Node unless they tolerate them."),
                f("providerID", .string, "The machine's identifier at its provider."),
            ]),
            "Taint": Definition(doc: "A taint on a Node.", fields: [
                f("key", .string, "The taint's key.", required: true), f("value", .string, "The taint's value."),
                f("effect", .oneOf(["NoSchedule", "PreferNoSchedule", "NoExecute"]), "What happens to pods that do not tolerate it.", required: true),
            ]),
            "NodeStatus": Definition(doc: "The observed state of a Node: its addresses and conditions.", fields: [
                f("addresses", .list(.ref("NodeAddress")), "The Node's addresses (InternalIP is what the overlay and the proxy use)."),
                f("conditions", .list(.object), "Conditions such as Ready."),
            ]),
            "NodeAddress": Definition(doc: "An address of a Node.", fields: [
                f("type", .oneOf(["InternalIP", "ExternalIP", "Hostname", "InternalDNS", "ExternalDNS"]), "The kind of address.", required: true),
                f("address", .string, "The address.", required: true),
            ]),
            "PodSpec": Definition(doc: "The desired state of a Pod.", fields: [
                f("containers", .list(.ref("Container")), "The Pod's containers.", required: true),
                f("initContainers", .list(.ref("Container")), "Containers run to completion, in order, before the others start."),
                f("nodeName", .string, "The Node the Pod is bound to (set by the scheduler)."),
                f("nodeSelector", .map(.string), "Labels a Node must carry for the Pod to be placed there."),
                f("hostNetwork", .boolean, "Use the Node's network namespace instead of one of its own."),
                f("restartPolicy", .oneOf(["Always", "OnFailure", "Never"]), "When containers are restarted."),
                f("terminationGracePeriodSeconds", .integer, "How long containers get to stop after SIGTERM."),
                f("serviceAccountName", .string, "The ServiceAccount the Pod runs as."),
                f("schedulerName", .string, "The scheduler that places the Pod."),
                f("volumes", .list(.object), "Volumes the containers can mount."),
            ]),
            "Container": Definition(doc: "One container of a Pod.", fields: [
                f("name", .string, "The container's name, unique in the Pod.", required: true),
                f("image", .string, "The image to run."),
                f("command", .list(.string), "The entrypoint (default: the image's)."),
                f("args", .list(.string), "Arguments to the entrypoint."),
                f("env", .list(.ref("EnvVar")), "Environment variables."),
                f("ports", .list(.ref("ContainerPort")), "Ports the container listens on; names here are what a Service's targetPort may name."),
                f("workingDir", .string, "The working directory."),
                f("resources", .object, "Requests and limits of CPU and memory."),
                f("readinessProbe", .object, "How to tell the container is ready (readiness decides its endpoints' ready condition)."),
                f("livenessProbe", .object, "How to tell the container must be restarted."),
            ]),
            "EnvVar": Definition(doc: "An environment variable.", fields: [
                f("name", .string, "The variable.", required: true), f("value", .string, "Its value."),
            ]),
            "ContainerPort": Definition(doc: "A port a container listens on.", fields: [
                f("name", .string, "The port's name."),
                f("containerPort", .integer, "The port number.", required: true),
                f("protocol", protocols, "The IP protocol (default TCP)."),
                f("hostPort", .integer, "A port on the Node forwarded to this one."),
            ]),
            "PodStatus": Definition(doc: "The observed state of a Pod.", fields: [
                f("phase", .oneOf(["Pending", "Running", "Succeeded", "Failed", "Unknown"]), "Where the Pod is in its life."),
                f("podIP", .string, "The Pod's address (from its CNI plugin)."),
                f("podIPs", .list(.ref("PodIP")), "The Pod's addresses, one per IP family."),
                f("hostIP", .string, "The address of the Pod's Node."),
                f("conditions", .list(.object), "Conditions such as Ready."),
            ]),
            "PodIP": Definition(doc: "An address of a Pod.", fields: [f("ip", .string, "The address.")]),
            "PodTemplateSpec": Definition(doc: "The Pods a workload makes.", fields: [
                f("metadata", .ref("ObjectMeta"), "Labels and annotations of the Pods (the labels must match the selector)."),
                f("spec", .ref("PodSpec"), "The Pods' spec."),
            ]),
            "DeploymentSpec": Definition(doc: "The desired state of a Deployment.", fields: [
                f("replicas", .integer, "The number of Pods (default 1)."),
                f("selector", .ref("LabelSelector"), "The Pods the Deployment manages; must match the template's labels.", required: true),
                f("template", .ref("PodTemplateSpec"), "The Pods to run.", required: true),
                f("strategy", .ref("DeploymentStrategy"), "How Pods are replaced when the template changes."),
                f("minReadySeconds", .integer, "How long a new Pod must be ready before it counts as available."),
                f("revisionHistoryLimit", .integer, "How many old ReplicaSets are kept."),
                f("paused", .boolean, "When true, template changes are not rolled out."),
                f("progressDeadlineSeconds", .integer, "How long a rollout may make no progress before it is reported as failed."),
            ]),
            "DeploymentStrategy": Definition(doc: "How Pods are replaced.", fields: [
                f("type", .oneOf(["RollingUpdate", "Recreate"]), "RollingUpdate (the default) replaces Pods gradually; Recreate stops them all first."),
                f("rollingUpdate", .object, "maxSurge and maxUnavailable of a rolling update."),
            ]),
            "DeploymentStatus": Definition(doc: "The observed state of a Deployment.", fields: [
                f("observedGeneration", .integer, "The generation the controller last acted on."),
                f("replicas", .integer, "Pods that exist."), f("updatedReplicas", .integer, "Pods from the current template."),
                f("readyReplicas", .integer, "Pods that are ready."), f("availableReplicas", .integer, "Pods ready for minReadySeconds."),
            ]),
            "NamespaceSpec": Definition(doc: "The desired state of a Namespace.", fields: [
                f("finalizers", .list(.string), "What must finish before the Namespace is removed."),
            ]),
            "NamespaceStatus": Definition(doc: "The observed state of a Namespace.", fields: [
                f("phase", .oneOf(["Active", "Terminating"]), "Terminating while its contents are being deleted."),
            ]),
            "PolicyRule": Definition(doc: "Actions on resources or non-resource URLs; who may perform them is said by a binding.", fields: [
                f("verbs", .list(.string), "The verbs this rule allows, e.g. get, list, watch, create, update, patch, delete. \"*\" means all.", required: true),
                f("apiGroups", .list(.string), "The API groups of the resources; \"\" is the core group and \"*\" means all."),
                f("resources", .list(.string), "The resources this rule applies to, e.g. pods or pods/log. \"*\" means all."),
                f("resourceNames", .list(.string), "Names the rule is limited to; empty means every name."),
                f("nonResourceURLs", .list(.string), "Partial URLs such as /healthz (a trailing * is allowed); only for ClusterRoles bound by a ClusterRoleBinding. A rule names resources or non-resource URLs, not both."),
            ]),
            "AggregationRule": Definition(doc: "How a ClusterRole's rules are built from other ClusterRoles.", fields: [
                f("clusterRoleSelectors", .list(.ref("LabelSelector")), "The ClusterRoles whose rules are added: those any of these selectors match."),
            ]),
            "Subject": Definition(doc: "A user, group or service account a binding grants its role to.", fields: [
                f("kind", .string, "The kind of subject: User, Group or ServiceAccount.", required: true),
                f("apiGroup", .string, "The subject's API group: \"\" for ServiceAccount (the default), rbac.authorization.k8s.io for User and Group."),
                f("name", .string, "The subject's name.", required: true),
                f("namespace", .string, "The namespace of a ServiceAccount; must be empty for User and Group."),
            ]),
            "RoleRef": Definition(doc: "The role a binding grants.", fields: [
                f("apiGroup", .string, "The role's API group: rbac.authorization.k8s.io.", required: true),
                f("kind", .string, "The role's kind: Role or ClusterRole.", required: true),
                f("name", .string, "The role's name.", required: true),
            ]),
            "SelfSubjectAccessReviewSpec": Definition(doc: "The action being checked: exactly one of resourceAttributes and nonResourceAttributes.", fields: [
                f("resourceAttributes", .ref("ResourceAttributes"), "A request on a resource."),
                f("nonResourceAttributes", .ref("NonResourceAttributes"), "A request on a non-resource URL."),
            ]),
            "SubjectAccessReviewSpec": Definition(doc: "The action being checked (exactly one of resourceAttributes and nonResourceAttributes) and who performs it.", fields: [
                f("resourceAttributes", .ref("ResourceAttributes"), "A request on a resource."),
                f("nonResourceAttributes", .ref("NonResourceAttributes"), "A request on a non-resource URL."),
                f("user", .string, "The user to check for. With a user but no groups, the user is taken to be in no group."),
                f("groups", .list(.string), "The groups to check for."),
                f("extra", .map(.list(.string)), "The user's extra attributes, as an authenticator gives them."),
                f("uid", .string, "The user's uid."),
            ]),
            "ResourceAttributes": Definition(doc: "The attributes of a request on a resource.", fields: [
                f("namespace", .string, "The namespace of the action; empty means all namespaces (for a namespaced resource) or none (for a cluster-scoped one)."),
                f("verb", .string, "The API verb, e.g. get, list, watch, create, update, delete, proxy. \"*\" means all."),
                f("group", .string, "The API group of the resource. \"*\" means all."),
                f("version", .string, "The API version of the resource. \"*\" means all."),
                f("resource", .string, "The resource, e.g. pods. \"*\" means all."),
                f("subresource", .string, "The subresource, e.g. log; empty means none."),
                f("name", .string, "The name of the object got or deleted; empty means all."),
                f("fieldSelector", .ref("FieldSelectorAttributes"), "A field selector that limits the access asked for (it can only limit, never broaden it)."),
                f("labelSelector", .ref("LabelSelectorAttributes"), "A label selector that limits the access asked for (it can only limit, never broaden it)."),
            ]),
            "FieldSelectorAttributes": Definition(doc: "A field selector limiting a request: rawSelector or requirements, not both.", fields: [
                f("rawSelector", .string, "The selector as it would appear in a query parameter."),
                f("requirements", .list(.ref("FieldSelectorRequirement")), "The parsed selector: every requirement must hold."),
            ]),
            "FieldSelectorRequirement": Definition(doc: "One condition on one field.", fields: [
                f("key", .string, "The field.", required: true),
                f("operator", .string, "How the field is compared with values: In, NotIn, Exists or DoesNotExist.", required: true),
                f("values", .list(.string), "The values for In and NotIn; empty for Exists and DoesNotExist."),
            ]),
            "LabelSelectorAttributes": Definition(doc: "A label selector limiting a request: rawSelector or requirements, not both.", fields: [
                f("rawSelector", .string, "The selector as it would appear in a query parameter."),
                f("requirements", .list(.ref("LabelSelectorRequirement")), "The parsed selector: every requirement must hold."),
            ]),
            "NonResourceAttributes": Definition(doc: "The attributes of a request on a non-resource URL.", fields: [
                f("path", .string, "The URL path, e.g. /healthz."),
                f("verb", .string, "The HTTP verb, in lower case, e.g. get."),
            ]),
            "SubjectAccessReviewStatus": Definition(doc: "Whether the action is allowed.", fields: [
                f("allowed", .boolean, "True if the action would be allowed.", required: true),
                f("denied", .boolean, "True if the action would be denied. When both allowed and denied are false, the authorizer has no opinion."),
                f("reason", .string, "Why the action is allowed or denied."),
                f("evaluationError", .string, "An error met while checking; the answer may still be right."),
            ]),
            "SelfSubjectRulesReviewSpec": Definition(doc: "What a SelfSubjectRulesReview lists.", fields: [
                f("namespace", .string, "The namespace to list the rules of."),
            ]),
            "SubjectRulesReviewStatus": Definition(doc: "The actions a user can perform. A rule listed is allowed even when the list is incomplete.", fields: [
                f("resourceRules", .list(.ref("ResourceRule")), "The actions allowed on resources (unordered, may hold duplicates).", required: true),
                f("nonResourceRules", .list(.ref("NonResourceRule")), "The actions allowed on non-resource URLs (unordered, may hold duplicates).", required: true),
                f("incomplete", .boolean, "True when the lists are incomplete, e.g. because an authorizer cannot list rules.", required: true),
                f("evaluationError", .string, "An error met while listing the rules."),
            ]),
            "ResourceRule": Definition(doc: "Actions allowed on resources.", fields: [
                f("verbs", .list(.string), "The API verbs allowed. \"*\" means all.", required: true),
                f("apiGroups", .list(.string), "The API groups of the resources. \"*\" means all."),
                f("resources", .list(.string), "The resources; \"*\" means all, \"*/foo\" the subresource foo of all."),
                f("resourceNames", .list(.string), "Names the rule is limited to; empty means every name."),
            ]),
            "NonResourceRule": Definition(doc: "Actions allowed on non-resource URLs.", fields: [
                f("verbs", .list(.string), "The HTTP verbs allowed, e.g. get. \"*\" means all.", required: true),
                f("nonResourceURLs", .list(.string), "Partial URLs (a trailing * is allowed). \"*\" means all."),
            ]),
        ]
    }()
}
