import APITypes
import ControllersCore
import JSON
import Testing

/// What the EndpointSlice controller writes for a Service, from hand-made pods.
@Suite struct EndpointSlicesTests {
    static func service(_ extra: String = "") -> Service {
        Service(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop","uid":"s-1","labels":{"team":"a"}},"spec":{"selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http","protocol":"TCP"},{"name":"metrics","port":9090,"targetPort":9090}]\#(extra)}}"#))
    }

    static func pod(_ name: String, ip: String, ready: Bool = true, httpPort: Int = 8080, node: String = "n1",
                    deleting: Bool = false, labels: String = #"{"app":"web"}"#, ips: String? = nil) -> Pod {
        let deletion = deleting ? #","deletionTimestamp":"2026-12-06T10:00:00Z""# : ""
        let podIPs = ips ?? #"[{"ip":"\#(ip)"}]"#
        return Pod(json: try! JSONValue.parse(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","namespace":"shop","uid":"u-\#(name)","labels":\#(labels)\#(deletion)},"spec":{"nodeName":"\#(node)","containers":[{"name":"c","ports":[{"name":"http","containerPort":\#(httpPort)}]}]},"status":{"phase":"Running","podIP":"\#(ip)","podIPs":\#(podIPs),"conditions":[{"type":"Ready","status":"\#(ready ? "True" : "False")"}]}}"#))
    }

    func conditions(_ slice: EndpointSlices.Slice) -> [String] {
        slice.endpoints.map { e in
            let c = e["conditions"] ?? .emptyObject
            return "\(e["addresses"]?.arrayValue?.first?.stringValue ?? "") r=\(c["ready"]?.boolValue ?? false) s=\(c["serving"]?.boolValue ?? false) t=\(c["terminating"]?.boolValue ?? false)"
        }
    }

    @Test func readyServingAndTerminatingFollowThePods() {
        let service = Self.service()
        let pods = [Self.pod("a", ip: "10.244.1.2"), Self.pod("b", ip: "10.244.1.3", ready: false),
                    Self.pod("c", ip: "10.244.1.4", deleting: true), Self.pod("other", ip: "10.244.1.9", labels: #"{"app":"db"}"#)]
        let slices = EndpointSlices.desired(service, pods: EndpointSlices.selected(service, from: pods), zones: ["n1": "zone-a"])
        #expect(slices.count == 1)
        #expect(conditions(slices[0]) == ["10.244.1.2 r=true s=true t=false", "10.244.1.3 r=false s=false t=false",
                                          "10.244.1.4 r=false s=true t=true"])
        #expect(slices[0].endpoints[0]["zone"] == "zone-a" && slices[0].endpoints[0]["nodeName"] == "n1")
        #expect(slices[0].endpoints[0][path: ["targetRef", "name"]] == "a")
        // The named port resolved to the pods' container port, the number as given.
        #expect(slices[0].ports == [["name": "http", "protocol": "TCP", "port": 8080], ["name": "metrics", "protocol": "TCP", "port": 9090]])
        // publishNotReadyAddresses: every selected pod is ready.
        let publishing = Self.service(#","publishNotReadyAddresses":true"#)
        let all = EndpointSlices.desired(publishing, pods: EndpointSlices.selected(publishing, from: pods), zones: [:])
        #expect(all[0].endpoints.allSatisfy { $0[path: ["conditions", "ready"]] == true })
    }

    @Test func podsThatResolveANamedPortDifferentlyGetSlicesOfTheirOwn() {
        let service = Self.service()
        let pods = [Self.pod("a", ip: "10.244.1.2", httpPort: 8080), Self.pod("b", ip: "10.244.1.3", httpPort: 8081)]
        let slices = EndpointSlices.desired(service, pods: pods, zones: [:])
        #expect(slices.count == 2)
        #expect(Set(slices.compactMap { $0.ports.first?["port"]?.intValue }) == [8080, 8081])
    }

    @Test func slicesHoldAtMostTheLimitAndOneAddressFamilyEach() {
        let dual = Self.service(#","ipFamilies":["IPv4","IPv6"]"#)
        let pods = (1...5).map { i in
            Self.pod("p\(i)", ip: "10.244.1.\(i)", ips: #"[{"ip":"10.244.1.\#(i)"},{"ip":"fd00::\#(i)"}]"#)
        }
        let slices = EndpointSlices.desired(dual, pods: pods, zones: [:], maxPerSlice: 2)
        #expect(slices.map(\.addressType) == ["IPv4", "IPv4", "IPv4", "IPv6", "IPv6", "IPv6"])
        #expect(slices.map(\.endpoints.count) == [2, 2, 1, 2, 2, 1])
        // An IPv4-only Service ignores the pods' IPv6 addresses.
        #expect(EndpointSlices.desired(Self.service(), pods: pods, zones: [:]).map(\.addressType) == ["IPv4"])
    }

    @Test func nothingSelectedLeavesOnePlaceholderSlice() {
        let slices = EndpointSlices.desired(Self.service(), pods: [], zones: [:])
        #expect(slices == [EndpointSlices.Slice(addressType: "IPv4", ports: [], endpoints: [])])
    }

    @Test func existingSlicesAreUpdatedInPlaceAndTheRestCreatedOrDeleted() {
        let service = Self.service()
        let desired = EndpointSlices.desired(service, pods: [Self.pod("a", ip: "10.244.1.2")], zones: [:])
        let create = EndpointSlices.changes(service, desired: desired, existing: [])
        guard case .create(let body)? = create.first, create.count == 1 else { Issue.record("\(create)"); return }
        #expect(body[path: ["metadata", "generateName"]] == "web-")
        #expect(body[path: ["metadata", "labels", "kubernetes.io/service-name"]] == "web")
        #expect(body[path: ["metadata", "labels", "endpointslice.kubernetes.io/managed-by"]] == "endpointslice-controller.k8s.io")
        #expect(body[path: ["metadata", "labels", "team"]] == "a")
        #expect(body[path: ["metadata", "ownerReferences"]]?.arrayValue?.first?["uid"] == "s-1")
        // As stored: the same content is no change; another pod is an update of that slice.
        var stored = body
        stored[path: ["metadata", "name"]] = "web-abcde"
        stored[path: ["metadata", "generateName"]] = nil
        stored[path: ["metadata", "resourceVersion"]] = "7"
        let existing = [EndpointSlice(json: stored)]
        #expect(EndpointSlices.changes(service, desired: desired, existing: existing).isEmpty)
        let more = EndpointSlices.desired(service, pods: [Self.pod("a", ip: "10.244.1.2"), Self.pod("b", ip: "10.244.1.3")], zones: [:])
        let changes = EndpointSlices.changes(service, desired: more, existing: existing)
        guard case .update(let updated)? = changes.first, changes.count == 1 else { Issue.record("\(changes)"); return }
        #expect(updated.name == "web-abcde" && updated.resourceVersion == "7" && updated["endpoints"]?.arrayValue?.count == 2)
        // A slice of a port set no longer wanted goes.
        let other = EndpointSlices.desired(service, pods: [Self.pod("a", ip: "10.244.1.2", httpPort: 9000)], zones: [:])
        let replaced = EndpointSlices.changes(service, desired: other, existing: existing)
        #expect(replaced.count == 2 && replaced.last == .delete(name: "web-abcde"), "\(replaced)")
    }

    @Test func legacyEndpointsListReadyAndNotReadyAddresses() {
        let service = Self.service()
        let pods = [Self.pod("a", ip: "10.244.1.2"), Self.pod("b", ip: "10.244.1.3", ready: false),
                    Self.pod("c", ip: "10.244.1.4", deleting: true)]
        let endpoints = EndpointSlices.endpoints(service, pods: pods)
        let subset = endpoints["subsets"]?.arrayValue?.first ?? .null
        #expect(subset["addresses"]?.arrayValue?.compactMap { $0["ip"]?.stringValue } == ["10.244.1.2"])
        #expect(subset["notReadyAddresses"]?.arrayValue?.compactMap { $0["ip"]?.stringValue } == ["10.244.1.3"])
        #expect(endpoints[path: ["metadata", "labels", "endpoints.kubernetes.io/managed-by"]] == "endpoint-controller")
    }

    @Test func legacyEndpointsStopAtAThousandAddressesReadyFirst() {
        var pods: [Pod] = []
        for i in 0..<1100 { pods.append(Self.pod("p\(10_000 + i)", ip: "10.244.\(i / 256).\(i % 256)", ready: i >= 50)) }
        let endpoints = EndpointSlices.endpoints(Self.service(), pods: pods)
        let subset = endpoints["subsets"]?.arrayValue?.first ?? .null
        // 1050 ready, 50 not: the first 1000 ready ones are kept and the object says it is cut.
        #expect(subset["addresses"]?.arrayValue?.count == 1000)
        #expect(subset["notReadyAddresses"] == nil)
        #expect(endpoints[path: ["metadata", "annotations", "endpoints.kubernetes.io/over-capacity"]] == "truncated")
        let small = EndpointSlices.endpoints(Self.service(), pods: Array(pods.prefix(10)))
        #expect(small[path: ["metadata", "annotations"]] == nil)
    }
}
