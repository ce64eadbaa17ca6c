import APIMachinery
import JSON
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
    ]

    @Test(arguments: 0..<objects.count)
    func jsonToProtobufAndBackIsTheSameObject(_ index: Int) throws {
        let object = Self.json(Self.objects[index])
        let document = try ProtobufCodec.encodeDocument(object)
        #expect(Array(document.prefix(4)) == ProtobufCodec.magic)
        let back = try ProtobufCodec.decodeDocument(document)
        #expect(back == object, "\(object["kind"]?.stringValue ?? ""): \(back.jsonString)")
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
