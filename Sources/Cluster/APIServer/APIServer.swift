public import JSON
public import APIMachinery
public import Storage
public import NetAddress
import Authorization
import Synchronization

/// The Kubernetes REST API over a `Store`: routing, CRUD with Kubernetes semantics, lists,
/// watches, patches, discovery and tables. Knows nothing of HTTP (HTTPServer carries it).
public final class APIServer: Sendable {
    public struct Options: Sendable {
        public var serviceClusterIPRange: IPPrefix
        /// The second family's range (`--service-cluster-ip-range 10.96.0.0/16,fd00:10:96::/112`):
        /// Services may then be dual-stack.
        public var secondaryServiceClusterIPRange: IPPrefix?
        public var serviceNodePortRange: ClosedRange<Int>
        public var clusterCIDR: IPPrefix?
        /// The largest request body accepted (413 beyond), as kube-apiserver's 3 MiB.
        public var maxRequestBytes: Int
        /// How often a watch that asked for bookmarks gets one.
        public var bookmarkInterval: Duration
        /// How long a connection with watches may refuse its data (its client not reading,
        /// NIO's buffer above its high-water mark) before it is closed and its watches end:
        /// otherwise the server would buffer a stuck watcher's events without bound.
        /// kube-apiserver likewise drops a watcher that does not keep up.
        public var stalledWatchTimeout: Duration = .seconds(30)
        /// The tolerationSeconds every new pod gets for the not-ready and unreachable NoExecute
        /// taints (kube-apiserver's DefaultTolerationSeconds admission).
        public var defaultNotReadyTolerationSeconds: Int
        public var defaultUnreachableTolerationSeconds: Int
        /// The authorizers, in order (`--authorization-mode`; Node,RBAC by default).
        public var authorizationModes: [AuthorizationMode] = [.node, .rbac]
        /// The Prometheus text `/metrics` answers with (nil: not served): the process's
        /// swift-metrics registry, which `netplane apiserver` bootstraps.
        public var metrics: (@Sendable () -> String)?

        public init(serviceClusterIPRange: IPPrefix, serviceNodePortRange: ClosedRange<Int> = 30000...32767,
                    clusterCIDR: IPPrefix? = nil, maxRequestBytes: Int = 3 * 1024 * 1024,
                    bookmarkInterval: Duration = .seconds(60), defaultNotReadyTolerationSeconds: Int = 300,
                    defaultUnreachableTolerationSeconds: Int = 300) {
            self.defaultNotReadyTolerationSeconds = defaultNotReadyTolerationSeconds
            self.defaultUnreachableTolerationSeconds = defaultUnreachableTolerationSeconds
            self.serviceClusterIPRange = serviceClusterIPRange
            self.serviceNodePortRange = serviceNodePortRange
            self.clusterCIDR = clusterCIDR
            self.maxRequestBytes = maxRequestBytes
            self.bookmarkInterval = bookmarkInterval
        }
    }

    /// The built-in resources and those the CRDs define, by the server's own CRD watch.
    let customResources = CustomResourceCache()
    /// What this server serves now (a snapshot: a CRD change swaps it whole).
    public var registry: ResourceRegistry { customResources.registry }
    public let options: Options
    /// What this server presents to node agents (their API takes no other token).
    let kubeletClientToken = (0..<4).map { _ in String(UInt64.random(in: 0..<UInt64.max), radix: 36) }.joined()
    let store: any Store
    let objects: ObjectStore
    let allocator: ServiceAllocator
    let watches = WatchRegistry()
    let watchEvents = WatchEventCache()
    let namespaceCache = WatchedMap.activeNamespaces()
    let serviceAccountCache = WatchedMap.serviceAccounts()
    let podUses = WatchedMap.podUses()
    /// What `/metrics` reports of the requests served.
    let requestMetrics = RequestMetrics()
    /// Roles and bindings, for the RBAC authorizer.
    let rbac = RBACCache()
    /// Signs and checks service account tokens.
    let tokenIssuer: ServiceAccountTokenIssuer
    /// The CA every namespace's `kube-root-ca.crt` publishes (`publishRootCA`).
    let rootCA = Mutex<String?>(nil)

    public init(store: any Store, options: Options, tokenIssuer: ServiceAccountTokenIssuer = ServiceAccountTokenIssuer()) {
        self.store = store
        self.options = options
        self.tokenIssuer = tokenIssuer
        self.objects = ObjectStore(store: store)
        self.allocator = ServiceAllocator(store: store, serviceRange: options.serviceClusterIPRange,
                                          secondaryRange: options.secondaryServiceClusterIPRange, nodePorts: options.serviceNodePortRange)
    }

