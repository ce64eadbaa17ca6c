/// Facts from k8s.io/api v0.36.3: rbac/v1 and authorization/v1 generated.proto (with the Go json tags of their
/// types.go; the field numbers are the same in v0.34.0), and meta/v1 FieldSelectorRequirement from
/// k8s.io/apimachinery's pkg/apis/meta/v1/generated.proto. Fields are listed by number.
/// SubjectAccessReviewSpec.extra is map<string, ExtraValue>, where ExtraValue ({repeated string items = 1}) is a
/// plain JSON array of strings: .map(.stringList), no ExtraValue message (as UserInfo.extra).
/// SubjectRulesReviewStatus.incomplete is a varint bool on the wire (its Go tag says "bytes,3,rep", the
/// .proto and generated.pb.go say bool).
extension ProtobufSchemas {
    static let rbacMessages: [MessageSchema] = [
        // rbac.authorization.k8s.io/v1
        MessageSchema("k8s.io.api.rbac.v1.Role", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "rules", .message("k8s.io.api.rbac.v1.PolicyRule"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.RoleList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.rbac.v1.Role"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.ClusterRole", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "rules", .message("k8s.io.api.rbac.v1.PolicyRule"), repeated: true),
            FieldSchema(3, "aggregationRule", .message("k8s.io.api.rbac.v1.AggregationRule")),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.ClusterRoleList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.rbac.v1.ClusterRole"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.RoleBinding", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "subjects", .message("k8s.io.api.rbac.v1.Subject"), repeated: true),
            FieldSchema(3, "roleRef", .message("k8s.io.api.rbac.v1.RoleRef")),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.RoleBindingList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.rbac.v1.RoleBinding"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.ClusterRoleBinding", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "subjects", .message("k8s.io.api.rbac.v1.Subject"), repeated: true),
            FieldSchema(3, "roleRef", .message("k8s.io.api.rbac.v1.RoleRef")),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.ClusterRoleBindingList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.rbac.v1.ClusterRoleBinding"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.PolicyRule", [
            FieldSchema(1, "verbs", .string, repeated: true),
            FieldSchema(2, "apiGroups", .string, repeated: true),
            FieldSchema(3, "resources", .string, repeated: true),
            FieldSchema(4, "resourceNames", .string, repeated: true),
            FieldSchema(5, "nonResourceURLs", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.Subject", [
            FieldSchema(1, "kind", .string),
            FieldSchema(2, "apiGroup", .string),
            FieldSchema(3, "name", .string),
            FieldSchema(4, "namespace", .string),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.RoleRef", [
            FieldSchema(1, "apiGroup", .string),
            FieldSchema(2, "kind", .string),
            FieldSchema(3, "name", .string),
        ]),
        MessageSchema("k8s.io.api.rbac.v1.AggregationRule", [
            FieldSchema(1, "clusterRoleSelectors", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector"), repeated: true),
        ]),
        // authorization.k8s.io/v1
        MessageSchema("k8s.io.api.authorization.v1.SelfSubjectAccessReview", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.authorization.v1.SelfSubjectAccessReviewSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.authorization.v1.SubjectAccessReviewStatus")),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.SelfSubjectAccessReviewSpec", [
            FieldSchema(1, "resourceAttributes", .message("k8s.io.api.authorization.v1.ResourceAttributes")),
            FieldSchema(2, "nonResourceAttributes", .message("k8s.io.api.authorization.v1.NonResourceAttributes")),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.SubjectAccessReview", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.authorization.v1.SubjectAccessReviewSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.authorization.v1.SubjectAccessReviewStatus")),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.LocalSubjectAccessReview", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.authorization.v1.SubjectAccessReviewSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.authorization.v1.SubjectAccessReviewStatus")),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.SubjectAccessReviewSpec", [
            FieldSchema(1, "resourceAttributes", .message("k8s.io.api.authorization.v1.ResourceAttributes")),
            FieldSchema(2, "nonResourceAttributes", .message("k8s.io.api.authorization.v1.NonResourceAttributes")),
            FieldSchema(3, "user", .string),
            FieldSchema(4, "groups", .string, repeated: true),
            FieldSchema(5, "extra", .map(.stringList)), // map<string, ExtraValue>; ExtraValue is a JSON array of strings
            FieldSchema(6, "uid", .string),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.ResourceAttributes", [
            FieldSchema(1, "namespace", .string),
            FieldSchema(2, "verb", .string),
            FieldSchema(3, "group", .string),
            FieldSchema(4, "version", .string),
            FieldSchema(5, "resource", .string),
            FieldSchema(6, "subresource", .string),
            FieldSchema(7, "name", .string),
            FieldSchema(8, "fieldSelector", .message("k8s.io.api.authorization.v1.FieldSelectorAttributes")),
            FieldSchema(9, "labelSelector", .message("k8s.io.api.authorization.v1.LabelSelectorAttributes")),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.FieldSelectorAttributes", [
            FieldSchema(1, "rawSelector", .string),
            FieldSchema(2, "requirements", .message("k8s.io.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.LabelSelectorAttributes", [
            FieldSchema(1, "rawSelector", .string),
            FieldSchema(2, "requirements", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.NonResourceAttributes", [
            FieldSchema(1, "path", .string),
            FieldSchema(2, "verb", .string),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.SubjectAccessReviewStatus", [
            FieldSchema(1, "allowed", .bool),
            FieldSchema(2, "reason", .string),
            FieldSchema(3, "evaluationError", .string),
            FieldSchema(4, "denied", .bool),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.SelfSubjectRulesReview", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.authorization.v1.SelfSubjectRulesReviewSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.authorization.v1.SubjectRulesReviewStatus")),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.SelfSubjectRulesReviewSpec", [
            FieldSchema(1, "namespace", .string),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.SubjectRulesReviewStatus", [
            FieldSchema(1, "resourceRules", .message("k8s.io.api.authorization.v1.ResourceRule"), repeated: true),
            FieldSchema(2, "nonResourceRules", .message("k8s.io.api.authorization.v1.NonResourceRule"), repeated: true),
            FieldSchema(3, "incomplete", .bool),
            FieldSchema(4, "evaluationError", .string),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.ResourceRule", [
            FieldSchema(1, "verbs", .string, repeated: true),
            FieldSchema(2, "apiGroups", .string, repeated: true),
            FieldSchema(3, "resources", .string, repeated: true),
            FieldSchema(4, "resourceNames", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.api.authorization.v1.NonResourceRule", [
            FieldSchema(1, "verbs", .string, repeated: true),
            FieldSchema(2, "nonResourceURLs", .string, repeated: true),
        ]),
        // meta/v1, reached from FieldSelectorAttributes (LabelSelectorRequirement is in Schemas+Meta.swift).
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement", [
            FieldSchema(1, "key", .string),
            FieldSchema(2, "operator", .string),
            FieldSchema(3, "values", .string, repeated: true),
        ]),
    ]
}
