import Foundation
import NetplaneTestSupport
import Testing

/// CustomResourceDefinitions as people use them, with real kubectl: apply a CRD, wait for
/// it to be established, apply objects (defaults filled, unknown fields refused or pruned),
/// `kubectl get` with the CRD's printer columns, schema errors in Kubernetes' words,
/// `explain`, scale and status subresources, selectors, watch, versions, namespace and CRD
/// deletion taking the objects along, and a restarted server serving what exists.
@Suite struct CustomResourceKubectlTests {
    static let cronTabCRD = """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: crontabs.stable.example.com
    spec:
      group: stable.example.com
      scope: Namespaced
      names:
        plural: crontabs
        singular: crontab
        kind: CronTab
        shortNames: [ct]
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                description: What the cron job runs and how often.
                required: [cronSpec]
                properties:
                  cronSpec:
                    type: string
                    description: The schedule, in cron format.
                    pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'
                  image:
                    type: string
                    maxLength: 64
                  replicas:
                    type: integer
                    description: How many copies run at once.
                    minimum: 1
                    maximum: 10
                    default: 1
                  color:
                    type: string
                    enum: [red, green, blue]
              status:
                type: object
                properties:
                  replicas:
                    type: integer
                  labelSelector:
                    type: string
        subresources:
          status: {}
          scale:
            specReplicasPath: .spec.replicas
            statusReplicasPath: .status.replicas
            labelSelectorPath: .status.labelSelector
        additionalPrinterColumns:
        - name: Spec
          type: string
          jsonPath: .spec.cronSpec
        - name: Replicas
          type: integer
          jsonPath: .spec.replicas
        - name: Color
          type: string
          priority: 1
          jsonPath: .spec.color
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
        selectableFields:
        - jsonPath: .spec.color
      - name: v1beta1
        served: true
        storage: false
        schema:
          openAPIV3Schema:
            type: object
            x-kubernetes-preserve-unknown-fields: true
    """

    func cronTab(_ name: String, _ spec: String, namespace: String = "jobs") -> String {
        """
        apiVersion: stable.example.com/v1
        kind: CronTab
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels: {app: \(name)}
        spec:
        \(spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        """
    }

    @Test func cronTabsFromCRDToDeletion() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        try api.kubectlOK(["create", "namespace", "jobs"])

