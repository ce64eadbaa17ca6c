/// policy/v1 (PodDisruptionBudget, Eviction), scheduling.k8s.io/v1 (PriorityClass) and meta/v1
/// DeleteOptions, field numbers from k8s.io/api v0.36.3's generated.proto.
extension ProtobufSchemas {
    static let policyMessages: [MessageSchema] = [
        MessageSchema("k8s.io.api.policy.v1.PodDisruptionBudget", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.policy.v1.PodDisruptionBudgetSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.policy.v1.PodDisruptionBudgetStatus")),
        ]),
        MessageSchema("k8s.io.api.policy.v1.PodDisruptionBudgetList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.policy.v1.PodDisruptionBudget"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.policy.v1.PodDisruptionBudgetSpec", [
            FieldSchema(1, "minAvailable", .intOrString),
            FieldSchema(2, "selector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(3, "maxUnavailable", .intOrString),
            FieldSchema(4, "unhealthyPodEvictionPolicy", .string),
        ]),
        MessageSchema("k8s.io.api.policy.v1.PodDisruptionBudgetStatus", [
            FieldSchema(1, "observedGeneration", .int64),
            FieldSchema(2, "disruptedPods", .map(.time)),
            FieldSchema(3, "disruptionsAllowed", .int32),
            FieldSchema(4, "currentHealthy", .int32),
            FieldSchema(5, "desiredHealthy", .int32),
            FieldSchema(6, "expectedPods", .int32),
            FieldSchema(7, "conditions", .message("k8s.io.apimachinery.pkg.apis.meta.v1.Condition"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.policy.v1.Eviction", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "deleteOptions", .message("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions")),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions", [
            FieldSchema(1, "gracePeriodSeconds", .int64),
            FieldSchema(2, "preconditions", .message("k8s.io.apimachinery.pkg.apis.meta.v1.Preconditions")),
            FieldSchema(3, "orphanDependents", .bool),
            FieldSchema(4, "propagationPolicy", .string),
            FieldSchema(5, "dryRun", .string, repeated: true),
            FieldSchema(6, "ignoreStoreReadErrorWithClusterBreakingPotential", .bool),
        ]),
        MessageSchema("k8s.io.apimachinery.pkg.apis.meta.v1.Preconditions", [
            FieldSchema(1, "uid", .string),
            FieldSchema(2, "resourceVersion", .string),
        ]),
        MessageSchema("k8s.io.api.scheduling.v1.PriorityClass", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "value", .int32),
            FieldSchema(3, "globalDefault", .bool),
            FieldSchema(4, "description", .string),
            FieldSchema(5, "preemptionPolicy", .string),
        ]),
        MessageSchema("k8s.io.api.scheduling.v1.PriorityClassList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.scheduling.v1.PriorityClass"), repeated: true),
        ]),
    ]
}
