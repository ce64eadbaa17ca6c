/// Facts from k8s.io/api v0.36.3: apps/v1, batch/v1, networking/v1, authentication/v1, discovery/v1 and coordination/v1 generated.proto.
/// Fields are listed by number. A json name "" marks an inline (embedded, json:",inline") message:
/// its fields merge into the parent object in JSON. IngressRule.ingressRuleValue (field 2) is such a
/// field: "http" appears directly in the rule's JSON.
extension ProtobufSchemas {
    static let workloadMessages: [MessageSchema] = [
        MessageSchema("k8s.io.api.apps.v1.Deployment", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.apps.v1.DeploymentSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.apps.v1.DeploymentStatus")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DeploymentSpec", [
            FieldSchema(1, "replicas", .int32),
            FieldSchema(2, "selector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(3, "template", .message("k8s.io.api.core.v1.PodTemplateSpec")),
            FieldSchema(4, "strategy", .message("k8s.io.api.apps.v1.DeploymentStrategy")),
            FieldSchema(5, "minReadySeconds", .int32),
            FieldSchema(6, "revisionHistoryLimit", .int32),
            FieldSchema(7, "paused", .bool),
            FieldSchema(9, "progressDeadlineSeconds", .int32),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DeploymentStrategy", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "rollingUpdate", .message("k8s.io.api.apps.v1.RollingUpdateDeployment")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.RollingUpdateDeployment", [
            FieldSchema(1, "maxUnavailable", .intOrString),
            FieldSchema(2, "maxSurge", .intOrString),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DeploymentStatus", [
            FieldSchema(1, "observedGeneration", .int64),
            FieldSchema(2, "replicas", .int32),
            FieldSchema(3, "updatedReplicas", .int32),
            FieldSchema(4, "availableReplicas", .int32),
            FieldSchema(5, "unavailableReplicas", .int32),
            FieldSchema(6, "conditions", .message("k8s.io.api.apps.v1.DeploymentCondition"), repeated: true),
            FieldSchema(7, "readyReplicas", .int32),
            FieldSchema(8, "collisionCount", .int32),
            FieldSchema(9, "terminatingReplicas", .int32),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DeploymentCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(4, "reason", .string),
            FieldSchema(5, "message", .string),
            FieldSchema(6, "lastUpdateTime", .time),
            FieldSchema(7, "lastTransitionTime", .time),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DeploymentList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.apps.v1.Deployment"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.apps.v1.ReplicaSet", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.apps.v1.ReplicaSetSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.apps.v1.ReplicaSetStatus")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.ReplicaSetSpec", [
            FieldSchema(1, "replicas", .int32),
            FieldSchema(2, "selector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(3, "template", .message("k8s.io.api.core.v1.PodTemplateSpec")),
            FieldSchema(4, "minReadySeconds", .int32),
        ]),
        MessageSchema("k8s.io.api.apps.v1.ReplicaSetStatus", [
            FieldSchema(1, "replicas", .int32),
            FieldSchema(2, "fullyLabeledReplicas", .int32),
            FieldSchema(3, "observedGeneration", .int64),
            FieldSchema(4, "readyReplicas", .int32),
            FieldSchema(5, "availableReplicas", .int32),
            FieldSchema(6, "conditions", .message("k8s.io.api.apps.v1.ReplicaSetCondition"), repeated: true),
            FieldSchema(7, "terminatingReplicas", .int32),
        ]),
        MessageSchema("k8s.io.api.apps.v1.ReplicaSetCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "lastTransitionTime", .time),
            FieldSchema(4, "reason", .string),
            FieldSchema(5, "message", .string),
        ]),
        MessageSchema("k8s.io.api.apps.v1.ReplicaSetList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.apps.v1.ReplicaSet"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.batch.v1.Job", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.batch.v1.JobSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.batch.v1.JobStatus")),
        ]),
        MessageSchema("k8s.io.api.batch.v1.JobSpec", [
            FieldSchema(1, "parallelism", .int32),
            FieldSchema(2, "completions", .int32),
            FieldSchema(3, "activeDeadlineSeconds", .int64),
            FieldSchema(4, "selector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(5, "manualSelector", .bool),
            FieldSchema(6, "template", .message("k8s.io.api.core.v1.PodTemplateSpec")),
            FieldSchema(7, "backoffLimit", .int32),
            FieldSchema(8, "ttlSecondsAfterFinished", .int32),
            FieldSchema(9, "completionMode", .string),
            FieldSchema(10, "suspend", .bool),
            FieldSchema(11, "podFailurePolicy", .message("k8s.io.api.batch.v1.PodFailurePolicy")),
            FieldSchema(12, "backoffLimitPerIndex", .int32),
            FieldSchema(13, "maxFailedIndexes", .int32),
            FieldSchema(14, "podReplacementPolicy", .string),
            FieldSchema(15, "managedBy", .string),
            FieldSchema(16, "successPolicy", .message("k8s.io.api.batch.v1.SuccessPolicy")),
        ]),
        MessageSchema("k8s.io.api.batch.v1.JobStatus", [
            FieldSchema(1, "conditions", .message("k8s.io.api.batch.v1.JobCondition"), repeated: true),
            FieldSchema(2, "startTime", .time),
            FieldSchema(3, "completionTime", .time),
            FieldSchema(4, "active", .int32),
            FieldSchema(5, "succeeded", .int32),
            FieldSchema(6, "failed", .int32),
            FieldSchema(7, "completedIndexes", .string),
            FieldSchema(8, "uncountedTerminatedPods", .message("k8s.io.api.batch.v1.UncountedTerminatedPods")),
            FieldSchema(9, "ready", .int32),
            FieldSchema(10, "failedIndexes", .string),
            FieldSchema(11, "terminating", .int32),
        ]),
        MessageSchema("k8s.io.api.batch.v1.JobCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "lastProbeTime", .time),
            FieldSchema(4, "lastTransitionTime", .time),
            FieldSchema(5, "reason", .string),
            FieldSchema(6, "message", .string),
        ]),
        MessageSchema("k8s.io.api.batch.v1.PodFailurePolicy", [
            FieldSchema(1, "rules", .message("k8s.io.api.batch.v1.PodFailurePolicyRule"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.batch.v1.PodFailurePolicyRule", [
            FieldSchema(1, "action", .string),
            FieldSchema(2, "onExitCodes", .message("k8s.io.api.batch.v1.PodFailurePolicyOnExitCodesRequirement")),
            FieldSchema(3, "onPodConditions", .message("k8s.io.api.batch.v1.PodFailurePolicyOnPodConditionsPattern"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.batch.v1.PodFailurePolicyOnExitCodesRequirement", [
            FieldSchema(1, "containerName", .string),
            FieldSchema(2, "operator", .string),
            FieldSchema(3, "values", .int32, repeated: true),
        ]),
        MessageSchema("k8s.io.api.batch.v1.PodFailurePolicyOnPodConditionsPattern", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
        ]),
        MessageSchema("k8s.io.api.batch.v1.SuccessPolicy", [
            FieldSchema(1, "rules", .message("k8s.io.api.batch.v1.SuccessPolicyRule"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.batch.v1.SuccessPolicyRule", [
            FieldSchema(1, "succeededIndexes", .string),
            FieldSchema(2, "succeededCount", .int32),
        ]),
        MessageSchema("k8s.io.api.batch.v1.UncountedTerminatedPods", [
            FieldSchema(1, "succeeded", .string, repeated: true),
            FieldSchema(2, "failed", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.api.batch.v1.JobTemplateSpec", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.batch.v1.JobSpec")),
        ]),
        MessageSchema("k8s.io.api.batch.v1.CronJob", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.batch.v1.CronJobSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.batch.v1.CronJobStatus")),
        ]),
        MessageSchema("k8s.io.api.batch.v1.CronJobSpec", [
            FieldSchema(1, "schedule", .string),
            FieldSchema(2, "startingDeadlineSeconds", .int64),
            FieldSchema(3, "concurrencyPolicy", .string),
            FieldSchema(4, "suspend", .bool),
            FieldSchema(5, "jobTemplate", .message("k8s.io.api.batch.v1.JobTemplateSpec")),
            FieldSchema(6, "successfulJobsHistoryLimit", .int32),
            FieldSchema(7, "failedJobsHistoryLimit", .int32),
            FieldSchema(8, "timeZone", .string),
        ]),
        MessageSchema("k8s.io.api.batch.v1.CronJobStatus", [
            FieldSchema(1, "active", .message("k8s.io.api.core.v1.ObjectReference"), repeated: true),
            FieldSchema(4, "lastScheduleTime", .time),
            FieldSchema(5, "lastSuccessfulTime", .time),
        ]),
        MessageSchema("k8s.io.api.batch.v1.JobList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.batch.v1.Job"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.batch.v1.CronJobList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.batch.v1.CronJob"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.Ingress", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.networking.v1.IngressSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.networking.v1.IngressStatus")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressSpec", [
            FieldSchema(1, "defaultBackend", .message("k8s.io.api.networking.v1.IngressBackend")),
            FieldSchema(2, "tls", .message("k8s.io.api.networking.v1.IngressTLS"), repeated: true),
            FieldSchema(3, "rules", .message("k8s.io.api.networking.v1.IngressRule"), repeated: true),
            FieldSchema(4, "ingressClassName", .string),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressBackend", [
            FieldSchema(3, "resource", .message("k8s.io.api.core.v1.TypedLocalObjectReference")),
            FieldSchema(4, "service", .message("k8s.io.api.networking.v1.IngressServiceBackend")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressServiceBackend", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "port", .message("k8s.io.api.networking.v1.ServiceBackendPort")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.ServiceBackendPort", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "number", .int32),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressRule", [
            FieldSchema(1, "host", .string),
            FieldSchema(2, "", .message("k8s.io.api.networking.v1.IngressRuleValue")), // IngressRuleValue, inline
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressRuleValue", [
            FieldSchema(1, "http", .message("k8s.io.api.networking.v1.HTTPIngressRuleValue")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.HTTPIngressRuleValue", [
            FieldSchema(1, "paths", .message("k8s.io.api.networking.v1.HTTPIngressPath"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.HTTPIngressPath", [
            FieldSchema(1, "path", .string),
            FieldSchema(2, "backend", .message("k8s.io.api.networking.v1.IngressBackend")),
            FieldSchema(3, "pathType", .string),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressTLS", [
            FieldSchema(1, "hosts", .string, repeated: true),
            FieldSchema(2, "secretName", .string),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressStatus", [
            FieldSchema(1, "loadBalancer", .message("k8s.io.api.networking.v1.IngressLoadBalancerStatus")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressLoadBalancerStatus", [
            FieldSchema(1, "ingress", .message("k8s.io.api.networking.v1.IngressLoadBalancerIngress"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressLoadBalancerIngress", [
            FieldSchema(1, "ip", .string),
            FieldSchema(2, "hostname", .string),
            FieldSchema(4, "ports", .message("k8s.io.api.networking.v1.IngressPortStatus"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressPortStatus", [
            FieldSchema(1, "port", .int32),
            FieldSchema(2, "protocol", .string),
            FieldSchema(3, "error", .string),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.networking.v1.Ingress"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.authentication.v1.TokenRequest", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.authentication.v1.TokenRequestSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.authentication.v1.TokenRequestStatus")),
        ]),
        MessageSchema("k8s.io.api.authentication.v1.TokenRequestSpec", [
            FieldSchema(1, "audiences", .string, repeated: true),
            FieldSchema(3, "boundObjectRef", .message("k8s.io.api.authentication.v1.BoundObjectReference")),
            FieldSchema(4, "expirationSeconds", .int64),
        ]),
        MessageSchema("k8s.io.api.authentication.v1.BoundObjectReference", [
            FieldSchema(1, "kind", .string),
            FieldSchema(2, "apiVersion", .string),
            FieldSchema(3, "name", .string),
            FieldSchema(4, "uid", .string), // proto name uID; Go json tag "uid"
        ]),
        MessageSchema("k8s.io.api.authentication.v1.TokenRequestStatus", [
            FieldSchema(1, "token", .string),
            FieldSchema(2, "expirationTimestamp", .time),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.EndpointSlice", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "endpoints", .message("k8s.io.api.discovery.v1.Endpoint"), repeated: true),
            FieldSchema(3, "ports", .message("k8s.io.api.discovery.v1.EndpointPort"), repeated: true),
            FieldSchema(4, "addressType", .string),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.Endpoint", [
            FieldSchema(1, "addresses", .string, repeated: true),
            FieldSchema(2, "conditions", .message("k8s.io.api.discovery.v1.EndpointConditions")),
            FieldSchema(3, "hostname", .string),
            FieldSchema(4, "targetRef", .message("k8s.io.api.core.v1.ObjectReference")),
            FieldSchema(5, "deprecatedTopology", .map(.string)),
            FieldSchema(6, "nodeName", .string),
            FieldSchema(7, "zone", .string),
            FieldSchema(8, "hints", .message("k8s.io.api.discovery.v1.EndpointHints")),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.EndpointConditions", [
            FieldSchema(1, "ready", .bool),
            FieldSchema(2, "serving", .bool),
            FieldSchema(3, "terminating", .bool),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.EndpointHints", [
            FieldSchema(1, "forZones", .message("k8s.io.api.discovery.v1.ForZone"), repeated: true),
            FieldSchema(2, "forNodes", .message("k8s.io.api.discovery.v1.ForNode"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.ForZone", [
            FieldSchema(1, "name", .string),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.ForNode", [
            FieldSchema(1, "name", .string),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.EndpointPort", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "protocol", .string),
            FieldSchema(3, "port", .int32),
            FieldSchema(4, "appProtocol", .string),
        ]),
        MessageSchema("k8s.io.api.discovery.v1.EndpointSliceList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.discovery.v1.EndpointSlice"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.coordination.v1.Lease", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.coordination.v1.LeaseSpec")),
        ]),
        MessageSchema("k8s.io.api.coordination.v1.LeaseSpec", [
            FieldSchema(1, "holderIdentity", .string),
            FieldSchema(2, "leaseDurationSeconds", .int32),
            FieldSchema(3, "acquireTime", .microTime),
            FieldSchema(4, "renewTime", .microTime),
            FieldSchema(5, "leaseTransitions", .int32),
            FieldSchema(6, "strategy", .string),
            FieldSchema(7, "preferredHolder", .string),
        ]),
        MessageSchema("k8s.io.api.coordination.v1.LeaseList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.coordination.v1.Lease"), repeated: true),
        ]),
    ]
}
