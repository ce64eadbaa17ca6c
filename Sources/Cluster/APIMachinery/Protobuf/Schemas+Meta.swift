/// Facts from k8s.io/apimachinery v0.36.3: pkg/apis/meta/v1/generated.proto and pkg/runtime/generated.proto.
/// Fields are listed by number. Special types: meta/v1 Time, MicroTime, Duration and runtime.RawExtension
/// use their FieldType cases; FieldsV1 ({bytes Raw = 1}, raw JSON) is carried as .rawExtension.
/// A json name "" marks an inline (embedded, json:",inline") message: its fields merge into the parent.
extension ProtobufSchemas {
    static let metaMessages: [MessageSchema] = [
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "generateName", .string),
            FieldSchema(3, "namespace", .string),
            FieldSchema(4, "selfLink", .string),
            FieldSchema(5, "uid", .string),
            FieldSchema(6, "resourceVersion", .string),
            FieldSchema(7, "generation", .int64),
            FieldSchema(8, "creationTimestamp", .time),
            FieldSchema(9, "deletionTimestamp", .time),
            FieldSchema(10, "deletionGracePeriodSeconds", .int64),
            FieldSchema(11, "labels", .map(.string)),
            FieldSchema(12, "annotations", .map(.string)),
            FieldSchema(13, "ownerReferences", .message("k8s.io.apimachinery.pkg.apis.meta.v1.OwnerReference"), repeated: true),
            FieldSchema(14, "finalizers", .string, repeated: true),
            FieldSchema(17, "managedFields", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry"), repeated: true),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.OwnerReference", [
            FieldSchema(1, "kind", .string),
            FieldSchema(3, "name", .string),
            FieldSchema(4, "uid", .string),
            FieldSchema(5, "apiVersion", .string),
            FieldSchema(6, "controller", .bool),
            FieldSchema(7, "blockOwnerDeletion", .bool),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry", [
            FieldSchema(1, "manager", .string),
            FieldSchema(2, "operation", .string),
            FieldSchema(3, "apiVersion", .string),
            FieldSchema(4, "time", .time),
            FieldSchema(6, "fieldsType", .string),
            FieldSchema(7, "fieldsV1", .rawExtension), // FieldsV1 ({bytes Raw = 1}, raw JSON): carried as a RawExtension
            FieldSchema(8, "subresource", .string),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta", [
            FieldSchema(1, "selfLink", .string),
            FieldSchema(2, "resourceVersion", .string),
            FieldSchema(3, "continue", .string),
            FieldSchema(4, "remainingItemCount", .int64),
            FieldSchema(5, "shardInfo", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ShardInfo")),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector", [
            FieldSchema(1, "matchLabels", .map(.string)),
            FieldSchema(2, "matchExpressions", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement"), repeated: true),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", [
            FieldSchema(1, "key", .string),
            FieldSchema(2, "operator", .string),
            FieldSchema(3, "values", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.Condition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "observedGeneration", .int64),
            FieldSchema(4, "lastTransitionTime", .time),
            FieldSchema(5, "reason", .string),
            FieldSchema(6, "message", .string),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.Status", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "message", .string),
            FieldSchema(4, "reason", .string),
            FieldSchema(5, "details", .message("k8s.io.apimachinery.pkg.apis.meta.v1.StatusDetails")),
            FieldSchema(6, "code", .int32),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.StatusDetails", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "group", .string),
            FieldSchema(3, "kind", .string),
            FieldSchema(4, "causes", .message("k8s.io.apimachinery.pkg.apis.meta.v1.StatusCause"), repeated: true),
            FieldSchema(5, "retryAfterSeconds", .int32),
            FieldSchema(6, "uid", .string),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.StatusCause", [
            FieldSchema(1, "reason", .string),
            FieldSchema(2, "message", .string),
            FieldSchema(3, "field", .string),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "object", .rawExtension),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.TypeMeta", [
            FieldSchema(1, "kind", .string),
            FieldSchema(2, "apiVersion", .string),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.runtime.Unknown", [
            FieldSchema(1, "", .message("k8s.io.apimachinery.pkg.runtime.TypeMeta")), // TypeMeta is inline (json ",inline")
            FieldSchema(2, "raw", .bytes), // Go: json:"-"; the proto name
            FieldSchema(3, "contentEncoding", .string), // no Go json tag; the proto name
            FieldSchema(4, "contentType", .string), // no Go json tag; the proto name
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.runtime.TypeMeta", [
            FieldSchema(1, "apiVersion", .string),
            FieldSchema(2, "kind", .string),
        ]),
        // Reached from the messages above.
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.ShardInfo", [
            FieldSchema(1, "selector", .string),
        ]),
    ]
}
