import JSON
import APIMachinery

/// The OpenAPI v3 documents kubectl reads before `apply`/`create`: per group-version, the
/// paths of every resource with their operations and parameters, and the schemas of its
/// kinds for `kubectl explain` (OpenAPISchemas). kubectl looks for the `fieldValidation`
/// parameter on a kind's PATCH operation to learn that the server validates fields itself
/// (it then sends `fieldValidation=Strict` instead of validating client-side). The PATCH
/// bodies list JSON, merge and apply patches but not strategic merge patches, so kubectl
/// builds those from the Kubernetes types compiled into it rather than from schemas here.
enum OpenAPI {
    static func gvPath(_ group: String, _ version: String) -> String {
        group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)"
    }

    static func root(_ registry: ResourceRegistry) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        for (group, version) in registry.groupVersions {
            let p = gvPath(group, version)
            paths[p] = ["serverRelativeURL": .string("/openapi/v3/\(p)")]
        }
        return ["paths": .object(paths)]
    }

    static func groupVersion(_ registry: ResourceRegistry, path: String) -> JSONValue? {
        guard let gv = registry.groupVersions.first(where: { gvPath($0.group, $0.version) == path }) else { return nil }
        var paths: [String: JSONValue] = [:]
        for r in registry.resources where r.group == gv.group && r.version == gv.version {
            let base = "/" + gvPath(r.group, r.version) + (r.namespaced ? "/namespaces/{namespace}/" : "/") + r.plural
            let gvk: JSONValue = ["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]
            func op(_ action: String, _ params: [String]) -> JSONValue {
                ["x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk,
                 "operationId": .string("\(action)\(r.kind)"),
                 "parameters": .array(params.map { ["name": .string($0), "in": "query", "schema": ["type": "string"]] }),
                 "responses": ["200": ["description": "OK"]]]
            }
            let writeParams = ["dryRun", "fieldManager", "fieldValidation"]
            var patch = op("patch", writeParams + ["force"])
            patch["requestBody"] = ["content": ["application/json-patch+json": ["schema": ["type": "object"]],
                                                "application/merge-patch+json": ["schema": ["type": "object"]],
                                                "application/apply-patch+yaml": ["schema": ["type": "object"]]]]
            paths[base] = ["get": op("list", ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"]),
                           "post": op("post", writeParams),
                           "delete": op("deletecollection", ["labelSelector", "fieldSelector"])]
            paths[base + "/{name}"] = ["get": op("get", []), "put": op("put", writeParams), "patch": patch,
                                       "delete": op("delete", ["gracePeriodSeconds", "propagationPolicy"])]
        }
        let resources = registry.resources.filter { $0.group == gv.group && $0.version == gv.version }
        var schemas = OpenAPISchemas.components(for: resources.filter { !$0.isCustom })
        for r in resources {
            if let custom = registry.custom(r) { schemas[OpenAPISchemas.schemaName(r)] = customSchema(custom) }
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0+netplane"],
                "paths": .object(paths), "components": ["schemas": .object(schemas)]]
    }

    /// A custom resource's schema as its CRD gives it, with the fields every object has, as
    /// kube-apiserver publishes it (what `kubectl explain` walks).
    static func customSchema(_ custom: CustomResource) -> JSONValue {
        let r = custom.resource
        var schema = custom.schema.json
        schema["properties"] = schema["properties"] ?? .emptyObject
        schema[path: ["properties", "apiVersion"]] = [
            "type": "string",
            "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.",
        ]
        schema[path: ["properties", "kind"]] = [
            "type": "string",
            "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to.",
        ]
        schema[path: ["properties", "metadata"]] = [
            "description": "Standard object's metadata.",
            "allOf": [["$ref": .string("#/components/schemas/\(OpenAPISchemas.schemaName("ObjectMeta"))")]],
        ]
        schema["x-kubernetes-group-version-kind"] = [["group": .string(r.group), "version": .string(r.version), "kind": .string(r.kind)]]
        return schema
    }

    /// An OpenAPI v2 `Document` in protobuf (gnostic's openapi_v2.proto): `swagger` (field 1)
    /// "2.0" and `info` (field 2) with `title` (1) and `version` (2); no paths, no definitions.
    static let emptyV2Protobuf: [UInt8] = {
        func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(bytes.count)] + bytes }
        let info = field(1, Array("Kubernetes".utf8)) + field(2, Array("v1.32.0+netplane".utf8))
        return field(1, Array("2.0".utf8)) + field(2, info)
    }()
}