        // An invalid CRD is refused with Kubernetes' field paths; nothing is served.
        let schemaless = try api.kubectl(["apply", "-f", "-"], stdin: """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, kind: Widget}
          versions: [{name: v1, served: true, storage: true}]
        """)
        #expect(!schemaless.succeeded && schemaless.stderr.contains(
            "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"), "\(schemaless.stderr)")
        let wrongName = try api.kubectl(["apply", "-f", "-"], stdin: Self.cronTabCRD.replacingOccurrences(of: "name: crontabs.stable", with: "name: tabs.stable"))
        #expect(wrongName.stderr.contains(#"metadata.name: Invalid value: "tabs.stable.example.com": must be spec.names.plural+"."+spec.group"#),
                "\(wrongName.stderr)")

        // Apply, then wait for Established, as kube's docs do.
        try api.kubectlOK(["apply", "-f", "-"], stdin: Self.cronTabCRD)
        try api.kubectlOK(["wait", "--for", "condition=established", "--timeout=30s", "crd/crontabs.stable.example.com"])
        let crds = try api.kubectlOK(["get", "crd"])
        #expect(crds.hasPrefix("NAME") && crds.contains("CREATED AT") && crds.contains("crontabs.stable.example.com"), "\(crds)")
        #expect(try api.kubectlOK(["get", "crd", "crontabs.stable.example.com", "-o",
                                   "jsonpath={.status.acceptedNames.listKind} {.status.storedVersions}"]) == #"CronTabList ["v1"]"#)
        let resources = try api.kubectlOK(["api-resources", "--api-group=stable.example.com"])
        #expect(resources.contains("crontabs") && resources.contains("ct") && resources.contains("stable.example.com/v1")
                && resources.contains("true") && resources.contains("CronTab"), "\(resources)")

        // An object: the default fills replicas; the columns show it.
        try api.kubectlOK(["apply", "-f", "-"], stdin: cronTab("nightly", "cronSpec: '0 3 * * *'\nimage: backup:1\ncolor: blue"))
        #expect(try api.kubectlOK(["get", "crontab", "nightly", "-n", "jobs", "-o", "jsonpath={.spec.replicas}"]) == "1")
        try api.kubectlOK(["apply", "-f", "-"], stdin: cronTab("hourly", "cronSpec: '0 * * * *'\nimage: report:2\nreplicas: 3\ncolor: red"))
        let table = try api.kubectlOK(["get", "crontabs", "-n", "jobs"])
        let lines = table.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(lines.first == ["NAME", "SPEC", "REPLICAS", "AGE"], "\(table)")
        #expect(lines.contains { $0.prefix(7) == ["hourly", "0", "*", "*", "*", "*", "3"] }, "\(table)")
        #expect(lines.contains { $0.prefix(7) == ["nightly", "0", "3", "*", "*", "*", "1"] }, "\(table)")
        let wide = try api.kubectlOK(["get", "ct", "-n", "jobs", "-o", "wide"])
        #expect(wide.contains("COLOR") && wide.contains("blue"), "\(wide)")

        // Schema errors, as kubectl prints kube-apiserver's.
        let typed = try api.kubectl(["apply", "-f", "-"], stdin: cronTab("bad", "cronSpec: '* * * * *'\nreplicas: three"))
        #expect(typed.stderr.contains(
            #"The CronTab "bad" is invalid: spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#),
                "\(typed.stderr)")
        let several = try api.kubectl(["apply", "-f", "-"], stdin: cronTab("bad", "cronSpec: every minute\nreplicas: 11\ncolor: pink"))
        #expect(several.stderr.contains(#"spec.cronSpec: Invalid value: "every minute": spec.cronSpec in body should match"#), "\(several.stderr)")
        #expect(several.stderr.contains("spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"),
                "\(several.stderr)")
        #expect(several.stderr.contains(#"spec.color: Unsupported value: "pink": supported values: "red", "green", "blue""#), "\(several.stderr)")
        let missing = try api.kubectl(["apply", "-f", "-"], stdin: cronTab("bad", "image: x"))
        #expect(missing.stderr.contains("spec.cronSpec: Required value"), "\(missing.stderr)")
        #expect(!(try api.kubectl(["get", "crontab", "bad", "-n", "jobs"]).succeeded))

        // Unknown fields: refused under kubectl's Strict, pruned when validation is off.
        let strict = try api.kubectl(["apply", "-f", "-"], stdin: cronTab("pruned", "cronSpec: '* * * * *'\nsize: large"))
        #expect(strict.stderr.contains(#"strict decoding error: unknown field "spec.size""#), "\(strict.stderr)")
        try api.kubectlOK(["apply", "--validate=false", "-f", "-"], stdin: cronTab("pruned", "cronSpec: '* * * * *'\nsize: large"))
        let pruned = try api.kubectlJSON(["get", "crontab", "pruned", "-n", "jobs"])
        #expect((pruned["spec"] as? [String: Any])?["size"] == nil && (pruned["spec"] as? [String: Any])?["replicas"] as? Int == 1, "\(pruned)")

        // explain, from the schema the CRD published.
        let explained = try api.kubectlOK(["explain", "crontab.spec"])
        #expect(explained.contains("KIND:       CronTab") && explained.contains("cronSpec\t<string> -required-")
                && explained.contains("How many copies run at once."), "\(explained)")
        #expect(try api.kubectlOK(["explain", "crontabs.spec.replicas"]).contains("FIELD: replicas <integer>"))

        // Scale through the CRD's paths; the schema still applies.
        try api.kubectlOK(["scale", "crontab/hourly", "-n", "jobs", "--replicas=5"])
        #expect(try api.kubectlOK(["get", "crontab", "hourly", "-n", "jobs", "-o", "jsonpath={.spec.replicas}"]) == "5")
        let tooMany = try api.kubectl(["scale", "crontab/hourly", "-n", "jobs", "--replicas=12"])
        #expect(tooMany.stderr.contains("spec.replicas in body should be less than or equal to 10"), "\(tooMany.stderr)")

        // Status: only through its subresource.
        try api.kubectlOK(["patch", "crontab", "hourly", "-n", "jobs", "--type=merge", "-p", #"{"status":{"replicas":9}}"#])
        #expect(try api.kubectlOK(["get", "crontab", "hourly", "-n", "jobs", "-o", "jsonpath={.status.replicas}"]) == "")
        try api.kubectlOK(["patch", "crontab", "hourly", "-n", "jobs", "--subresource=status", "--type=merge",
                           "-p", #"{"status":{"replicas":5,"labelSelector":"app=hourly"}}"#])
        #expect(try api.kubectlOK(["get", "crontab", "hourly", "-n", "jobs", "-o", "jsonpath={.status.replicas}"]) == "5")
        let scale = try api.curl("GET", "/apis/stable.example.com/v1/namespaces/jobs/crontabs/hourly/scale")
        #expect(scale.body.contains(#""selector":"app=hourly""#) && scale.body.contains(#""replicas":5"#), "\(scale.body)")
        // Strategic merge needs Go types' merge keys: refused, as kube does.
        #expect(try api.curl("PATCH", "/apis/stable.example.com/v1/namespaces/jobs/crontabs/hourly", body: "{}",
                             contentType: "application/strategic-merge-patch+json").status == 415)

        // Selectors: labels, and the field the CRD made selectable.
        #expect(try api.kubectlOK(["get", "ct", "-n", "jobs", "-l", "app=nightly", "-o", "name"]) == "crontab.stable.example.com/nightly\n")
        #expect(try api.kubectlOK(["get", "ct", "-n", "jobs", "--field-selector", "spec.color=red", "-o", "name"])
                == "crontab.stable.example.com/hourly\n")
        #expect(try api.kubectl(["get", "ct", "-n", "jobs", "--field-selector", "spec.image=x"]).stderr.contains("field label not supported"))

        // Another served version reads the same objects under its own apiVersion.
        #expect(try api.kubectlOK(["get", "crontabs.v1beta1.stable.example.com", "nightly", "-n", "jobs", "-o", "jsonpath={.apiVersion}"])
                == "stable.example.com/v1beta1")

        // Watch, and JSON for a client that prefers protobuf (custom resources have none).
        let watched = try Command.run(["curl", "-sS", "-k", "-m", "3", "-H", "Authorization: Bearer \(api.token)",
                                       "-H", "Accept: application/vnd.kubernetes.protobuf, application/json",
                                       api.server + "/apis/stable.example.com/v1/namespaces/jobs/crontabs?watch=1&timeoutSeconds=1"])
        #expect(watched.stdout.contains(#""type":"ADDED""#) && watched.stdout.contains(#""name":"nightly""#), "\(watched.stdout)")

        // A restarted server serves what exists from its first request.
        api.stop()
        let again = try RunningAPIServer(dataDir: api.dataDir)
        defer { again.stop() }
        #expect(try again.kubectlOK(["get", "crontab", "hourly", "-n", "jobs", "-o", "jsonpath={.spec.replicas}"]) == "5")

        // Deleting the namespace takes its custom objects; deleting the CRD takes the rest
        // and the resource itself.
        try again.kubectlOK(["create", "namespace", "other"])
        try again.kubectlOK(["apply", "-f", "-"], stdin: cronTab("weekly", "cronSpec: '0 0 * * 0'", namespace: "other"))
        try again.kubectlOK(["delete", "namespace", "other"])
        try again.kubectlOK(["create", "namespace", "other"])
        #expect(try again.kubectlOK(["get", "crontabs", "-n", "other", "-o", "name"]) == "")
        try again.kubectlOK(["delete", "crd", "crontabs.stable.example.com"])
        let listed = try again.curl("GET", "/apis/stable.example.com/v1/crontabs")
        #expect(listed.status == 404, "\(listed.body)")
        // Made again, it starts empty: the old objects went with the first one.
        try again.kubectlOK(["apply", "-f", "-"], stdin: Self.cronTabCRD)
        try again.kubectlOK(["wait", "--for", "condition=established", "--timeout=30s", "crd/crontabs.stable.example.com"])
        #expect(try again.curl("GET", "/apis/stable.example.com/v1/crontabs").body.contains(#""items":[]"#))
    }

    /// Calico's six CRDs (hand-written here in their shape: cluster-scoped, one version,
    /// the same groups, names and schema features: enums with defaults, allOf, a pattern,
    /// bounds, nullable array items, maps) apply and serve, with Calico-shaped objects.
    static let calicoCRDs: String = {
        func crd(_ plural: String, _ kind: String, _ spec: String) -> String {
            """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: \(plural).crd.projectcalico.org}
            spec:
              group: crd.projectcalico.org
              scope: Cluster
              preserveUnknownFields: false
              names: {plural: \(plural), singular: \(plural.dropLast(1).lowercased()), kind: \(kind), listKind: \(kind)List}
              versions:
              - name: v1
                served: true
                storage: true
                schema:
                  openAPIV3Schema:
                    type: object
                    properties:
                      apiVersion: {type: string}
                      kind: {type: string}
                      metadata: {type: object}
                      spec:
                        type: object
            \(spec.split(separator: "\n").map { "            " + $0 }.joined(separator: "\n"))
            """
        }
        return [
            crd("ippools", "IPPool", """
            required: [cidr]
            properties:
              cidr: {type: string, description: The pool CIDR.}
              blockSize: {type: integer}
              ipipMode: {type: string, enum: [Never, Always, CrossSubnet], default: Never}
              vxlanMode: {type: string, enum: [Never, Always, CrossSubnet], default: Never}
              natOutgoing: {type: boolean}
              disabled: {type: boolean}
              nodeSelector: {type: string}
              allowedUses: {type: array, items: {type: string, enum: [Workload, Tunnel]}}
            """),
            crd("bgppeers", "BGPPeer", """
            properties:
              node: {type: string}
              peerIP: {type: string}
              asNumber: {type: integer, format: int32}
              sourceAddress: {type: string, default: ""}
              keepOriginalNextHop: {type: boolean}
              nextHopMode:
                allOf:
                - enum: [Auto, Self, Keep]
                - enum: [Auto, Self, Keep]
                type: string
              password:
                type: object
                x-kubernetes-map-type: atomic
                properties:
                  secretKeyRef: {type: object, properties: {name: {type: string}, key: {type: string}}, required: [key]}
            """),
            crd("bgpconfigurations", "BGPConfiguration", """
            properties:
              asNumber: {type: integer, format: int32}
              listenPort: {type: integer, minimum: 1, maximum: 65535}
              logSeverityScreen: {type: string}
              nodeToNodeMeshEnabled: {type: boolean}
              bindMode: {type: string, enum: [None, NodeIP], default: None}
              communities:
                type: array
                items:
                  type: object
                  properties:
                    name: {type: string}
                    value: {type: string, pattern: '^(\\d+):(\\d+)$|^(\\d+):(\\d+):(\\d+)$'}
            """),
            crd("blockaffinities", "BlockAffinity", """
            required: [cidr, deleted, node, state]
            properties:
              cidr: {type: string}
              deleted: {type: string}
              node: {type: string}
              state: {type: string}
            """),
            crd("ipamblocks", "IPAMBlock", """
            required: [allocations, attributes, cidr, strictAffinity, unallocated]
            properties:
              affinity: {type: string}
              allocations: {type: array, items: {type: integer, nullable: true}}
              attributes:
                type: array
                items:
                  type: object
                  properties:
                    handle_id: {type: string}
                    secondary: {type: object, additionalProperties: {type: string}}
              cidr: {type: string}
              deleted: {type: boolean}
              sequenceNumber: {type: integer, format: int64, default: 0}
              strictAffinity: {type: boolean}
              unallocated: {type: array, items: {type: integer}}
            """),
            crd("ipamhandles", "IPAMHandle", """
            required: [block, handleID]
            properties:
              block: {type: object, additionalProperties: {type: integer}}
              deleted: {type: boolean}
              handleID: {type: string}
            """),
        ].joined(separator: "\n---\n")
    }()

    @Test func calicosCRDsApplyAndServe() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        try api.kubectlOK(["apply", "-f", "-"], stdin: Self.calicoCRDs)
        let plurals = ["ippools", "bgppeers", "bgpconfigurations", "blockaffinities", "ipamblocks", "ipamhandles"]
        try api.kubectlOK(["wait", "--for", "condition=established", "--timeout=30s"] + plurals.map { "crd/\($0).crd.projectcalico.org" })

        try api.kubectlOK(["apply", "-f", "-"], stdin: """
        apiVersion: crd.projectcalico.org/v1
        kind: IPPool
        metadata: {name: default-ipv4-ippool}
        spec: {cidr: 10.244.0.0/16, blockSize: 26, natOutgoing: true, nodeSelector: all(), allowedUses: [Workload, Tunnel]}
        ---
        apiVersion: crd.projectcalico.org/v1
        kind: BGPConfiguration
        metadata: {name: default}
        spec: {asNumber: 64512, listenPort: 179, nodeToNodeMeshEnabled: true, communities: [{name: c1, value: "64512:100"}]}
        ---
        apiVersion: crd.projectcalico.org/v1
        kind: BGPPeer
        metadata: {name: rack1-tor}
        spec: {peerIP: 198.18.0.1, asNumber: 64513, nextHopMode: Self}
        ---
        apiVersion: crd.projectcalico.org/v1
        kind: BlockAffinity
        metadata: {name: node1-10-244-1-0-26}
        spec: {cidr: 10.244.1.0/26, node: node1, state: confirmed, deleted: "false"}
        ---
        apiVersion: crd.projectcalico.org/v1
        kind: IPAMBlock
        metadata: {name: 10-244-1-0-26}
        spec:
          cidr: 10.244.1.0/26
          affinity: host:node1
          strictAffinity: false
          allocations: [0, null, 1]
          unallocated: [2, 3]
          attributes: [{handle_id: k8s-pod-network.abc, secondary: {namespace: default, pod: web-1}}]
        ---
        apiVersion: crd.projectcalico.org/v1
        kind: IPAMHandle
        metadata: {name: k8s-pod-network.abc}
        spec: {handleID: k8s-pod-network.abc, block: {10.244.1.0/26: 1}}
        """)

        // Defaults, the null allocations kept, maps kept.
        #expect(try api.kubectlOK(["get", "ippool", "default-ipv4-ippool", "-o", "jsonpath={.spec.ipipMode} {.spec.vxlanMode}"]) == "Never Never")
        #expect(try api.kubectlOK(["get", "bgppeer", "rack1-tor", "-o", "jsonpath={.spec.sourceAddress}|{.spec.nextHopMode}"]) == "|Self")
        let block = try api.curl("GET", "/apis/crd.projectcalico.org/v1/ipamblocks/10-244-1-0-26")
        #expect(block.body.contains(#""allocations":[0,null,1]"#) && block.body.contains(#""sequenceNumber":0"#), "\(block.body)")
        #expect(try api.kubectlOK(["get", "ipamhandle", "k8s-pod-network.abc", "-o", "jsonpath={.spec.block}"]) == #"{"10.244.1.0/26":1}"#)
        let pools = try api.kubectlOK(["get", "ippools"])
        #expect(pools.hasPrefix("NAME") && pools.contains("AGE") && pools.contains("default-ipv4-ippool"), "\(pools)")

        // Invalid objects, in Kubernetes' words.
        func refused(_ kind: String, _ spec: String) throws -> String {
            try api.kubectl(["apply", "-f", "-"], stdin: "apiVersion: crd.projectcalico.org/v1\nkind: \(kind)\nmetadata: {name: bad}\nspec: \(spec)\n").stderr
        }
        #expect(try refused("IPPool", "{cidr: 42}").contains(
            #"The IPPool "bad" is invalid: spec.cidr: Invalid value: "integer": spec.cidr in body must be of type string: "integer""#))
        #expect(try refused("IPPool", "{cidr: 10.0.0.0/16, ipipMode: Sometimes}").contains(
            #"spec.ipipMode: Unsupported value: "Sometimes": supported values: "Never", "Always", "CrossSubnet""#))
        #expect(try refused("BGPConfiguration", "{listenPort: 70000}").contains(
            "spec.listenPort: Invalid value: 70000: spec.listenPort in body should be less than or equal to 65535"))
        #expect(try refused("BGPConfiguration", "{communities: [{name: x, value: abc}]}").contains(
            #"spec.communities[0].value: Invalid value: "abc": spec.communities[0].value in body should match"#))
        #expect(try refused("BGPPeer", "{nextHopMode: Never}").contains(#"spec.nextHopMode: Unsupported value: "Never""#))
        #expect(try refused("IPAMHandle", "{handleID: h, block: {a: x}}").contains(
            #"spec.block.a: Invalid value: "string": spec.block.a in body must be of type integer: "string""#))
        #expect(try api.kubectlOK(["get", "ippools", "-o", "name"]) == "ippool.crd.projectcalico.org/default-ipv4-ippool\n")

        let explained = try api.kubectlOK(["explain", "ippool.spec.cidr"])
        #expect(explained.contains("FIELD: cidr <string>") && explained.contains("The pool CIDR."), "\(explained)")
    }

    /// CEL rules (x-kubernetes-validations) are not evaluated here: the CRD write and each
    /// write of its objects say so in a Warning header, which kubectl prints; a schema
    /// without rules brings no warning.
    @Test func unevaluatedCELRulesAreWarnedOf() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        let crd = try api.kubectl(["apply", "-f", "-"], stdin: """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: gadgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: gadgets, kind: Gadget}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    x-kubernetes-validations: [{rule: "self.min <= self.max", message: "min must not exceed max"}]
                    properties:
                      min: {type: integer}
                      max: {type: integer}
        """)
        #expect(crd.succeeded, "\(crd.stderr)")
        #expect(crd.stderr.contains("Warning: version v1: x-kubernetes-validations rules are stored and published but not evaluated by this server (it does not run CEL): spec (1 rule)"),
                "\(crd.stderr)")
        try api.kubectlOK(["wait", "--for", "condition=established", "crd/gadgets.example.com", "--timeout=30s"])
        let object = try api.kubectl(["apply", "-f", "-"], stdin: "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {min: 5, max: 1}\n")
        #expect(object.succeeded, "\(object.stderr)")
        #expect(object.stderr.contains("Warning: gadgets.example.com v1: x-kubernetes-validations rules were not evaluated (this server does not run CEL): spec (1 rule)"),
                "\(object.stderr)")
        // Reads carry no warning, nor do writes of kinds without rules.
        #expect(!(try api.kubectl(["get", "gadget", "g"]).stderr.contains("Warning")))
        #expect(!(try api.kubectl(["create", "configmap", "plain"]).stderr.contains("Warning")))
    }
}

