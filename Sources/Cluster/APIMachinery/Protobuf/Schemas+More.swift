/// Facts from k8s.io/api v0.36.3: core/v1, apps/v1, networking/v1, events/v1, certificates/v1 and authentication/v1 generated.proto
/// (with the Go json tags of their types.go). Fields are listed by number. ResourceList (map<string, Quantity>)
/// fields are .map(.quantity). CertificateSigningRequestSpec.extra is map<string, ExtraValue>, where ExtraValue
/// ({repeated string items = 1}) is a plain JSON array of strings: .map(.stringList), no ExtraValue message.
extension ProtobufSchemas {
    static let moreMessages: [MessageSchema] = [
        // core/v1 Node.
        MessageSchema("k8s.io.api.core.v1.Node", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.core.v1.NodeSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.core.v1.NodeStatus")),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeSpec", [
            FieldSchema(1, "podCIDR", .string),
            FieldSchema(2, "externalID", .string),
            FieldSchema(3, "providerID", .string),
            FieldSchema(4, "unschedulable", .bool),
            FieldSchema(5, "taints", .message("k8s.io.api.core.v1.Taint"), repeated: true),
            FieldSchema(6, "configSource", .message("k8s.io.api.core.v1.NodeConfigSource")),
            FieldSchema(7, "podCIDRs", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.api.core.v1.Taint", [
            FieldSchema(1, "key", .string),
            FieldSchema(2, "value", .string),
            FieldSchema(3, "effect", .string),
            FieldSchema(4, "timeAdded", .time),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeConfigSource", [
            FieldSchema(2, "configMap", .message("k8s.io.api.core.v1.ConfigMapNodeConfigSource")),
        ]),
        MessageSchema("k8s.io.api.core.v1.ConfigMapNodeConfigSource", [
            FieldSchema(1, "namespace", .string),
            FieldSchema(2, "name", .string),
            FieldSchema(3, "uid", .string),
            FieldSchema(4, "resourceVersion", .string),
            FieldSchema(5, "kubeletConfigKey", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeStatus", [
            FieldSchema(1, "capacity", .map(.quantity)),
            FieldSchema(2, "allocatable", .map(.quantity)),
            FieldSchema(3, "phase", .string),
            FieldSchema(4, "conditions", .message("k8s.io.api.core.v1.NodeCondition"), repeated: true),
            FieldSchema(5, "addresses", .message("k8s.io.api.core.v1.NodeAddress"), repeated: true),
            FieldSchema(6, "daemonEndpoints", .message("k8s.io.api.core.v1.NodeDaemonEndpoints")),
            FieldSchema(7, "nodeInfo", .message("k8s.io.api.core.v1.NodeSystemInfo")),
            FieldSchema(8, "images", .message("k8s.io.api.core.v1.ContainerImage"), repeated: true),
            FieldSchema(9, "volumesInUse", .string, repeated: true),
            FieldSchema(10, "volumesAttached", .message("k8s.io.api.core.v1.AttachedVolume"), repeated: true),
            FieldSchema(11, "config", .message("k8s.io.api.core.v1.NodeConfigStatus")),
            FieldSchema(12, "runtimeHandlers", .message("k8s.io.api.core.v1.NodeRuntimeHandler"), repeated: true),
            FieldSchema(13, "features", .message("k8s.io.api.core.v1.NodeFeatures")),
            FieldSchema(14, "declaredFeatures", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "lastHeartbeatTime", .time),
            FieldSchema(4, "lastTransitionTime", .time),
            FieldSchema(5, "reason", .string),
            FieldSchema(6, "message", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeAddress", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "address", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeDaemonEndpoints", [
            FieldSchema(1, "kubeletEndpoint", .message("k8s.io.api.core.v1.DaemonEndpoint")),
        ]),
        MessageSchema("k8s.io.api.core.v1.DaemonEndpoint", [
            FieldSchema(1, "Port", .int32), // Go json tag "Port" (capitalised upstream)
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeSystemInfo", [
            FieldSchema(1, "machineID", .string),
            FieldSchema(2, "systemUUID", .string),
            FieldSchema(3, "bootID", .string),
            FieldSchema(4, "kernelVersion", .string),
            FieldSchema(5, "osImage", .string),
            FieldSchema(6, "containerRuntimeVersion", .string),
            FieldSchema(7, "kubeletVersion", .string),
            FieldSchema(8, "kubeProxyVersion", .string),
            FieldSchema(9, "operatingSystem", .string),
            FieldSchema(10, "architecture", .string),
            FieldSchema(11, "swap", .message("k8s.io.api.core.v1.NodeSwapStatus")),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeSwapStatus", [
            FieldSchema(1, "capacity", .int64),
        ]),
        MessageSchema("k8s.io.api.core.v1.ContainerImage", [
            FieldSchema(1, "names", .string, repeated: true),
            FieldSchema(2, "sizeBytes", .int64),
        ]),
        MessageSchema("k8s.io.api.core.v1.AttachedVolume", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "devicePath", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeConfigStatus", [
            FieldSchema(1, "assigned", .message("k8s.io.api.core.v1.NodeConfigSource")),
            FieldSchema(2, "active", .message("k8s.io.api.core.v1.NodeConfigSource")),
            FieldSchema(3, "lastKnownGood", .message("k8s.io.api.core.v1.NodeConfigSource")),
            FieldSchema(4, "error", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeRuntimeHandler", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "features", .message("k8s.io.api.core.v1.NodeRuntimeHandlerFeatures")),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeRuntimeHandlerFeatures", [
            FieldSchema(1, "recursiveReadOnlyMounts", .bool),
            FieldSchema(2, "userNamespaces", .bool),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeFeatures", [
            FieldSchema(1, "supplementalGroupsPolicy", .bool),
        ]),
        MessageSchema("k8s.io.api.core.v1.NodeList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.core.v1.Node"), repeated: true),
        ]),
        // core/v1 PersistentVolumeClaim (PersistentVolumeClaimSpec is in Schemas+Core.swift).
        MessageSchema("k8s.io.api.core.v1.PersistentVolumeClaim", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.core.v1.PersistentVolumeClaimSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.core.v1.PersistentVolumeClaimStatus")),
        ]),
        MessageSchema("k8s.io.api.core.v1.PersistentVolumeClaimStatus", [
            FieldSchema(1, "phase", .string),
            FieldSchema(2, "accessModes", .string, repeated: true),
            FieldSchema(3, "capacity", .map(.quantity)),
            FieldSchema(4, "conditions", .message("k8s.io.api.core.v1.PersistentVolumeClaimCondition"), repeated: true),
            FieldSchema(5, "allocatedResources", .map(.quantity)),
            FieldSchema(7, "allocatedResourceStatuses", .map(.string)),
            FieldSchema(8, "currentVolumeAttributesClassName", .string),
            FieldSchema(9, "modifyVolumeStatus", .message("k8s.io.api.core.v1.ModifyVolumeStatus")),
        ]),
        MessageSchema("k8s.io.api.core.v1.PersistentVolumeClaimCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "lastProbeTime", .time),
            FieldSchema(4, "lastTransitionTime", .time),
            FieldSchema(5, "reason", .string),
            FieldSchema(6, "message", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.ModifyVolumeStatus", [
            FieldSchema(1, "targetVolumeAttributesClassName", .string),
            FieldSchema(2, "status", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.PersistentVolumeClaimList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.core.v1.PersistentVolumeClaim"), repeated: true),
        ]),
        // core/v1 ReplicationController.
        MessageSchema("k8s.io.api.core.v1.ReplicationController", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.core.v1.ReplicationControllerSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.core.v1.ReplicationControllerStatus")),
        ]),
        MessageSchema("k8s.io.api.core.v1.ReplicationControllerSpec", [
            FieldSchema(1, "replicas", .int32),
            FieldSchema(2, "selector", .map(.string)),
            FieldSchema(3, "template", .message("k8s.io.api.core.v1.PodTemplateSpec")),
            FieldSchema(4, "minReadySeconds", .int32),
        ]),
        MessageSchema("k8s.io.api.core.v1.ReplicationControllerStatus", [
            FieldSchema(1, "replicas", .int32),
            FieldSchema(2, "fullyLabeledReplicas", .int32),
            FieldSchema(3, "observedGeneration", .int64),
            FieldSchema(4, "readyReplicas", .int32),
            FieldSchema(5, "availableReplicas", .int32),
            FieldSchema(6, "conditions", .message("k8s.io.api.core.v1.ReplicationControllerCondition"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.core.v1.ReplicationControllerCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "lastTransitionTime", .time),
            FieldSchema(4, "reason", .string),
            FieldSchema(5, "message", .string),
        ]),
        MessageSchema("k8s.io.api.core.v1.ReplicationControllerList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.core.v1.ReplicationController"), repeated: true),
        ]),
        // networking.k8s.io/v1 NetworkPolicy.
        MessageSchema("k8s.io.api.networking.v1.NetworkPolicy", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.networking.v1.NetworkPolicySpec")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.NetworkPolicySpec", [
            FieldSchema(1, "podSelector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(2, "ingress", .message("k8s.io.api.networking.v1.NetworkPolicyIngressRule"), repeated: true),
            FieldSchema(3, "egress", .message("k8s.io.api.networking.v1.NetworkPolicyEgressRule"), repeated: true),
            FieldSchema(4, "policyTypes", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.NetworkPolicyIngressRule", [
            FieldSchema(1, "ports", .message("k8s.io.api.networking.v1.NetworkPolicyPort"), repeated: true),
            FieldSchema(2, "from", .message("k8s.io.api.networking.v1.NetworkPolicyPeer"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.NetworkPolicyPort", [
            FieldSchema(1, "protocol", .string),
            FieldSchema(2, "port", .intOrString),
            FieldSchema(3, "endPort", .int32),
        ]),
        MessageSchema("k8s.io.api.networking.v1.NetworkPolicyPeer", [
            FieldSchema(1, "podSelector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(2, "namespaceSelector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(3, "ipBlock", .message("k8s.io.api.networking.v1.IPBlock")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IPBlock", [
            FieldSchema(1, "cidr", .string),
            FieldSchema(2, "except", .string, repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.NetworkPolicyEgressRule", [
            FieldSchema(1, "ports", .message("k8s.io.api.networking.v1.NetworkPolicyPort"), repeated: true),
            FieldSchema(2, "to", .message("k8s.io.api.networking.v1.NetworkPolicyPeer"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.networking.v1.NetworkPolicyList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.networking.v1.NetworkPolicy"), repeated: true),
        ]),
        // networking.k8s.io/v1 IngressClass.
        MessageSchema("k8s.io.api.networking.v1.IngressClass", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.networking.v1.IngressClassSpec")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressClassSpec", [
            FieldSchema(1, "controller", .string),
            FieldSchema(2, "parameters", .message("k8s.io.api.networking.v1.IngressClassParametersReference")),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressClassParametersReference", [
            FieldSchema(1, "apiGroup", .string), // proto name aPIGroup; Go json tag "apiGroup"
            FieldSchema(2, "kind", .string),
            FieldSchema(3, "name", .string),
            FieldSchema(4, "scope", .string),
            FieldSchema(5, "namespace", .string),
        ]),
        MessageSchema("k8s.io.api.networking.v1.IngressClassList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.networking.v1.IngressClass"), repeated: true),
        ]),
        // apps/v1 DaemonSet.
        MessageSchema("k8s.io.api.apps.v1.DaemonSet", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.apps.v1.DaemonSetSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.apps.v1.DaemonSetStatus")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DaemonSetSpec", [
            FieldSchema(1, "selector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(2, "template", .message("k8s.io.api.core.v1.PodTemplateSpec")),
            FieldSchema(3, "updateStrategy", .message("k8s.io.api.apps.v1.DaemonSetUpdateStrategy")),
            FieldSchema(4, "minReadySeconds", .int32),
            FieldSchema(6, "revisionHistoryLimit", .int32),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DaemonSetUpdateStrategy", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "rollingUpdate", .message("k8s.io.api.apps.v1.RollingUpdateDaemonSet")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.RollingUpdateDaemonSet", [
            FieldSchema(1, "maxUnavailable", .intOrString),
            FieldSchema(2, "maxSurge", .intOrString),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DaemonSetStatus", [
            FieldSchema(1, "currentNumberScheduled", .int32),
            FieldSchema(2, "numberMisscheduled", .int32),
            FieldSchema(3, "desiredNumberScheduled", .int32),
            FieldSchema(4, "numberReady", .int32),
            FieldSchema(5, "observedGeneration", .int64),
            FieldSchema(6, "updatedNumberScheduled", .int32),
            FieldSchema(7, "numberAvailable", .int32),
            FieldSchema(8, "numberUnavailable", .int32),
            FieldSchema(9, "collisionCount", .int32),
            FieldSchema(10, "conditions", .message("k8s.io.api.apps.v1.DaemonSetCondition"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DaemonSetCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "lastTransitionTime", .time),
            FieldSchema(4, "reason", .string),
            FieldSchema(5, "message", .string),
        ]),
        MessageSchema("k8s.io.api.apps.v1.DaemonSetList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.apps.v1.DaemonSet"), repeated: true),
        ]),
        // apps/v1 StatefulSet.
        MessageSchema("k8s.io.api.apps.v1.StatefulSet", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.apps.v1.StatefulSetSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.apps.v1.StatefulSetStatus")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.StatefulSetSpec", [
            FieldSchema(1, "replicas", .int32),
            FieldSchema(2, "selector", .message("k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector")),
            FieldSchema(3, "template", .message("k8s.io.api.core.v1.PodTemplateSpec")),
            FieldSchema(4, "volumeClaimTemplates", .message("k8s.io.api.core.v1.PersistentVolumeClaim"), repeated: true),
            FieldSchema(5, "serviceName", .string),
            FieldSchema(6, "podManagementPolicy", .string),
            FieldSchema(7, "updateStrategy", .message("k8s.io.api.apps.v1.StatefulSetUpdateStrategy")),
            FieldSchema(8, "revisionHistoryLimit", .int32),
            FieldSchema(9, "minReadySeconds", .int32),
            FieldSchema(10, "persistentVolumeClaimRetentionPolicy", .message("k8s.io.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy")),
            FieldSchema(11, "ordinals", .message("k8s.io.api.apps.v1.StatefulSetOrdinals")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.StatefulSetUpdateStrategy", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "rollingUpdate", .message("k8s.io.api.apps.v1.RollingUpdateStatefulSetStrategy")),
        ]),
        MessageSchema("k8s.io.api.apps.v1.RollingUpdateStatefulSetStrategy", [
            FieldSchema(1, "partition", .int32),
            FieldSchema(2, "maxUnavailable", .intOrString),
        ]),
        MessageSchema("k8s.io.api.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy", [
            FieldSchema(1, "whenDeleted", .string),
            FieldSchema(2, "whenScaled", .string),
        ]),
        MessageSchema("k8s.io.api.apps.v1.StatefulSetOrdinals", [
            FieldSchema(1, "start", .int32),
        ]),
        MessageSchema("k8s.io.api.apps.v1.StatefulSetStatus", [
            FieldSchema(1, "observedGeneration", .int64),
            FieldSchema(2, "replicas", .int32),
            FieldSchema(3, "readyReplicas", .int32),
            FieldSchema(4, "currentReplicas", .int32),
            FieldSchema(5, "updatedReplicas", .int32),
            FieldSchema(6, "currentRevision", .string),
            FieldSchema(7, "updateRevision", .string),
            FieldSchema(9, "collisionCount", .int32),
            FieldSchema(10, "conditions", .message("k8s.io.api.apps.v1.StatefulSetCondition"), repeated: true),
            FieldSchema(11, "availableReplicas", .int32),
        ]),
        MessageSchema("k8s.io.api.apps.v1.StatefulSetCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "status", .string),
            FieldSchema(3, "lastTransitionTime", .time),
            FieldSchema(4, "reason", .string),
            FieldSchema(5, "message", .string),
        ]),
        MessageSchema("k8s.io.api.apps.v1.StatefulSetList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.apps.v1.StatefulSet"), repeated: true),
        ]),
        // apps/v1 ControllerRevision.
        MessageSchema("k8s.io.api.apps.v1.ControllerRevision", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "data", .rawExtension),
            FieldSchema(3, "revision", .int64),
        ]),
        MessageSchema("k8s.io.api.apps.v1.ControllerRevisionList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.apps.v1.ControllerRevision"), repeated: true),
        ]),
        // events.k8s.io/v1 Event (core ObjectReference and EventSource are in Schemas+Core.swift).
        MessageSchema("k8s.io.api.events.v1.Event", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "eventTime", .microTime),
            FieldSchema(3, "series", .message("k8s.io.api.events.v1.EventSeries")),
            FieldSchema(4, "reportingController", .string),
            FieldSchema(5, "reportingInstance", .string),
            FieldSchema(6, "action", .string),
            FieldSchema(7, "reason", .string),
            FieldSchema(8, "regarding", .message("k8s.io.api.core.v1.ObjectReference")),
            FieldSchema(9, "related", .message("k8s.io.api.core.v1.ObjectReference")),
            FieldSchema(10, "note", .string),
            FieldSchema(11, "type", .string),
            FieldSchema(12, "deprecatedSource", .message("k8s.io.api.core.v1.EventSource")),
            FieldSchema(13, "deprecatedFirstTimestamp", .time),
            FieldSchema(14, "deprecatedLastTimestamp", .time),
            FieldSchema(15, "deprecatedCount", .int32),
        ]),
        MessageSchema("k8s.io.api.events.v1.EventSeries", [
            FieldSchema(1, "count", .int32),
            FieldSchema(2, "lastObservedTime", .microTime),
        ]),
        MessageSchema("k8s.io.api.events.v1.EventList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.events.v1.Event"), repeated: true),
        ]),
        // certificates.k8s.io/v1 CertificateSigningRequest.
        MessageSchema("k8s.io.api.certificates.v1.CertificateSigningRequest", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "spec", .message("k8s.io.api.certificates.v1.CertificateSigningRequestSpec")),
            FieldSchema(3, "status", .message("k8s.io.api.certificates.v1.CertificateSigningRequestStatus")),
        ]),
        MessageSchema("k8s.io.api.certificates.v1.CertificateSigningRequestSpec", [
            FieldSchema(1, "request", .bytes),
            FieldSchema(2, "username", .string),
            FieldSchema(3, "uid", .string),
            FieldSchema(4, "groups", .string, repeated: true),
            FieldSchema(5, "usages", .string, repeated: true),
            FieldSchema(6, "extra", .map(.stringList)), // map<string, ExtraValue>; ExtraValue is a JSON array of strings
            FieldSchema(7, "signerName", .string),
            FieldSchema(8, "expirationSeconds", .int32),
        ]),
        MessageSchema("k8s.io.api.certificates.v1.CertificateSigningRequestStatus", [
            FieldSchema(1, "conditions", .message("k8s.io.api.certificates.v1.CertificateSigningRequestCondition"), repeated: true),
            FieldSchema(2, "certificate", .bytes),
        ]),
        MessageSchema("k8s.io.api.certificates.v1.CertificateSigningRequestCondition", [
            FieldSchema(1, "type", .string),
            FieldSchema(2, "reason", .string),
            FieldSchema(3, "message", .string),
            FieldSchema(4, "lastUpdateTime", .time),
            FieldSchema(5, "lastTransitionTime", .time),
            FieldSchema(6, "status", .string),
        ]),
        MessageSchema("k8s.io.api.certificates.v1.CertificateSigningRequestList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.certificates.v1.CertificateSigningRequest"), repeated: true),
        ]),
            // metrics.k8s.io/v1beta1 (`kubectl top`; k8s.io/metrics' generated.proto)
        MessageSchema("k8s.io.api.metrics.v1beta1.NodeMetrics", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "timestamp", .time),
            FieldSchema(3, "window", .duration),
            FieldSchema(4, "usage", .map(.quantity)),
        ]),
        MessageSchema("k8s.io.api.metrics.v1beta1.NodeMetricsList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.metrics.v1beta1.NodeMetrics"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.metrics.v1beta1.PodMetrics", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "timestamp", .time),
            FieldSchema(3, "window", .duration),
            FieldSchema(4, "containers", .message("k8s.io.api.metrics.v1beta1.ContainerMetrics"), repeated: true),
        ]),
        MessageSchema("k8s.io.api.metrics.v1beta1.ContainerMetrics", [
            FieldSchema(1, "name", .string),
            FieldSchema(2, "usage", .map(.quantity)),
        ]),
        MessageSchema("k8s.io.api.metrics.v1beta1.PodMetricsList", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta")),
            FieldSchema(2, "items", .message("k8s.io.api.metrics.v1beta1.PodMetrics"), repeated: true),
        ]),
            // authentication.k8s.io/v1 SelfSubjectReview (`kubectl auth whoami`)
        MessageSchema("k8s.io.api.authentication.v1.SelfSubjectReview", [
            FieldSchema(1, "metadata", .message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta")),
            FieldSchema(2, "status", .message("k8s.io.api.authentication.v1.SelfSubjectReviewStatus")),
        ]),
        MessageSchema("k8s.io.api.authentication.v1.SelfSubjectReviewStatus", [
            FieldSchema(1, "userInfo", .message("k8s.io.api.authentication.v1.UserInfo")),
        ]),
        MessageSchema("k8s.io.api.authentication.v1.UserInfo", [
            FieldSchema(1, "username", .string),
            FieldSchema(2, "uid", .string),
            FieldSchema(3, "groups", .string, repeated: true),
            FieldSchema(4, "extra", .map(.stringList)),
        ]),
    ]
}
