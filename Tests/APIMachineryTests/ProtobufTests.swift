import APIMachinery
import JSON
import ProtobufWire
import Testing

/// The protobuf codec against the schema tables: every served kind that has a schema goes
/// JSON → protobuf → JSON unchanged, and the special types keep their JSON forms.
@Suite struct ProtobufTests {
    static func json(_ text: String) -> JSONValue { try! JSONValue.parse(text) }

    static let meta = #""metadata":{"name":"x","namespace":"default","uid":"8d5f0d7e-1","resourceVersion":"42","generation":3,"creationTimestamp":"2026-12-06T08:00:00Z","labels":{"app":"web","tier":"front"},"annotations":{"note":"hi"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-1","uid":"u-1","controller":true,"blockOwnerDeletion":true}],"finalizers":["example.com/keep"]}"#

    /// One object of each kind, with the fields that exercise each special type.
    static let objects: [String] = [
        #"{"apiVersion":"v1","kind":"Namespace",\#(meta),"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}"#,
        #"{"apiVersion":"v1","kind":"ConfigMap",\#(meta),"data":{"color":"blue","size":""},"binaryData":{"blob":"AAEC/w=="},"immutable":false}"#,
        #"{"apiVersion":"v1","kind":"Secret",\#(meta),"type":"Opaque","data":{"password":"c2VjcmV0"}}"#,
        #"{"apiVersion":"v1","kind":"ServiceAccount",\#(meta),"automountServiceAccountToken":false}"#,
        #"{"apiVersion":"v1","kind":"Service",\#(meta),"spec":{"type":"NodePort","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080},{"name":"dns","protocol":"UDP","port":53,"targetPort":"dns"}],"selector":{"app":"web"},"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":600}},"externalTrafficPolicy":"Local","ipFamilies":["IPv4"]},"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.8"}]}}}"#,
        #"{"apiVersion":"apps/v1","kind":"Deployment",\#(meta),"spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["front"]}]},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx:1.25","args":["-g","daemon off;"],"ports":[{"containerPort":80,"protocol":"TCP"}],"env":[{"name":"A","value":"1"},{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],"resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"100m"}},"readinessProbe":{"httpGet":{"path":"/","port":"http"},"periodSeconds":5},"livenessProbe":{"tcpSocket":{"port":80}}}],"volumes":[{"name":"data","emptyDir":{"sizeLimit":"1Gi"}},{"name":"cfg","configMap":{"name":"settings","defaultMode":420}}],"terminationGracePeriodSeconds":30,"tolerations":[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}}},"status":{"replicas":2,"conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-12-06T08:00:00Z","lastTransitionTime":"2026-12-06T08:00:00Z","reason":"MinimumReplicasAvailable"}]}}"#,
        #"{"apiVersion":"batch/v1","kind":"Job",\#(meta),"spec":{"completions":3,"parallelism":2,"backoffLimit":4,"completionMode":"Indexed","template":{"spec":{"restartPolicy":"Never","containers":[{"name":"job","image":"busybox","command":["sh","-c","true"]}]}}}}"#,
        #"{"apiVersion":"batch/v1","kind":"CronJob",\#(meta),"spec":{"schedule":"*/5 * * * *","timeZone":"Europe/Paris","concurrencyPolicy":"Forbid","jobTemplate":{"spec":{"template":{"spec":{"restartPolicy":"OnFailure","containers":[{"name":"c","image":"busybox"}]}}}}}}"#,
        #"{"apiVersion":"networking.k8s.io/v1","kind":"Ingress",\#(meta),"spec":{"ingressClassName":"nginx","rules":[{"host":"shop.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}}]}}],"tls":[{"hosts":["shop.example.com"],"secretName":"tls"}]}}"#,
        #"{"apiVersion":"coordination.k8s.io/v1","kind":"Lease",\#(meta),"spec":{"holderIdentity":"node1","leaseDurationSeconds":40,"renewTime":"2026-12-06T08:00:00.123456Z"}}"#,
        #"{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",\#(meta),"addressType":"IPv4","endpoints":[{"addresses":["10.244.1.2"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node1","zone":"a"}],"ports":[{"name":"http","protocol":"TCP","port":8080}]}"#,
        #"{"apiVersion":"v1","kind":"Event",\#(meta),"involvedObject":{"kind":"Pod","name":"web-1","namespace":"default"},"reason":"Started","message":"Started container","type":"Normal","count":2,"firstTimestamp":"2026-12-06T08:00:00Z","eventTime":"2026-12-06T08:00:00.500000Z","reportingComponent":"kubelet"}"#,
        #"{"apiVersion":"events.k8s.io/v1","kind":"Event",\#(meta),"eventTime":"2026-12-06T08:00:00.250000Z","series":{"count":3,"lastObservedTime":"2026-12-06T08:01:00.000001Z"},"reportingController":"kubelet","reportingInstance":"node1","action":"Pull","reason":"Pulled","regarding":{"kind":"Pod","name":"web-1","namespace":"default","uid":"u-2"},"note":"Pulled image","type":"Normal","deprecatedSource":{"component":"kubelet","host":"node1"},"deprecatedCount":1}"#,
        #"{"apiVersion":"v1","kind":"Node",\#(meta),"spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"],"taints":[{"key":"node-role.kubernetes.io/control-plane","effect":"NoSchedule"}],"unschedulable":true},"status":{"capacity":{"cpu":"2","memory":"4Gi","pods":"110"},"allocatable":{"cpu":"1900m"},"conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-12-06T08:00:00Z","lastTransitionTime":"2026-12-06T07:00:00Z","reason":"KubeletReady","message":"ready"}],"addresses":[{"type":"InternalIP","address":"198.18.0.11"},{"type":"Hostname","address":"node1"}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"machineID":"m","systemUUID":"s","bootID":"b","kernelVersion":"6.1","osImage":"Debian","containerRuntimeVersion":"runc://1.1","kubeletVersion":"v1.32.0","operatingSystem":"linux","architecture":"amd64"},"images":[{"names":["nginx:1.25"],"sizeBytes":70000000}]}}"#,
        #"{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",\#(meta),"spec":{"podSelector":{"matchLabels":{"app":"web"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"role":"frontend"}},"namespaceSelector":{}},{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}],"ports":[{"protocol":"TCP","port":"http"},{"protocol":"UDP","port":53,"endPort":60}]}],"egress":[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0"}}]}],"policyTypes":["Ingress","Egress"]}}"#,
        #"{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass",\#(meta),"spec":{"controller":"netplane.io/ingress","parameters":{"apiGroup":"example.com","kind":"Params","name":"p","scope":"Namespace","namespace":"default"}}}"#,
        #"{"apiVersion":"apps/v1","kind":"DaemonSet",\#(meta),"spec":{"selector":{"matchLabels":{"app":"agent"}},"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"hostNetwork":true,"containers":[{"name":"agent","image":"netplane:1"}]}},"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}}},"status":{"currentNumberScheduled":2,"numberMisscheduled":0,"desiredNumberScheduled":2,"numberReady":2}}"#,
        #"{"apiVersion":"apps/v1","kind":"StatefulSet",\#(meta),"spec":{"replicas":3,"serviceName":"db","selector":{"matchLabels":{"app":"db"}},"template":{"metadata":{"labels":{"app":"db"}},"spec":{"containers":[{"name":"db","image":"postgres:16"}]}},"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}],"podManagementPolicy":"Parallel","persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Retain"},"ordinals":{"start":1}},"status":{"replicas":3,"readyReplicas":3,"currentRevision":"db-1"}}"#,
        #"{"apiVersion":"apps/v1","kind":"ControllerRevision",\#(meta),"data":{"spec":{"template":{"spec":{"containers":[{"name":"db"}]}}}},"revision":2}"#,
        #"{"apiVersion":"v1","kind":"PersistentVolumeClaim",\#(meta),"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"5Gi"}},"storageClassName":"local","volumeName":"pv1"},"status":{"phase":"Bound","accessModes":["ReadWriteOnce"],"capacity":{"storage":"5Gi"},"conditions":[{"type":"Resizing","status":"False","lastTransitionTime":"2026-12-06T08:00:00Z"}]}}"#,
        #"{"apiVersion":"v1","kind":"PersistentVolume",\#(meta),"spec":{"capacity":{"storage":"5Gi"},"hostPath":{"path":"/srv/pv1","type":"DirectoryOrCreate"},"accessModes":["ReadWriteOnce"],"claimRef":{"kind":"PersistentVolumeClaim","namespace":"default","name":"data"},"persistentVolumeReclaimPolicy":"Retain","nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["node1"]}]}]}}},"status":{"phase":"Bound","lastPhaseTransitionTime":"2026-12-06T08:00:00Z"}}"#,
        #"{"apiVersion":"v1","kind":"PersistentVolume",\#(meta),"spec":{"capacity":{"storage":"10Gi"},"csi":{"driver":"ebs.csi.aws.com","volumeHandle":"vol-1","fsType":"ext4","volumeAttributes":{"type":"gp3"},"nodePublishSecretRef":{"name":"s","namespace":"kube-system"}},"accessModes":["ReadWriteOncePod"],"volumeMode":"Filesystem"}}"#,
        #"{"apiVersion":"v1","kind":"ReplicationController",\#(meta),"spec":{"replicas":2,"selector":{"app":"legacy"},"template":{"metadata":{"labels":{"app":"legacy"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}},"status":{"replicas":2,"fullyLabeledReplicas":2,"observedGeneration":3}}"#,
        #"{"apiVersion":"certificates.k8s.io/v1","kind":"CertificateSigningRequest",\#(meta),"spec":{"request":"LS0tLS1CRUdJTg==","signerName":"kubernetes.io/kube-apiserver-client","expirationSeconds":86400,"usages":["client auth"],"username":"jane","uid":"u-9","groups":["devs","system:authenticated"],"extra":{"scopes":["a","b"]}},"status":{"conditions":[{"type":"Approved","status":"True","reason":"KubectlApprove","lastUpdateTime":"2026-12-06T08:00:00Z"}],"certificate":"LS0tLS1CRUdJTg=="}}"#,
        #"{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","metadata":{"name":"builder","namespace":"default"},"spec":{"audiences":["https://kubernetes.default.svc.cluster.local"],"expirationSeconds":3600,"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"web-1","uid":"u-3"}},"status":{"token":"eyJ","expirationTimestamp":"2026-12-06T09:00:00Z"}}"#,
        #"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview","metadata":{"creationTimestamp":"2026-12-06T08:00:00Z"},"status":{"userInfo":{"username":"system:serviceaccount:default:builder","uid":"u-4","groups":["system:serviceaccounts"],"extra":{"authentication.kubernetes.io/pod-name":["web-1"]}}}}"#,
    ]