    /// Forgets change history older than one `interval`, every `interval`, until cancelled:
    /// each round compacts through the revision the previous round saw, as kube-apiserver
    /// does with etcd. Watches from older resourceVersions then get 410 Gone and relist.
    /// Several API servers sharing etcd may all run this; a round finding the history
    /// already compacted further changes nothing.
    public func compactHistory(every interval: Duration) async {
        var seen: Int64?
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            guard let current = try? await store.currentRevision() else { continue }
            if let seen, seen > 0 { try? await store.compact(through: seen) }
            seen = current
        }
    }

    /// Makes the namespaces every cluster has and the `kubernetes` Service, frees
    /// allocations left by a crash, and starts following the namespaces.
    public func bootstrap() async throws(APIError) {
        let namespaces = registry.resource(group: "", version: "v1", plural: "namespaces")!
        namespaceCache.start(store: store, resource: namespaces)
        serviceAccountCache.start(store: store, resource: registry.resource(group: "", version: "v1", plural: "serviceaccounts")!)
        if options.authorizationModes.contains(.node) {
            podUses.start(store: store, resource: registry.resource(group: "", version: "v1", plural: "pods")!)
        }
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            do {
                _ = try await create(namespaces, namespace: nil, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
            } catch {
                guard error.code == 409 else { throw error }
            }
        }
        try await allocator.repair()
        try await bootstrapRBAC()
        // The CRDs are read before the first request, so a restarted server serves the
        // custom resources that exist from the start.
        do {
            let revision = try await customResources.refresh(store: store)
            customResources.start(store: store, after: revision)
        } catch {
            throw .internalError("reading the CustomResourceDefinitions: \(error)")
        }
    }

    /// Ends every open watch (at shutdown; clients reconnect elsewhere or later).
    public func closeWatches() { watches.closeAll() }

    /// How many watches are open.
    public var openWatches: Int { watches.count }

    // MARK: - Entry point

    public func handle(_ request: APIRequest) async -> APIResponse {
        await handleWithWarnings(request).response
    }

    /// The answer and what it warns of (the HTTP server sends them as Warning headers).
    public func handleWithWarnings(_ request: APIRequest) async -> (response: APIResponse, warnings: [String]) {
        let warnings = Warnings()
        do {
            let response = try await Self.$warnings.withValue(warnings) { () async throws(APIError) -> APIResponse in
                try await route(request)
            }
            return (response, warnings.all)
        } catch let error as APIError {
            return (.error(error), warnings.all)
        } catch {
            return (.error(.internalError("\(error)")), warnings.all)
        }
    }

    func route(_ request: APIRequest) async throws(APIError) -> APIResponse {
        let parsed = Route.parse(request.path, registry: registry)
        let start = ContinuousClock.now
        do {
            let response = try await route(request, parsed)
            requestMetrics.record(request, parsed, code: response.statusCode, since: start)
            return response
        } catch {
            requestMetrics.record(request, parsed, code: error.code, since: start)
            throw error
        }
    }

    func route(_ request: APIRequest, _ parsed: Route?) async throws(APIError) -> APIResponse {
        // Authorized before anything else is read, so a refusal tells nothing of what exists.
        if let user = request.user {
            try await requireAllowed(attributes(of: request, parsed, user: Self.userInfo(user)))
        }
        guard let route = parsed else { throw .notFound(path: request.path) }
        let response: APIResponse
        var manager: FieldManager?
        if case .resource(let r) = route, ["POST", "PUT", "PATCH", "DELETE"].contains(request.method) {
            manager = try Self.fieldManager(request, r.resource, subresource: r.subresource)
        }
        do {
            response = try await Self.$requester.withValue(request.user) {
                try await Self.$fieldManager.withValue(manager) { try await self.dispatch(request, route) }
            }
        } catch let error as APIError {
            throw error
        } catch {
            throw .internalError("\(error)")
        }
        // A client that changed RBAC objects is judged by the change on its next request
        // (this server's; another server sees it when its watch does, as in Kubernetes).
        if case .resource(let r) = route, r.resource.group == RBACObjects.group, request.method != "GET" {
            _ = try? await rbac.refresh(store: store)
        }
        // Likewise a client that changed a CRD finds its resource served (or gone) next.
        if case .resource(let r) = route, r.resource.group == CustomResourceDefinitions.group, request.method != "GET" {
            _ = try? await customResources.refresh(store: store)
        }
        return response
    }

    func dispatch(_ request: APIRequest, _ route: Route) async throws(APIError) -> APIResponse {
        switch route {
        case .version: return .json(status: 200, Discovery.version)
        case .healthz, .readyz, .livez: return .bytes(status: 200, contentType: "text/plain", Array("ok".utf8))
        case .metrics:
            // Prometheus' scrape, as kube-apiserver serves it, for those RBAC lets get /metrics
            // (cluster-admin, the system:monitoring group): judged above like any path.
            guard let metrics = options.metrics, request.method == "GET" else { throw .notFound(path: request.path) }
            return .bytes(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", Array(metrics().utf8))
        case .apiVersions, .apiGroups:
            let core = route == .apiVersions
            if let version = Discovery.aggregatedVersion(accept: request.accept) {
                return .bytes(status: 200, contentType: Discovery.aggregatedContentType(version),
                              Discovery.aggregated(registry, core: core, version: version).jsonBytes())
            }
            return .json(status: 200, core ? Discovery.apiVersions() : Discovery.apiGroupList(registry))
        case .apiGroup(let group):
            guard let g = Discovery.apiGroup(registry, group) else { throw .notFound(path: request.path) }
            return .json(status: 200, g)
        case .resourceList(let group, let version):
            guard let list = Discovery.resourceList(registry, group: group, version: version) else {
                throw .notFound(path: request.path)
            }
            return .json(status: 200, list)
        case .openAPIv3Root: return .json(status: 200, OpenAPI.root(registry))
        case .openAPIv3(let path):
            guard let doc = OpenAPI.groupVersion(registry, path: path) else { throw .notFound(path: request.path) }
            return .json(status: 200, doc)
        case .openAPIv2:
            // kubectl asks for the v2 document only to validate a `kind: List` (protobuf
            // only). The schemas live in the v3 documents; this one names the API and defines
            // no types, so kubectl validates each item against what it knows (nothing) and
            // leaves the checking to the server, as it does for any type a spec lacks.
            return .bytes(status: 200, contentType: "application/octet-stream",
                          OpenAPI.emptyV2Protobuf)
        case .resource(let r):
            return try await resourceRequest(request, r)
        }
    }

    func resourceRequest(_ request: APIRequest, _ r: Route.ResourceRoute) async throws(APIError) -> APIResponse {
        // A view's objects are read and written in their stored form; `present` shows them
        // as the resource asked for, in the encoding the client prefers.
        let view = r.resource
        let registry = self.registry
        let resource = registry.storage(of: view)
        let custom = registry.custom(view)
        let present = Presenter(request, view: view, storage: resource, columns: custom?.columns)
        var request = request
        if view.isView, let selector = request.query["fieldSelector"] {
            request.query["fieldSelector"] = ResourceConversion.storageFieldSelector(selector, view)
        }
        if !request.body.isEmpty, request.isProtobuf, request.method == "PATCH" {
            throw .unsupportedMediaType("\(ProtobufCodec.mediaType) is not a patch type")
        }
        if let namespace = r.namespace, let problem = NameRules.dns1123LabelProblem(namespace) {
            throw .badRequest("invalid namespace \"\(namespace)\": \(problem)")
        }
        if let sub = r.subresource, !view.subresources.contains(sub) {
            throw .notFound(path: request.path)
        }
        if view.group == "metrics.k8s.io" { return try await metricsRequest(request, r, present) }
        if let rules = custom?.schema.unevaluatedRules, !rules.isEmpty, ["POST", "PUT", "PATCH"].contains(request.method) {
            Self.warnings?.add("\(view.qualifiedName) \(view.version): x-kubernetes-validations rules were not evaluated (this server does not run CEL): \(rules.joined(separator: ", "))")
        }
        if r.subresource == "log", resource.kind == "Pod", request.method == "GET", let name = r.name {
            return try await podLog(request, namespace: r.namespace ?? "default", name: name)
        }
        let verb = Self.verb(request, r)
        guard view.verbs.contains(verb) else {
            throw .methodNotAllowed("\(view.qualifiedName) does not allow \(verb)\(view.verbs == ["create"] ? ": it is only created, never stored" : "")")
        }
        try QueryParameters.check(request)
        let dryRun = try QueryParameters.dryRun(request.query["dryRun"])
        let watching = r.watchPath || request.flag("watch")
        // DeleteOptions, which kubectl sends in a DELETE's body.
        let deleteOptions = request.method == "DELETE" && !request.body.isEmpty ? try request.jsonBody() : JSONValue.emptyObject
        switch (request.method, r.name) {
        case ("GET", nil):
            return watching ? try await watch(request, resource, namespace: r.namespace, present)
                            : try await list(request, resource, namespace: r.namespace, present)
        case ("GET", let name?):
            if watching {
                var narrowed = request
                narrowed.query["fieldSelector"] = "metadata.name=\(name)"
                return try await watch(narrowed, resource, namespace: r.namespace, present)
            }
            let (object, _) = try await objects.get(resource, namespace: r.namespace, name: name)
            if r.subresource == "scale" { return present.encoded(200, Self.scale(of: object, custom?.scale)) }
            return present.single(200, object)
        case ("POST", nil) where view.kind == "SelfSubjectReview":
            return present.encoded(201, try selfSubjectReview(request))
        case ("POST", nil) where view.group == "authorization.k8s.io":
            return present.encoded(201, try await review(request, view, namespace: r.namespace))
        case ("POST", nil):
            var body = try request.jsonBody()
            try checkKind(body, view)
            try FieldValidation.check(body, view, request, schema: custom?.schema)
            body = present.stored(body)
            try setNamespace(&body, r.namespace, resource)
            try NodeRestriction.check(create: body, resource, requester: request.user)
            let created = try await create(resource, namespace: r.namespace, body, dryRun: dryRun, user: request.user)
            return present.single(201, created)
        case ("POST", let name?) where r.subresource == "binding" && resource.kind == "Pod":
            try await bind(try request.jsonBody(), pod: name, namespace: r.namespace, dryRun: dryRun)
            return .json(status: 201, ["kind": "Status", "apiVersion": "v1", "metadata": .emptyObject, "status": "Success", "code": 201])
        case ("POST", let name?) where r.subresource == "eviction" && resource.kind == "Pod":
            return present.encoded(201, try await evict(try request.jsonBody(), pod: name, namespace: r.namespace ?? "", dryRun: dryRun))
        case ("POST", let name?) where r.subresource == "token" && resource.kind == "ServiceAccount":
            try await NodeRestriction.check(tokenRequest: try request.jsonBody(), serviceAccount: name, namespace: r.namespace ?? "",
                                            requester: request.user, server: self)
            return present.encoded(201, try await requestToken(try request.jsonBody(), serviceAccount: name,
                                                               namespace: r.namespace ?? "", dryRun: dryRun))
        case ("PUT", let name?):
            var body = try request.jsonBody()
            if r.subresource == "scale" {
                guard let replicas = body[path: ["spec", "replicas"]] else { throw .badRequest("scale: spec.replicas is required") }
                let paths = custom?.scale ?? .builtin
                let updated = try await modify(resource, namespace: r.namespace, name: name, precondition: body.resourceVersion,
                                               dryRun: dryRun) { object throws(APIError) in
                    object[path: paths.specReplicas] = replicas
                }
                return present.encoded(200, Self.scale(of: updated, custom?.scale))
            }
            try checkKind(body, view)
            try FieldValidation.check(body, view, request, schema: custom?.schema)
            body = present.stored(body)
            try setNamespace(&body, r.namespace, resource)
            guard body.name == name else {
                throw .badRequest("the name of the object (\(body.name ?? "")) does not match the name on the URL (\(name))")
            }
            let updated = try await update(resource, body, subresource: r.subresource, dryRun: dryRun)
            return present.single(200, updated)
        case ("PATCH", let name?):
            let type = request.contentType.split(separator: ";").first.map { String($0.trimmingSpaces) } ?? ""
            guard let patchType = PatchType(rawValue: type) else { throw .unsupportedMediaType(type) }
            if patchType == .apply {
                let applied = try await serverSideApply(request, r, name: name, resource: resource, present: present, dryRun: dryRun)
                return present.single(applied.created ? 201 : 200, applied.object)
            }
            if request.query["force"] != nil {
                throw APIError(code: 422, reason: "Invalid", message: "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch")
            }
            // Strategic merge needs the Go types' merge keys, which custom resources do not
            // have (kube refuses it for them too).
            if patchType == .strategicMerge, view.isCustom { throw .unsupportedMediaType(type) }
            let patch = try request.jsonBody()
            let updated = try await patchObject(resource, namespace: r.namespace, name: name, subresource: r.subresource,
                                                patch: patch, type: patchType, request: request, dryRun: dryRun, present: present)
            if r.subresource == "scale" { return present.encoded(200, Self.scale(of: updated, custom?.scale)) }
            return present.single(200, updated)
        case ("DELETE", let name?):
            let dryRunDelete = try QueryParameters.dryRun(options: deleteOptions) || dryRun
            let (status, object) = try await delete(resource, namespace: r.namespace, name: name, options: deleteOptions,
                                                    gracePeriod: request.query["gracePeriodSeconds"].flatMap { Int($0) },
                                                    propagation: try QueryParameters.propagation(options: deleteOptions, query: request.query),
                                                    dryRun: dryRunDelete)
            return present.single(status, object)
        case ("DELETE", nil):
            let dryRunDelete = try QueryParameters.dryRun(options: deleteOptions) || dryRun
            return try await deleteCollection(request, resource, namespace: r.namespace, options: deleteOptions, dryRun: dryRunDelete, present)
        default:
            throw .methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    /// The Kubernetes verb of a request (what discovery lists and authorization names).
    static func verb(_ request: APIRequest, _ r: Route.ResourceRoute) -> String {
        switch (request.method, r.name) {
        case ("GET", nil): r.watchPath || request.flag("watch") ? "watch" : "list"
        case ("GET", _): r.watchPath || request.flag("watch") ? "watch" : "get"
        case ("POST", _): "create"
        case ("PUT", _): "update"
        case ("PATCH", _): "patch"
        case ("DELETE", nil): "deletecollection"
        case ("DELETE", _): "delete"
        default: request.method.lowercased()
        }
    }

    func checkKind(_ body: JSONValue, _ resource: ResourceType) throws(APIError) {
        guard case .object = body else { throw .badRequest("the body must be a JSON object") }
        if let kind = body["kind"]?.stringValue, kind != resource.kind {
            throw .badRequest("the kind of the object (\(kind)) does not match the resource (\(resource.kind))")
        }
        if let apiVersion = body["apiVersion"]?.stringValue, apiVersion != resource.apiVersion {
            throw .badRequest("the API version of the object (\(apiVersion)) does not match the resource (\(resource.apiVersion))")
        }
    }

    func setNamespace(_ body: inout JSONValue, _ namespace: String?, _ resource: ResourceType) throws(APIError) {
        guard resource.namespaced else {
            body[path: ["metadata", "namespace"]] = nil
            return
        }
        guard let namespace else { throw .badRequest("a \(resource.kind) must be created in a namespace") }
        if let given = body.namespace, !given.isEmpty, given != namespace {
            throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        body.namespace = namespace
    }

    // MARK: - Create

    /// `keepsManagedFields`: a server-side apply's create, whose managedFields the apply made
    /// (any other create starts without: ownership is tracked from an object's first apply).
    public func create(_ resource: ResourceType, namespace: String?, _ body: JSONValue, dryRun: Bool = false,
                       user: TokenAuthenticator.User? = nil, keepsManagedFields: Bool = false) async throws(APIError) -> JSONValue {
        var object = body
        object["apiVersion"] = .string(resource.apiVersion)
        object["kind"] = .string(resource.kind)
        if (object.name ?? "").isEmpty, let prefix = object[path: ["metadata", "generateName"]]?.stringValue, !prefix.isEmpty {
            object.name = prefix + UIDGenerator.nameSuffix()
        }
        let name = object.name ?? ""
        if resource.namespaced, let namespace, namespaceCache.value(namespace) == nil {
            let namespaces = registry.resource(group: "", version: "v1", plural: "namespaces")!
            let ns: JSONValue
            do { (ns, _) = try await objects.get(namespaces, namespace: nil, name: namespace) } catch {
                throw error.code == 404 ? APIError(code: 404, reason: "NotFound", message: "namespaces \"\(namespace)\" not found",
                                                   details: ["name": .string(namespace), "kind": "namespaces"]) : error
            }
            if ns.deletionTimestamp != nil {
                throw .forbidden("\(resource.plural) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated")
            }
        }
        var metadata = object.metadata
        for field in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] + (keepsManagedFields ? [] : ["managedFields"]) {
            metadata[field] = nil
        }
        metadata["uid"] = .string(UIDGenerator.make())
        metadata["creationTimestamp"] = .string(APITime.format(APITime.now()))
        if resource.hasGeneration { metadata["generation"] = 1 } else { metadata["generation"] = nil }
        object["metadata"] = metadata
        if resource.resetsStatusOnCreate { object["status"] = nil }
        let strategy = strategy(for: resource)
        strategy.prepareForCreate(&object, user: user)
        strategy.normalize(&object, resource)
        let errors = ObjectValidation.validate(object, resource) + strategy.validate(object, old: nil)
        if !errors.isEmpty { throw .invalid(resource, name: name, errors) }
        try await strategy.admit(&object, previous: nil, resource, in: self)
        let allocated = try await strategy.allocate(&object, previous: nil, resource, in: self)
        if dryRun {
            // The answer shows what a real create would have taken; nothing stays taken.
            await release(allocated)
            return object
        }
        let created: JSONValue
        do {
            created = try await objects.create(resource, object)
        } catch {
            await release(allocated)
            throw error
        }
        await strategy.created(created, in: self)
        return created
    }

    // MARK: - Update and patch

    /// PUT: replaces the object (or its status), keeping what clients may not change.
    func update(_ resource: ResourceType, _ body: JSONValue, subresource: String?, dryRun: Bool = false) async throws(APIError) -> JSONValue {
        let name = body.name ?? ""
        return try await modify(resource, namespace: body.namespace, name: name, precondition: body.resourceVersion,
                                dryRun: dryRun) { object throws(APIError) in
            if subresource == "status" {
                object["status"] = body["status"]
                Self.keepStatusWritersMetadata(&object, from: body, resource)
            } else if subresource == "approval" {
                // Approval changes the conditions only (a signer writes the certificate).
                object[path: ["status", "conditions"]] = body[path: ["status", "conditions"]]
            } else {
                var next = body
                if resource.subresources.contains("status") { next["status"] = object["status"] }
                object = next
            }
        }
    }

    func patchObject(_ resource: ResourceType, namespace: String?, name: String, subresource: String?,
                     patch: JSONValue, type: PatchType, request: APIRequest, dryRun: Bool = false,
                     present: Presenter) async throws(APIError) -> JSONValue {
        var precondition: String?
        if type != .json { precondition = patch.resourceVersion }
        return try await modify(resource, namespace: namespace, name: name, precondition: precondition,
                                dryRun: dryRun) { object throws(APIError) in
            // The patch is written against the object as the client's resource shows it.
            let scalePaths = subresource == "scale" ? registry.custom(present.view)?.scale ?? .builtin : .builtin
            var target = subresource == "scale" ? Self.scale(of: object, scalePaths) : present.object(object)
            switch type {
            case .json: target = try jsonPatch(target, patch)
            case .merge: target = mergePatch(target, patch)
            case .strategicMerge: target = try strategicMergePatch(target, patch, schema: PatchSchema.forKind(resource.kind))
            // Server-side apply merges by field ownership, not by patching: the PATCH route
            // sends it to serverSideApply, so this arm is only the switch's completeness.
            case .apply: throw .unsupportedMediaType(type.rawValue)
            }
            if subresource != "scale" {
                try FieldValidation.check(target, present.view, request, schema: registry.custom(present.view)?.schema)
                target = present.stored(target)
            }
            switch subresource {
            case "scale":
                object[path: scalePaths.specReplicas] = target[path: ["spec", "replicas"]]
            case "status":
                object["status"] = target["status"]
                Self.keepStatusWritersMetadata(&object, from: target, resource)
            case "approval":
                object[path: ["status", "conditions"]] = target[path: ["status", "conditions"]]
            default:
                if resource.subresources.contains("status") { target["status"] = object["status"] }
                object = target
            }
        }
    }

    /// A Node's status writer may also change its labels and annotations, as kube-apiserver's
    /// node status strategy resets only the spec: flannel writes its annotations through
    /// nodes/status, so its role needs no write to any Node's spec (podCIDR, taints).
    static func keepStatusWritersMetadata(_ object: inout JSONValue, from written: JSONValue, _ resource: ResourceType) {
        guard resource.group.isEmpty, resource.plural == "nodes" else { return }
        for field in ["labels", "annotations"] { object[path: ["metadata", field]] = written[path: ["metadata", field]] }
    }

    /// Read, change, write back if nobody wrote in between (retrying when the caller gave no
    /// resourceVersion of its own): kube-apiserver's GuaranteedUpdate.
    /// `marksDeletion`: the change is the server's own (setting deletionTimestamp and
    /// deletionGracePeriodSeconds), which a client's change may never touch.
    /// `dryRun`: every check and allocation runs and the answer is what the write would
    /// store, but nothing is stored, no watcher hears of it and allocations are given back.
    func modify(_ resource: ResourceType, namespace: String?, name: String, precondition: String?,
                marksDeletion: Bool = false, dryRun: Bool = false, recordsUpdate: Bool = true,
                _ change: (inout JSONValue) throws(APIError) -> Void) async throws(APIError) -> JSONValue {
        for _ in 0..<16 {
            let (current, revision) = try await objects.get(resource, namespace: namespace, name: name)
            if let precondition, !precondition.isEmpty, precondition != String(revision) {
                throw .conflict(resource, name: name, "the object has been modified; please apply your changes to the latest version and try again")
            }
            var next = current
            try change(&next)
            try keepImmutableFields(&next, from: current, resource, marksDeletion: marksDeletion)
            strategy(for: resource).normalize(&next, resource)
            if next == current { return current }
            if recordsUpdate { recordUpdate(&next, from: current, resource) }
            let errors = ObjectValidation.validate(next, resource) + strategy(for: resource).validate(next, old: current)
            if !errors.isEmpty { throw .invalid(resource, name: name, errors) }
            if resource.hasGeneration, Self.specChanged(current, next) {
                next[path: ["metadata", "generation"]] = .int((current[path: ["metadata", "generation"]]?.int64Value ?? 0) + 1)
            }
            // An object being deleted goes once no finalizer holds it and no grace period runs
            // (a terminating pod waits for its node agent's DELETE with grace 0).
            if next.deletionTimestamp != nil, next.finalizers.isEmpty,
               (next[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue ?? 0) == 0 {
                if dryRun {
                    next.resourceVersion = nil
                    return next
                }
                _ = try await objects.delete(resource, namespace: namespace, name: name, ifRevision: revision)
                await strategy(for: resource).deleted(current, in: self)
                next.resourceVersion = nil
                return next
            }
            let strategy = strategy(for: resource)
            try await strategy.admit(&next, previous: current, resource, in: self)
            let allocated = try await strategy.allocate(&next, previous: current, resource, in: self)
            if dryRun {
                await release(allocated)
                return next
            }
            do {
                let written = try await objects.update(resource, next, ifRevision: revision)
                await strategy.updated(from: current, to: written, in: self)
                return written
            } catch {
                await release(allocated)
                if error.code == 409, precondition == nil || precondition?.isEmpty == true { continue }
                throw error
            }
        }
        throw .conflict(resource, name: name, "too many concurrent writers, try again")
    }

    func keepImmutableFields(_ next: inout JSONValue, from current: JSONValue, _ resource: ResourceType,
                             marksDeletion: Bool) throws(APIError) {
        next["apiVersion"] = .string(resource.apiVersion)
        next["kind"] = .string(resource.kind)
        guard case .object = next["metadata"] ?? .null else { throw .badRequest("metadata must be an object") }
        let deletionFields = marksDeletion ? [] : ["deletionTimestamp", "deletionGracePeriodSeconds"]
        for field in ["uid", "creationTimestamp", "generation", "name", "namespace"] + deletionFields {
            next[path: ["metadata", field]] = current[path: ["metadata", field]]
        }
        next[path: ["metadata", "resourceVersion"]] = current[path: ["metadata", "resourceVersion"]]
        try strategy(for: resource).keepImmutableFields(&next, from: current, resource)
    }

    /// Whether anything outside metadata and status differs (what bumps `generation`).
    static func specChanged(_ a: JSONValue, _ b: JSONValue) -> Bool {
        func desired(_ object: JSONValue) -> JSONValue {
            var o = object
            o["metadata"] = nil
            o["status"] = nil
            return o
        }
        return desired(a) != desired(b)
    }

    // MARK: - Delete

    func delete(_ resource: ResourceType, namespace: String?, name: String, options: JSONValue,
                gracePeriod: Int?, propagation: QueryParameters.Propagation = .background,
                dryRun: Bool = false) async throws(APIError) -> (Int, JSONValue) {
        let (current, revision) = try await objects.get(resource, namespace: namespace, name: name)
        if let uid = options[path: ["preconditions", "uid"]]?.stringValue, uid != current.uid {
            throw .conflict(resource, name: name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current.uid ?? "")")
        }
        if let rv = options[path: ["preconditions", "resourceVersion"]]?.stringValue, rv != String(revision) {
            throw .conflict(resource, name: name, "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(revision)")
        }
        let grace = options["gracePeriodSeconds"]?.intValue ?? gracePeriod
        let strategy = strategy(for: resource)
        let graceful = strategy.gracefulDeletion(of: current, requested: grace)
        // Foreground and Orphan hold the object with a finalizer for the garbage collector
        // (which deletes the dependents first, or releases them), as kube-apiserver does.
        let gcFinalizer = propagation.finalizer
        if !current.finalizers.isEmpty || graceful != nil || gcFinalizer != nil {
            let seconds = graceful ?? 0
            let addsFinalizer = gcFinalizer.map { !current.finalizers.contains($0) } ?? false
            // Already being deleted: only a shorter grace period or a new policy changes anything.
            if current.deletionTimestamp != nil, !addsFinalizer,
               seconds >= current[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue ?? 0 {
                return (200, current)
            }
            let marked = try await modify(resource, namespace: namespace, name: name, precondition: nil,
                                          marksDeletion: true, dryRun: dryRun) { object throws(APIError) in
                if object.deletionTimestamp == nil || seconds < object[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue ?? 0 {
                    object[path: ["metadata", "deletionTimestamp"]] = .string(APITime.format(APITime.now() + seconds))
                    object[path: ["metadata", "deletionGracePeriodSeconds"]] = .int(Int64(seconds))
                }
                if let gcFinalizer, !object.finalizers.contains(gcFinalizer) {
                    // The other policy's finalizer goes: the last request decides.
                    let kept = object.finalizers.filter { $0 != "orphan" && $0 != "foregroundDeletion" }
                    object[path: ["metadata", "finalizers"]] = .array((kept + [gcFinalizer]).map { .string($0) })
                }
            }
            return (200, marked)
        }
        if dryRun { return (200, current) }
        try await strategy.beforeDelete(current, in: self)
        let deleted = try await objects.delete(resource, namespace: namespace, name: name, ifRevision: revision)
        await strategy.deleted(deleted, in: self)
        return (200, deleted)
    }

    /// Empties a namespace before it goes (the namespace controller's job in Kubernetes; here
    /// the API server does it at once, so `kubectl delete namespace` returns with it gone).
    func deleteNamespaceContents(_ namespace: String) async throws(APIError) {
        // Views hold no objects of their own; their storage resource is listed too.
        for resource in registry.resources where resource.namespaced && !resource.isView && resource.verbs.contains("delete") {
            try await deleteAll(resource, namespace: namespace)
        }
    }

    func deleteCollection(_ request: APIRequest, _ resource: ResourceType, namespace: String?, options: JSONValue,
                          dryRun: Bool, _ present: Presenter) async throws(APIError) -> APIResponse {
        let (items, revision, _) = try await listObjects(request, resource, namespace: namespace, limit: nil, after: nil)
        let propagation = try QueryParameters.propagation(options: options, query: request.query)
        var deleted: [JSONValue] = []
        for item in items {
            if let (_, object) = try? await delete(resource, namespace: item.namespace, name: item.name ?? "", options: options,
                                                   gracePeriod: request.query["gracePeriodSeconds"].flatMap { Int($0) },
                                                   propagation: propagation, dryRun: dryRun) {
                deleted.append(object)
            }
        }
        return present.list(deleted, metadata: ["resourceVersion": .string(String(revision))])
    }

    // MARK: - Pods: binding

    func bind(_ binding: JSONValue, pod name: String, namespace: String?, dryRun: Bool = false) async throws(APIError) {
        let pods = registry.resource(group: "", version: "v1", plural: "pods")!
        guard let node = binding[path: ["target", "name"]]?.stringValue, !node.isEmpty else {
            throw .invalid(pods, name: name, [.required("target.name")])
        }
        _ = try await modify(pods, namespace: namespace, name: name, precondition: nil, dryRun: dryRun) { pod throws(APIError) in
            if let bound = pod[path: ["spec", "nodeName"]]?.stringValue, !bound.isEmpty {
                throw .conflict(pods, name: name, "pod \(name) is already assigned to node \"\(bound)\"")
            }
            if pod.deletionTimestamp != nil { throw .conflict(pods, name: name, "pod \(name) is being deleted, cannot be assigned to a host") }
            if let uid = binding[path: ["metadata", "uid"]]?.stringValue, !uid.isEmpty, uid != pod.uid {
                throw .conflict(pods, name: name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(pod.uid ?? "")")
            }
            pod[path: ["spec", "nodeName"]] = .string(node)
            var conditions = pod[path: ["status", "conditions"]]?.arrayValue ?? []
            conditions.removeAll { $0["type"] == "PodScheduled" }
            conditions.append(["type": "PodScheduled", "status": "True", "lastProbeTime": nil,
                               "lastTransitionTime": .string(APITime.format(APITime.now()))])
            pod[path: ["status", "conditions"]] = .array(conditions)
        }
    }

    // MARK: - Scale

    /// The autoscaling/v1 Scale of an object: where a custom resource keeps its replicas and
    /// selector (its CRD's scale paths), or the built-in kinds' spec.replicas and selector.
    static func scale(of object: JSONValue, _ custom: ScalePaths?) -> JSONValue {
        let paths = custom ?? .builtin
        let selector: String
        if custom != nil {
            // A custom resource stores its selector already serialized.
            selector = paths.labelSelector.flatMap { object[path: $0]?.stringValue } ?? ""
        } else {
            selector = (try? LabelSelector(json: object[path: ["spec", "selector"]] ?? .emptyObject))?.requirements
                .map { r in r.values.count == 1 && r.op == .equals ? "\(r.key)=\(r.values[0])" : r.key }.joined(separator: ",") ?? ""
        }
        return ["kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": ["name": object["metadata"]?["name"] ?? "", "namespace": object["metadata"]?["namespace"] ?? "",
                             "uid": object["metadata"]?["uid"] ?? "", "resourceVersion": object["metadata"]?["resourceVersion"] ?? "",
                             "creationTimestamp": object["metadata"]?["creationTimestamp"] ?? ""],
                "spec": ["replicas": object[path: paths.specReplicas] ?? 0],
                "status": ["replicas": object[path: paths.statusReplicas] ?? 0, "selector": .string(selector)]]
    }
}
