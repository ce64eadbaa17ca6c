import Testing
import JSON
@testable import APIMachinery

/// Server-side apply as kube-apiserver does it (structured-merge-diff v4/v6 semantics): field
/// sets in fieldsV1, ownership, conflicts and their messages, removal of fields an applier
/// dropped, and non-apply writes.
@Suite struct ServerSideApplyTests {
    static func json(_ text: String) -> JSONValue { try! JSONValue.parse(text) }
    static let deploymentSchema = MergeSchema.builtin(kind: "Deployment")
    static let t0 = "2026-01-01T00:00:00Z"
    static let t1 = "2026-01-01T00:01:00Z"
    static let t2 = "2026-01-01T00:02:00Z"

    /// A Deployment as `kubectl apply --server-side` sends it.
    static func deployment(replicas: Int64, image: String = "nginx:1.25", withStatus: Bool = false) -> JSONValue {
        var object: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": ["name": "web", "namespace": "default", "labels": ["app": "web"]],
            "spec": [
                "replicas": .int(replicas),
                "selector": ["matchLabels": ["app": "web"]],
                "template": [
                    "metadata": ["labels": ["app": "web"]],
                    "spec": ["containers": [["name": "nginx", "image": .string(image), "ports": [["containerPort": 80]]]]],
                ],
            ],
        ]
        if withStatus { object["status"] = ["replicas": 5] }
        return object
    }

    /// A minimal applied Deployment: its identity, and a spec and labels when given.
    static func partial(_ spec: JSONValue?, labels: JSONValue? = nil) -> JSONValue {
        var metadata: JSONValue = ["name": "web", "namespace": "default"]
        if let labels { metadata["labels"] = labels }
        var object: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata]
        if let spec { object["spec"] = spec }
        return object
    }

    static func apply(_ live: JSONValue?, _ applied: JSONValue, as manager: String, force: Bool = false,
                      subresource: String? = nil, at now: String = t0,
                      schema: MergeSchema = deploymentSchema) throws(APIError) -> JSONValue {
        try ServerSideApply.apply(live: live, applied: applied, manager: manager, force: force, subresource: subresource,
                                  apiVersion: "apps/v1", schema: schema, now: now)
    }

    static func entries(_ object: JSONValue) -> [JSONValue] {
        object[path: ["metadata", "managedFields"]]?.arrayValue ?? []
    }

    static func entry(_ object: JSONValue, _ manager: String, _ operation: String = "Apply") -> JSONValue? {
        entries(object).first { $0["manager"]?.stringValue == manager && $0["operation"]?.stringValue == operation }
    }

    /// The paths a manager owns, as SMD prints them.
    static func owned(_ object: JSONValue, _ manager: String, _ operation: String = "Apply") -> [String] {
        guard let fields = entry(object, manager, operation)?["fieldsV1"], let set = FieldSet(fieldsV1: fields) else { return [] }
        return set.paths.map(FieldSet.string)
    }

    static func conflict(_ body: () throws(APIError) -> JSONValue) -> APIError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    // MARK: fieldsV1

    @Test func fieldsV1RoundTrip() throws {
        let value = Self.json(#"""
            {"f:metadata":{"f:labels":{".":{},"f:app":{}}},
             "f:spec":{"f:replicas":{},"f:finalizers":{"v:\"a\"":{}},
               "f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},
                 "f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}
            """#)
        let set = try #require(FieldSet(fieldsV1: value))
        #expect(set.fieldsV1 == value)
        #expect(set.paths.map(FieldSet.string) == [
            ".metadata.labels",
            ".metadata.labels.app",
            ".spec.replicas",
            #".spec.finalizers[="a"]"#,
            #".spec.template.spec.containers[name="nginx"]"#,
            #".spec.template.spec.containers[name="nginx"].image"#,
            #".spec.template.spec.containers[name="nginx"].name"#,
            #".spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"]"#,
            #".spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].containerPort"#,
        ])
        #expect(set.contains([.field("spec"), .field("replicas")]))
        #expect(!set.contains([.field("spec")]))

        // Keys come out sorted and compact whatever their order in; unknown element kinds are
        // skipped; a node that is not an object is malformed.
        let unsorted = try #require(FieldSet(fieldsV1: Self.json(#"{"f:p":{"k:{ \"protocol\": \"UDP\", \"containerPort\": 53 }":{}},"z:future":{}}"#)))
        #expect(unsorted.fieldsV1.jsonString == #"{"f:p":{"k:{\"containerPort\":53,\"protocol\":\"UDP\"}":{}}}"#)
        #expect(FieldSet(fieldsV1: Self.json(#"{"f:a":1}"#)) == nil)
        #expect(FieldSet(fieldsV1: Self.json(#"{"q":{}}"#)) == nil)
        #expect(FieldSet(fieldsV1: .emptyObject) == FieldSet())

        // Go's encoding/json inside keys: HTML characters escaped.
        #expect(PathElement.value("a<b&c").serialized == #"v:"a\u003cb\u0026c""#)
        #expect(PathElement.key([.init("port", 8080.0)]).serialized == #"k:{"port":8080}"#)
        #expect(PathElement.value(1.5).description == "[=1.5]")
    }

    // MARK: apply

    @Test func createTracksTheAppliedFieldsButNotStatus() throws {
        let created = try Self.apply(nil, Self.deployment(replicas: 2, withStatus: true), as: "manager-a")
        #expect(created["status"] == nil, "the main resource does not apply status")
        #expect(created["spec"] == Self.deployment(replicas: 2)["spec"])
        #expect(created[path: ["metadata", "name"]] == "web")
        let expected = Self.json(#"""
            {"f:metadata":{"f:labels":{"f:app":{}}},
             "f:spec":{"f:replicas":{},"f:selector":{},
               "f:template":{"f:metadata":{"f:labels":{"f:app":{}}},
                 "f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},
                   "f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}
            """#)
        #expect(Self.entries(created) == [[
            "manager": "manager-a", "operation": "Apply", "apiVersion": "apps/v1", "time": .string(Self.t0),
            "fieldsType": "FieldsV1", "fieldsV1": expected,
        ]])
    }

    @Test func reapplyChangesTheValueAndKeepsOwnership() throws {
        let created = try Self.apply(nil, Self.deployment(replicas: 2), as: "manager-a")
        let updated = try Self.apply(created, Self.deployment(replicas: 3), as: "manager-a", at: Self.t1)
        #expect(updated[path: ["spec", "replicas"]] == 3)
        #expect(Self.entries(updated).count == 1)
        #expect(Self.entry(updated, "manager-a")?["time"] == .string(Self.t1))
        #expect(Self.entry(updated, "manager-a")?["fieldsV1"] == Self.entry(created, "manager-a")?["fieldsV1"])

        // Applying the same again changes nothing, so the entry keeps its time.
        let same = try Self.apply(updated, Self.deployment(replicas: 3), as: "manager-a", at: Self.t2)
        #expect(same == updated)
    }

    @Test func anotherAppliersValueConflicts() throws {
        let created = try Self.apply(nil, Self.deployment(replicas: 2), as: "manager-a")
        let error = try #require(Self.conflict { () throws(APIError) in
            try Self.apply(created, Self.partial(["replicas": 5]), as: "manager-b")
        })
        #expect(error.code == 409)
        #expect(error.reason == "Conflict")
        #expect(error.message == #"Apply failed with 1 conflict: conflict with "manager-a": .spec.replicas"#)
        #expect(error.details == ["causes": [[
            "reason": "FieldManagerConflict", "message": #"conflict with "manager-a""#, "field": ".spec.replicas",
        ]]])
    }

    @Test func forceTakesTheFieldOver() throws {
        let created = try Self.apply(nil, Self.deployment(replicas: 2), as: "manager-a")
        let forced = try Self.apply(created, Self.partial(["replicas": 5]), as: "manager-b", force: true, at: Self.t1)
        #expect(forced[path: ["spec", "replicas"]] == 5)
        #expect(Self.entry(forced, "manager-b")?["fieldsV1"] == Self.json(#"{"f:spec":{"f:replicas":{}}}"#))
        #expect(!Self.owned(forced, "manager-a").contains(".spec.replicas"))
        #expect(Self.owned(forced, "manager-a").contains(".spec.selector"))
        // Apply entries sort by time: manager-a's (t0) before manager-b's (t1).
        #expect(Self.entries(forced).map { $0["manager"] } == ["manager-a", "manager-b"])
    }

    @Test func sameValueIsSharedWithoutConflict() throws {
        let created = try Self.apply(nil, Self.deployment(replicas: 2), as: "manager-a")
        let shared = try Self.apply(created, Self.partial(["replicas": 2]), as: "manager-b", at: Self.t1)
        #expect(Self.owned(shared, "manager-a").contains(".spec.replicas"))
        #expect(Self.owned(shared, "manager-b") == [".spec.replicas"])
        // The object did not change: a new entry still gets a time.
        #expect(Self.entry(shared, "manager-b")?["time"] == .string(Self.t1))
    }

    @Test func fieldsAnApplierDropsAreRemovedUnlessSomeoneElseOwnsThem() throws {
        var object = try Self.apply(nil, Self.partial(["replicas": 1], labels: ["app": "web", "tier": "front", "team": "x"]),
                                    as: "manager-a")
        object = try Self.apply(object, Self.partial(nil, labels: ["team": "x"]), as: "manager-b")
        object = try Self.apply(object, Self.partial(["replicas": 1], labels: ["app": "web"]), as: "manager-a", at: Self.t1)
        #expect(object[path: ["metadata", "labels"]] == ["app": "web", "team": "x"])
        #expect(Self.owned(object, "manager-a") == [".metadata.labels.app", ".spec.replicas"])
        #expect(Self.owned(object, "manager-b") == [".metadata.labels.team"])
        #expect(object[path: ["metadata", "name"]] == "web")

        // Dropping the last owned label removes the map; dropping replicas removes it too.
        object = try Self.apply(object, Self.partial(nil), as: "manager-a", at: Self.t2)
        #expect(object[path: ["metadata", "labels"]] == ["team": "x"])
        #expect(object[path: ["spec", "replicas"]] == nil)
        #expect(Self.entry(object, "manager-a") == nil, "an entry whose set is empty goes")
        #expect(object[path: ["metadata", "namespace"]] == "default")
    }

    @Test func containersMergeByName() throws {
        func containers(_ list: JSONValue) -> JSONValue {
            Self.partial(["template": ["spec": ["containers": list]]])
        }
        var object = try Self.apply(nil, containers([["name": "web", "image": "nginx"]]), as: "manager-a")
        object = try Self.apply(object, containers([["name": "sidecar", "image": "envoy"]]), as: "manager-b")
        #expect(object[path: ["spec", "template", "spec", "containers"]]
                == [["name": "web", "image": "nginx"], ["name": "sidecar", "image": "envoy"]])
        #expect(Self.owned(object, "manager-a") == [
            #".spec.template.spec.containers[name="web"]"#,
            #".spec.template.spec.containers[name="web"].image"#,
            #".spec.template.spec.containers[name="web"].name"#,
        ])
        #expect(Self.owned(object, "manager-b").first == #".spec.template.spec.containers[name="sidecar"]"#)

        let live = object
        let error = try #require(Self.conflict { () throws(APIError) in
            try Self.apply(live, containers([["name": "web", "image": "httpd"]]), as: "manager-b")
        })
        #expect(error.message == #"Apply failed with 1 conflict: conflict with "manager-a": .spec.template.spec.containers[name="web"].image"#)

        // Forced: manager-b takes the image, and its sidecar (which it no longer applies) goes.
        object = try Self.apply(live, containers([["name": "web", "image": "httpd"]]), as: "manager-b", force: true)
        #expect(object[path: ["spec", "template", "spec", "containers"]] == [["name": "web", "image": "httpd"]])
        #expect(Self.owned(object, "manager-a") == [
            #".spec.template.spec.containers[name="web"]"#, #".spec.template.spec.containers[name="web"].name"#,
        ])
    }

    @Test func appliedOrderWinsForSharedElements() {
        let schema = MergeSchema(list: .map(keys: ["name"]))
        let merged = Structured.merge(
            [["name": "a"], ["name": "b"], ["name": "c"]], [["name": "c"], ["name": "x"], ["name": "a"]], schema)
        #expect(merged == [["name": "b"], ["name": "c"], ["name": "x"], ["name": "a"]])
        let set = Structured.merge(["a", "b"], ["c", "a"], MergeSchema(list: .set))
        #expect(set == ["c", "a", "b"])
    }

    // MARK: updates and first applies

    @Test func anUpdatersFieldConflictsWithItsVersion() throws {
        let created = try Self.apply(nil, Self.deployment(replicas: 2), as: "manager-a")
        var edited = created
        edited[path: ["spec", "replicas"]] = 4
        let updated = ServerSideApply.update(old: created, new: edited, manager: "kubectl-edit", subresource: nil,
                                             apiVersion: "apps/v1", schema: Self.deploymentSchema, now: Self.t1)
        #expect(updated[path: ["spec", "replicas"]] == 4)
        #expect(Self.entry(updated, "kubectl-edit", "Update") == [
            "manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "time": .string(Self.t1),
            "fieldsType": "FieldsV1", "fieldsV1": Self.json(#"{"f:spec":{"f:replicas":{}}}"#),
        ])
        #expect(!Self.owned(updated, "manager-a").contains(".spec.replicas"))
        #expect(Self.entries(updated).map { $0["operation"] } == ["Apply", "Update"])

        let error = try #require(Self.conflict { () throws(APIError) in
            try Self.apply(updated, Self.deployment(replicas: 2), as: "manager-a", at: Self.t2)
        })
        #expect(error.message == #"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#)
        #expect(error.details?["causes"]?.arrayValue?.first?["message"] == #"conflict with "kubectl-edit" using apps/v1"#)

        // An update that changes nothing leaves managedFields as they are.
        let unchanged = ServerSideApply.update(old: updated, new: updated, manager: "kubectl-edit", subresource: nil,
                                               apiVersion: "apps/v1", schema: Self.deploymentSchema, now: Self.t2)
        #expect(unchanged == updated)
        // A removed field leaves every manager.
        var removed = updated
        removed[path: ["metadata", "labels"]] = nil
        let after = ServerSideApply.update(old: updated, new: removed, manager: "kubectl-edit", subresource: nil,
                                           apiVersion: "apps/v1", schema: Self.deploymentSchema, now: Self.t2)
        #expect(!Self.owned(after, "manager-a").contains(".metadata.labels.app"))
        #expect(Self.entry(after, "kubectl-edit", "Update")?["time"] == .string(Self.t1), "it gained nothing")
    }

    @Test func updatesOfUntrackedObjectsAndResets() throws {
        let plain = Self.deployment(replicas: 1)
        var next = plain
        next[path: ["spec", "replicas"]] = 2
        #expect(ServerSideApply.update(old: plain, new: next, manager: "kubectl", subresource: nil, apiVersion: "apps/v1",
                                       schema: Self.deploymentSchema, now: Self.t0) == next)

        let tracked = try Self.apply(nil, plain, as: "manager-a")
        var reset = tracked
        reset[path: ["metadata", "managedFields"]] = []
        let cleared = ServerSideApply.update(old: tracked, new: reset, manager: "kubectl", subresource: nil,
                                             apiVersion: "apps/v1", schema: Self.deploymentSchema, now: Self.t1)
        #expect(cleared[path: ["metadata", "managedFields"]] == nil)

        // A client's own managedFields (non-empty) replace the stored ones.
        var own = tracked
        own[path: ["metadata", "managedFields"]] = [[
            "manager": "someone", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
            "fieldsV1": ["f:spec": ["f:replicas": .emptyObject]],
        ]]
        let replaced = ServerSideApply.update(old: tracked, new: own, manager: "kubectl", subresource: nil,
                                              apiVersion: "apps/v1", schema: Self.deploymentSchema, now: Self.t1)
        #expect(Self.entries(replaced).compactMap { $0["manager"]?.stringValue } == ["someone"])
    }

    @Test func firstApplyAttributesExistingFieldsToBeforeFirstApply() throws {
        var existing = Self.deployment(replicas: 1)
        existing[path: ["metadata", "uid"]] = "1234"
        existing[path: ["metadata", "resourceVersion"]] = "7"
        existing["status"] = ["replicas": 1]
        let applied = try Self.apply(existing, Self.partial(["replicas": 1]), as: "manager-a", at: Self.t1)
        #expect(Self.owned(applied, "manager-a") == [".spec.replicas"])
        let before = Self.owned(applied, "before-first-apply", "Update")
        #expect(before.contains(".spec.replicas"))
        #expect(before.contains(".metadata.labels.app"))
        #expect(before.contains(#".spec.template.spec.containers[name="nginx"].image"#))
        #expect(!before.contains { $0.hasPrefix(".status") || $0.hasPrefix(".metadata.uid") || $0 == ".metadata" })
        #expect(Self.entry(applied, "before-first-apply", "Update")?["apiVersion"] == "apps/v1")

        let error = try #require(Self.conflict { () throws(APIError) in
            try Self.apply(applied, Self.partial(["replicas": 3]), as: "manager-a", at: Self.t2)
        })
        #expect(error.message == #"Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas"#)
    }

    // MARK: schemas

    @Test func crdListTypesFromTheStructuralSchema() throws {
        let crd = StructuralSchema(Self.json("""
            {"type":"object","properties":{"spec":{"type":"object","properties":{
              "ports":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["name"],
                       "items":{"type":"object","properties":{"name":{"type":"string"},"port":{"type":"integer"}}}},
              "tags":{"type":"array","x-kubernetes-list-type":"set","items":{"type":"string"}},
              "args":{"type":"array","items":{"type":"string"}},
              "selector":{"type":"object","x-kubernetes-map-type":"atomic","additionalProperties":{"type":"string"}}}}}}
            """))
        let schema = crd.mergeSchema
        #expect(schema.fields["spec"]?.fields["ports"]?.list == .map(keys: ["name"]))
        #expect(schema.fields["spec"]?.fields["tags"]?.list == .set)
        #expect(schema.fields["spec"]?.fields["args"]?.list == nil)
        #expect(schema.fields["metadata"]?.fields["finalizers"]?.list == .set)

        func object(_ spec: JSONValue) -> JSONValue {
            ["apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": "w"], "spec": spec]
        }
        func apply(_ live: JSONValue?, _ spec: JSONValue, _ manager: String, force: Bool = false) throws(APIError) -> JSONValue {
            try ServerSideApply.apply(live: live, applied: object(spec), manager: manager, force: force, subresource: nil,
                                      apiVersion: "example.com/v1", schema: schema, now: Self.t0)
        }
        var widget = try apply(nil, ["ports": [["name": "http", "port": 80]], "tags": ["a", "b"], "args": ["x"],
                                     "selector": ["app": "w"]], "manager-a")
        widget = try apply(widget, ["ports": [["name": "metrics", "port": 9090]], "tags": ["c"]], "manager-b")
        #expect(widget["spec"] == ["ports": [["name": "http", "port": 80], ["name": "metrics", "port": 9090]],
                                   "tags": ["a", "b", "c"], "args": ["x"], "selector": ["app": "w"]])
        #expect(Self.entry(widget, "manager-b")?["fieldsV1"]
                == Self.json(#"{"f:spec":{"f:ports":{"k:{\"name\":\"metrics\"}":{".":{},"f:name":{},"f:port":{}}},"f:tags":{"v:\"c\"":{}}}}"#))
        #expect(Self.owned(widget, "manager-a").contains(".spec.selector"))

        // Dropping a set value removes it; the other applier's stays.
        widget = try apply(widget, ["ports": [["name": "http", "port": 80]], "tags": ["a"], "args": ["x"],
                                    "selector": ["app": "w"]], "manager-a")
        #expect(widget[path: ["spec", "tags"]] == ["a", "c"])

        // Atomic lists and maps are one field.
        let live = widget
        let error = try #require(Self.conflict { () throws(APIError) in
            try apply(live, ["args": ["y"], "selector": ["app": "w", "tier": "x"]], "manager-b")
        })
        #expect(error.message == """
            Apply failed with 2 conflicts: conflicts with "manager-a":
            - .spec.args
            - .spec.selector
            """)
    }

    @Test func builtinPortsAreKeyedByPortAndProtocol() throws {
        let schema = MergeSchema.builtin(kind: "Service")
        let service: JSONValue = [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": "dns", "namespace": "kube-system"],
            "spec": ["selector": ["k8s-app": "dns"],
                     "ports": [["name": "dns", "port": 53, "protocol": "UDP"], ["name": "dns-tcp", "port": 53]]],
        ]
        let created = try ServerSideApply.apply(live: nil, applied: service, manager: "kubectl", force: false, subresource: nil,
                                                apiVersion: "v1", schema: schema, now: Self.t0)
        #expect(Self.owned(created, "kubectl").contains(#".spec.ports[port=53,protocol="TCP"].name"#))
        #expect(Self.owned(created, "kubectl").contains(#".spec.ports[port=53,protocol="UDP"].protocol"#))
        #expect(Self.owned(created, "kubectl").contains(".spec.selector"))

        // A duplicate key is kube's typed-object error.
        var duplicated = service
        duplicated[path: ["spec", "ports"]] = [["port": 80], ["port": 80, "protocol": "TCP"]]
        let error = try #require(Self.conflict { () throws(APIError) in
            try ServerSideApply.apply(live: nil, applied: duplicated, manager: "kubectl", force: false, subresource: nil,
                                      apiVersion: "v1", schema: schema, now: Self.t0)
        })
        #expect(error.code == 500)
        #expect(error.message == #"failed to create typed patch object (kube-system/dns; /v1, Kind=Service): .spec.ports: duplicate entries for key [port=80,protocol="TCP"]"#)

        let withManagedFields: JSONValue = ["apiVersion": "v1", "kind": "Service", "metadata": ["name": "dns", "managedFields": []]]
        #expect(Self.conflict { () throws(APIError) in
            try ServerSideApply.apply(live: nil, applied: withManagedFields, manager: "kubectl", force: false, subresource: nil,
                                      apiVersion: "v1", schema: schema, now: Self.t0)
        }?.message == "metadata.managedFields must be nil")
    }

    // MARK: status

    @Test func statusSubresourceAppliesAndTracksOnlyStatus() throws {
        let created = try Self.apply(nil, Self.deployment(replicas: 2), as: "manager-a")
        var statusApply = Self.partial(["replicas": 9])
        statusApply["status"] = ["readyReplicas": 2, "conditions": [["type": "Available", "status": "True"]]]
        let updated = try Self.apply(created, statusApply, as: "controller", subresource: "status", at: Self.t1)
        #expect(updated[path: ["spec", "replicas"]] == 2)
        #expect(updated["status"] == statusApply["status"])
        let entry = try #require(Self.entry(updated, "controller"))
        #expect(entry["subresource"] == "status")
        #expect(entry["fieldsV1"] == Self.json(#"""
            {"f:status":{"f:readyReplicas":{},"f:conditions":{"k:{\"type\":\"Available\"}":{".":{},"f:type":{},"f:status":{}}}}}
            """#))

        // The main resource's applies leave status alone, and a status applier conflicts only
        // with status owners, printed with its subresource.
        let reapplied = try Self.apply(updated, Self.deployment(replicas: 2), as: "manager-a", at: Self.t2)
        #expect(reapplied["status"] == statusApply["status"])
        var other = Self.partial(nil)
        other["status"] = ["readyReplicas": 1]
        let error = try #require(Self.conflict { () throws(APIError) in
            try Self.apply(reapplied, other, as: "kubelet", subresource: "status", at: Self.t2)
        })
        #expect(error.message == #"Apply failed with 1 conflict: conflict with "controller" with subresource "status": .status.readyReplicas"#)
    }

    // MARK: messages

    @Test func severalConflictsAreGroupedByManager() throws {
        var object = try Self.apply(nil, Self.partial(["replicas": 2, "minReadySeconds": 5]), as: "manager-a")
        object = try Self.apply(object, Self.partial(nil, labels: ["tier": "x"]), as: "manager-b")
        let live = object
        let error = try #require(Self.conflict { () throws(APIError) in
            try Self.apply(live, Self.partial(["replicas": 3, "minReadySeconds": 6], labels: ["tier": "y"]), as: "manager-c")
        })
        #expect(error.message == """
            Apply failed with 3 conflicts: conflicts with "manager-a":
            - .spec.minReadySeconds
            - .spec.replicas
            conflicts with "manager-b":
            - .metadata.labels.tier
            """)
        #expect(error.details?["causes"]?.arrayValue?.map { $0["field"] } == [".spec.minReadySeconds", ".spec.replicas", ".metadata.labels.tier"])
    }

    @Test func updateEntriesAreCapped() throws {
        var object = try Self.apply(nil, Self.partial(["replicas": 1]), as: "manager-a")
        for i in 0..<12 {
            var next = object
            next[path: ["metadata", "labels", "l\(i)"]] = "v"
            let minute = i < 10 ? "0\(i)" : "\(i)"
            object = ServerSideApply.update(old: object, new: next, manager: "editor-\(i)", subresource: nil, apiVersion: "apps/v1",
                                            schema: Self.deploymentSchema, now: "2026-01-01T00:\(minute):30Z")
        }
        let updaters = Self.entries(object).filter { $0["operation"] == "Update" }
        #expect(updaters.count == 10)
        // editor-0 added the labels map itself (".": kube's Update entries own added maps).
        #expect(Self.owned(object, "ancient-changes", "Update")
                == [".metadata.labels", ".metadata.labels.l0", ".metadata.labels.l1", ".metadata.labels.l2"])
    }

    @Test func bigKeyedListsStayLinear() throws {
        let schema = MergeSchema.builtin(kind: "Pod")
        func pod(_ count: Int, value: String) -> JSONValue {
            let env = (0..<count).map { i -> JSONValue in ["name": .string("VAR_\(i)"), "value": .string(value)] }
            return ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "big", "namespace": "default"],
                    "spec": ["containers": [["name": "main", "image": "busybox", "env": .array(env)]]]]
        }
        let created = try ServerSideApply.apply(live: nil, applied: pod(2_000, value: "a"), manager: "a", force: false,
                                                subresource: nil, apiVersion: "v1", schema: schema, now: Self.t0)
        var edited = created
        edited[path: ["spec", "containers"]] = pod(2_000, value: "b")[path: ["spec", "containers"]]
        let updated = ServerSideApply.update(old: created, new: edited, manager: "editor", subresource: nil, apiVersion: "v1",
                                             schema: schema, now: Self.t1)
        #expect(Self.owned(updated, "editor", "Update").count == 2_000)
        let reapplied = try ServerSideApply.apply(live: updated, applied: pod(1_000, value: "b"), manager: "a", force: true,
                                                  subresource: nil, apiVersion: "v1", schema: schema, now: Self.t2)
        // As SMD: the dropped elements go, though the editor owns their values (not the elements).
        #expect(reapplied[path: ["spec", "containers"]]?.arrayValue?.first?["env"]?.arrayValue?.count == 1_000)
    }
}