    @Test(arguments: 0..<objects.count)
    func jsonToProtobufAndBackIsTheSameObject(_ index: Int) throws {
        let object = Self.json(Self.objects[index])
        let document = try ProtobufCodec.encodeDocument(object)
        #expect(Array(document.prefix(4)) == ProtobufCodec.magic)
        let back = try ProtobufCodec.decodeDocument(document)
        #expect(back == object, "\(object["kind"]?.stringValue ?? ""): \(back.jsonString)")
    }

    /// Every kind the server serves, and the list of it, has a schema: a protobuf client is
    /// never answered in JSON for want of one.
    @Test func everyServedKindAndItsListHasASchema() {
        // CRDs are JSON only here: kubectl reads and writes them as unstructured JSON.
        for resource in ResourceRegistry.builtin.resources where resource.group != CustomResourceDefinitions.group {
            #expect(ProtobufCodec.messageName(apiVersion: resource.apiVersion, kind: resource.kind) != nil, "\(resource.apiVersion) \(resource.kind)")
            if resource.verbs.contains("list") {
                #expect(ProtobufCodec.messageName(apiVersion: resource.apiVersion, kind: resource.kind + "List") != nil,
                        "\(resource.apiVersion) \(resource.kind)List")
            }
        }
    }

    /// A custom resource whose group starts like a built-in one (kubebuilder's tutorial CronJob)
    /// has no protobuf form: borrowing batch/v1's CronJob message would drop or refuse its fields.
    @Test func customGroupsNeverBorrowABuiltinSchema() {
        #expect(ProtobufCodec.messageName(apiVersion: "batch/v1", kind: "CronJob") != nil)
        #expect(ProtobufCodec.messageName(apiVersion: "batch.tutorial.kubebuilder.io/v1", kind: "CronJob") == nil)
        #expect(ProtobufCodec.messageName(apiVersion: "apps.example.com/v1", kind: "Deployment") == nil)
        #expect(ProtobufCodec.messageName(apiVersion: "crd.projectcalico.org/v1", kind: "IPPool") == nil)
    }

    @Test func everyMessageTheTablesNameIsDefined() {
        #expect(ProtobufSchemas.missingMessages.isEmpty, "\(ProtobufSchemas.missingMessages)")
    }

    @Test func specialTypesKeepTheirJSONForms() throws {
        // IntOrString both ways, Quantity as text, MicroTime with microseconds, Time, RawExtension.
        let port = Self.json(#"{"name":"a","port":80,"targetPort":"http"}"#)
        let bytes = try ProtobufCodec.encode(port, message: "k8s.io.api.core.v1.ServicePort")
        #expect(try ProtobufCodec.decode(bytes, 0..<bytes.count, message: "k8s.io.api.core.v1.ServicePort") == port)
        let event = Self.json(#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}}"#)
        let watchEvent = try ProtobufCodec.encode(event, message: "k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent")
        #expect(try ProtobufCodec.decode(watchEvent, 0..<watchEvent.count, message: "k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent") == event)
    }

    @Test func whatTheSchemaDoesNotKnowIsRefusedNotDropped() throws {
        let extra = Self.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"colour":"blue"}"#)
        #expect(throws: ProtobufError.self) { try ProtobufCodec.encodeDocument(extra) }
        // A field number the schema lacks: ConfigMap field 9, a varint.
        var document = try ProtobufCodec.encodeDocument(Self.json(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}"#))
        let withUnknown = try ProtobufCodec.encode(Self.json(#"{"metadata":{"name":"c"}}"#), message: "k8s.io.api.core.v1.ConfigMap") + [0x48, 0x01]
        document = ProtobufCodec.magic + envelope(apiVersion: "v1", kind: "ConfigMap", raw: withUnknown)
        #expect(throws: ProtobufError.self) { try ProtobufCodec.decodeDocument(document) }
        #expect(throws: ProtobufError.self) { try ProtobufCodec.decodeDocument([0x6b, 0x38, 0x73]) }
        let noSchema = ProtobufCodec.magic + envelope(apiVersion: "example.com/v1", kind: "Widget", raw: [])
        #expect(throws: ProtobufError.self) { try ProtobufCodec.decodeDocument(noSchema) }
    }

    /// A runtime.Unknown by hand: typeMeta{apiVersion, kind}, raw.
    func envelope(apiVersion: String, kind: String, raw: [UInt8]) -> [UInt8] {
        func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(bytes.count)] + bytes }
        let typeMeta = field(1, Array(apiVersion.utf8)) + field(2, Array(kind.utf8))
        return field(1, typeMeta) + field(2, raw)
    }
}