/// `fieldValidation=Strict`: a request naming a field that its kind does not have is
/// refused (400), as kube-apiserver's strict decoding does. Checked are the top-level fields
/// of each kind and every field of `metadata`; below `spec` and `status` fields are kept as
/// given (Netplane stores objects as JSON trees and does not publish full schemas).
enum FieldValidation {
    static let objectMeta: Set<String> = [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
        "managedFields",
    ]

    static func topLevel(_ resource: ResourceType) -> Set<String> {
        let common: Set<String> = ["apiVersion", "kind", "metadata"]
        switch (resource.group, resource.kind) {
        case ("", "ConfigMap"): return common.union(["data", "binaryData", "immutable"])
        case ("", "Secret"): return common.union(["data", "stringData", "type", "immutable"])
        case ("", "Endpoints"): return common.union(["subsets"])
        case ("", "ServiceAccount"): return common.union(["secrets", "imagePullSecrets", "automountServiceAccountToken"])
        case ("", "Event"):
            return common.union(["involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
                                 "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance"])
        case ("events.k8s.io", "Event"):
            return common.union(["eventTime", "series", "reportingController", "reportingInstance", "action", "reason", "regarding",
                                 "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp",
                                 "deprecatedLastTimestamp", "deprecatedCount"])
        case ("discovery.k8s.io", "EndpointSlice"): return common.union(["addressType", "endpoints", "ports"])
        case ("apps", "ControllerRevision"): return common.union(["data", "revision"])
        case ("scheduling.k8s.io", "PriorityClass"): return common.union(["value", "globalDefault", "description", "preemptionPolicy"])
        case ("rbac.authorization.k8s.io", "Role"): return common.union(["rules"])
        case ("rbac.authorization.k8s.io", "ClusterRole"): return common.union(["rules", "aggregationRule"])
        case ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"):
            return common.union(["subjects", "roleRef"])
        case ("networking.k8s.io", "NetworkPolicy"), ("networking.k8s.io", "IngressClass"), ("coordination.k8s.io", "Lease"):
            return common.union(["spec"])
        default: return common.union(["spec", "status"])
        }
    }

    /// Fields the kind does not have: for a custom resource, everything its schema would
    /// prune (by full path), else top-level fields the kind lacks; and metadata's unknown keys.
    static func unknownFields(_ object: JSONValue, _ resource: ResourceType, schema: StructuralSchema? = nil) -> [String] {
        var unknown: [String] = []
        if let schema {
            unknown = schema.unknownFields(in: object)
        } else {
            for key in (object.objectValue ?? [:]).keys.sorted() where !topLevel(resource).contains(key) { unknown.append(key) }
        }
        for key in (object["metadata"]?.objectValue ?? [:]).keys.sorted() where !objectMeta.contains(key) {
            unknown.append("metadata.\(key)")
        }
        return unknown
    }

    static func check(_ object: JSONValue, _ resource: ResourceType, _ request: APIRequest,
                      schema: StructuralSchema? = nil) throws(APIError) {
        guard request.query["fieldValidation"] == "Strict" else { return }
        let unknown = unknownFields(object, resource, schema: schema)
        guard !unknown.isEmpty else { return }
        let list = unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
        throw .badRequest("\(resource.kind) in version \"\(resource.version)\" cannot be handled as a \(resource.kind): strict decoding error: \(list)")
    }
}
