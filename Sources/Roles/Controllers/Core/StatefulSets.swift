public import APITypes
public import JSON
import APIMachinery

/// The StatefulSet controller's decisions, as kube-controller-manager's: pods with a stable
/// identity `<set>-<ordinal>` (hostname, the headless Service's subdomain, their own claims
/// from the volumeClaimTemplates, made before the pod and kept after it), created in ordinal
/// order and removed from the highest ordinal down, each step waiting for every other pod to
/// be Running and Ready (OrderedReady; Parallel: all at once); every template a
/// ControllerRevision, the rolling update replacing one pod at a time from the highest
/// ordinal down to the partition (OnDelete: only pods someone deleted); and the status
/// `kubectl get sts` and `kubectl rollout status` read.
public enum StatefulSets {
    public static let podNameLabel = "statefulset.kubernetes.io/pod-name"
    public static let podIndexLabel = "apps.kubernetes.io/pod-index"
    /// On a pod: the name of its ControllerRevision; on a ControllerRevision: its hash.
    public static let revisionLabel = ControllerRevisions.hashLabel

    /// What to do for one StatefulSet now, in this order.
    public struct Plan: Sendable {
        /// Orphan pods the selector matches (named as the set's): take them over.
        public var adopt: [Pod] = []
        /// Owned pods the selector no longer matches: let them go.
        public var release: [Pod] = []
        /// The set's ControllerRevisions: orphans to adopt, the current template's to create, a
        /// rollback's renumbering.
        public var revisions = ControllerRevisions.Outcome(update: ControllerRevision(json: .emptyObject), history: [], collisionCount: 0)
        /// Claims to create before the pods that mount them.
        public var createClaims: [JSONValue] = []
        /// New ownerReferences of existing claims (the retention policy), by claim name.
        public var claimOwners: [String: [OwnerReference]] = [:]
        /// Pods to create (their bodies, named), and pods to delete.
        public var create: [JSONValue] = []
        public var delete: [Pod] = []
        /// Identity labels to put back on pods that lack them (adopted pods), by pod name.
        public var relabel: [String: [String: String]] = [:]
        /// Old revisions beyond revisionHistoryLimit, to delete.
        public var prune: [String] = []
        public var status: JSONValue = .null
        /// When a ready pod becomes available (minReadySeconds) without any event, Unix seconds.
        public var recheckAt: Int?
    }

    // MARK: - Names

    public static func podName(_ set: String, _ ordinal: Int) -> String { "\(set)-\(ordinal)" }

    /// `<template>-<set>-<ordinal>`: the claim a pod keeps across its replacements.
    public static func claimName(_ template: String, _ set: String, _ ordinal: Int) -> String { "\(template)-\(set)-\(ordinal)" }

    /// The set a pod name belongs to and its ordinal ("web-0" → ("web", 0)); nil for another
    /// shape, and for a spelling the set never makes ("web-01"), so no two pods share an ordinal.
    public static func parentAndOrdinal(_ podName: String) -> (parent: String, ordinal: Int)? {
        guard let dash = podName.lastIndex(of: "-") else { return nil }
        let digits = podName[podName.index(after: dash)...]
        guard digits.allSatisfy({ ("0"..."9").contains($0) }), let ordinal = Int(digits), String(ordinal) == digits else { return nil }
        return (String(podName[..<dash]), ordinal)
    }

    // MARK: - Pod states, as the Kubernetes controller judges them

    static func isTerminating(_ pod: Pod) -> Bool { pod.deletionTimestamp != nil }
    static func isRunningAndReady(_ pod: Pod) -> Bool { pod.phase == "Running" && pod.isReady }
    static func isHealthy(_ pod: Pod) -> Bool { isRunningAndReady(pod) && !isTerminating(pod) }

    /// When a ready pod counts as available: minReadySeconds after it became ready (nil: not
    /// ready, or ready since an unknown time).
    static func availableSince(_ pod: Pod, minReady: Int) -> Int? {
        guard isRunningAndReady(pod) else { return nil }
        guard minReady > 0 else { return Int.min }
        let ready = (pod.json[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"] == "Ready" }
        return ready?["lastTransitionTime"]?.stringValue.flatMap(APITime.parse).map { $0 + minReady }
    }

    static func isAvailable(_ pod: Pod, minReady: Int, now: Int) -> Bool {
        availableSince(pod, minReady: minReady).map { $0 <= now } ?? false
    }

    // MARK: - Revisions

    /// The revision the set's status says its pods are at (while it exists), else `update`.
    static func current(_ set: StatefulSet, _ history: [ControllerRevision], update: ControllerRevision) -> ControllerRevision {
        let currentName = set.json[path: ["status", "currentRevision"]]?.stringValue
        return history.first { $0.name == currentName && $0.name != update.name } ?? update
    }

    // MARK: - Pods and claims

    /// The claims of the pod of `ordinal`, by volume (template) name, in template order:
    /// labelled with the set's matchLabels, as Kubernetes makes them.
    static func claims(_ set: StatefulSet, ordinal: Int) -> [(volume: String, body: JSONValue)] {
        let matchLabels = stringMap(set.selector["matchLabels"])
        return (set.json[path: ["spec", "volumeClaimTemplates"]]?.arrayValue ?? []).compactMap { template in
            guard let volume = template.name, !volume.isEmpty else { return nil }
            var claim = template
            claim["apiVersion"] = "v1"
            claim["kind"] = "PersistentVolumeClaim"
            claim["status"] = nil
            claim.name = claimName(volume, set.name, ordinal)
            claim.namespace = set.namespace
            let labels = stringMap(template[path: ["metadata", "labels"]]).merging(matchLabels) { _, selector in selector }
            claim[path: ["metadata", "labels"]] = labels.isEmpty ? nil : .object(labels.mapValues(JSONValue.string))
            return (volume: volume, body: claim)
        }
    }

    /// The pod of `ordinal` from `template` at `revision`: named, labelled and addressed
    /// (hostname, subdomain) as its ordinal says, its claims mounted in place of any template
    /// volume of the same name, controlled by the set.
    public static func newPod(_ set: StatefulSet, template: JSONValue, revision: String, ordinal: Int) -> JSONValue {
        let name = podName(set.name, ordinal)
        var metadata = template["metadata"] ?? .emptyObject
        metadata["generateName"] = nil
        metadata["name"] = .string(name)
        metadata["namespace"] = .string(set.namespace ?? "")
        metadata["ownerReferences"] = [OwnerReference(controlledBy: set).json]
        metadata[path: ["labels", podNameLabel]] = .string(name)
        metadata[path: ["labels", podIndexLabel]] = .string(String(ordinal))
        metadata[path: ["labels", revisionLabel]] = .string(revision)
        var spec = template["spec"] ?? .emptyObject
        spec["hostname"] = .string(name)
        if let service = set.json[path: ["spec", "serviceName"]]?.stringValue, !service.isEmpty { spec["subdomain"] = .string(service) }
        let claimVolumes = claims(set, ordinal: ordinal)
        if !claimVolumes.isEmpty {
            let names = Set(claimVolumes.map { $0.volume })
            var volumes: [JSONValue] = claimVolumes.map { claim in
                ["name": .string(claim.volume), "persistentVolumeClaim": ["claimName": .string(claim.body.name ?? "")]]
            }
            volumes += (spec["volumes"]?.arrayValue ?? []).filter { !names.contains($0["name"]?.stringValue ?? "") }
            spec["volumes"] = .array(volumes)
        }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec]
    }

    /// persistentVolumeClaimRetentionPolicy: whether claims go with the set, and with the pods
    /// a scale-down removes (both Retain unless set).
    static func retention(_ set: StatefulSet) -> (whenDeleted: Bool, whenScaled: Bool) {
        let policy = set.json[path: ["spec", "persistentVolumeClaimRetentionPolicy"]]
        return (policy?["whenDeleted"] == "Delete", policy?["whenScaled"] == "Delete")
    }

    /// The ownerReferences the retention policy gives a pod's claim, which the garbage
    /// collector then acts on: the set controls it when it goes with the set (WhenDeleted),
    /// the pod when it goes with a pod removed by a scale-down (WhenScaled). Another
    /// controller's claim, or one naming an earlier set or pod of the same name, is left to
    /// the garbage collector: only references to this set and pod are removed.
    static func claimOwners(_ claim: PersistentVolumeClaim, _ set: StatefulSet, pod: Pod, condemned: Bool) -> [OwnerReference] {
        let policy = retention(set)
        func isSet(_ ref: OwnerReference) -> Bool { ref.kind == "StatefulSet" && ref.name == set.name }
        func isPod(_ ref: OwnerReference) -> Bool { ref.kind == "Pod" && ref.name == pod.name }
        let refs = claim.ownerReferences
        let others = refs.filter { !isSet($0) && !isPod($0) }
        let unexpected = (policy.whenDeleted || policy.whenScaled) && refs.contains { ref in
            isSet(ref) ? ref.uid != set.uid : isPod(ref) ? ref.uid != pod.uid : ref.controller
        }
        if unexpected { return others }
        if policy.whenScaled && condemned { return others + [OwnerReference(controlledBy: pod)] }
        if policy.whenDeleted { return others + [OwnerReference(controlledBy: set)] }
        return others
    }

    /// Whether the pod of `ordinal` must not be made yet: one of its claims is going away, or
    /// still belongs to an earlier pod of that name (WhenScaled=Delete: the garbage collector
    /// is about to delete it).
    static func claimsHoldUp(_ set: StatefulSet, ordinal: Int, _ existing: [String: PersistentVolumeClaim]) -> Bool {
        let name = podName(set.name, ordinal)
        return claims(set, ordinal: ordinal).contains { claim in
            guard let found = existing[claim.body.name ?? ""] else { return false }
            return found.deletionTimestamp != nil
                || (retention(set).whenScaled && found.ownerReferences.contains { $0.kind == "Pod" && $0.name == name })
        }
    }

    /// The claims of the pod of `ordinal` that do not exist, with the owners the retention
    /// policy gives a live pod's claims.
    static func missingClaims(_ set: StatefulSet, ordinal: Int, _ existing: [String: PersistentVolumeClaim]) -> [JSONValue] {
        claims(set, ordinal: ordinal).compactMap { claim in
            guard existing[claim.body.name ?? ""] == nil else { return nil }
            var body = claim.body
            if retention(set).whenDeleted { body[path: ["metadata", "ownerReferences"]] = [OwnerReference(controlledBy: set).json] }
            return body
        }
    }

    // MARK: - The plan

    /// The plan for `set` over the pods, claims and ControllerRevisions of its namespace, at
    /// `now` (Unix seconds).
    public static func plan(_ set: StatefulSet, pods: [Pod], claims existingClaims: [PersistentVolumeClaim] = [],
                            revisions: [ControllerRevision] = [], now: Int) -> Plan {
        var plan = Plan()
        guard let selector = try? LabelSelector(json: set.selector), !selector.isEverything else { return plan }
        let deleting = set.deletionTimestamp != nil

        // The pods it controls: its own, and orphans named and labelled as its own.
        var controlled: [Pod] = []
        for pod in pods where pod.namespace == set.namespace {
            let matches = selector.matches(pod.labels) && parentAndOrdinal(pod.name)?.parent == set.name
            if let ref = pod.controllerReference {
                guard ref.uid == set.uid else { continue }
                if matches { controlled.append(pod) } else if !deleting && pod.deletionTimestamp == nil { plan.release.append(pod) }
            } else if matches && !deleting && pod.deletionTimestamp == nil {
                plan.adopt.append(pod)
                controlled.append(pod)
            }
        }
        // Its revisions: its own, and orphans its selector matches.
        plan.revisions = ControllerRevisions.resolve(set, revisions)
        let history = plan.revisions.history
        let update = plan.revisions.update, collisions = plan.revisions.collisionCount
        let current = Self.current(set, history, update: update)
        let currentTemplate = ControllerRevisions.template(of: current) ?? set.template

        // Pods by ordinal: those in [start, start + replicas), and the condemned beyond, highest first.
        let start = set.json[path: ["spec", "ordinals", "start"]]?.intValue ?? 0
        var slots = [Pod?](repeating: nil, count: max(0, set.replicas))
        var condemned: [(ordinal: Int, pod: Pod)] = []
        for pod in controlled {
            guard let ordinal = parentAndOrdinal(pod.name)?.ordinal else { continue }
            if ordinal >= start && ordinal - start < slots.count { slots[ordinal - start] = pod } else { condemned.append((ordinal, pod)) }
        }
        condemned.sort { $0.ordinal > $1.ordinal }
        let existing = slots.compactMap { $0 } + condemned.map { $0.pod }

        let minReady = set.json[path: ["spec", "minReadySeconds"]]?.intValue ?? 0
        let strategy = set.json[path: ["spec", "updateStrategy", "type"]]?.stringValue ?? "RollingUpdate"
        let partition = strategy == "RollingUpdate" ? set.json[path: ["spec", "updateStrategy", "rollingUpdate", "partition"]]?.intValue ?? 0 : 0
        var replacedForUpdate = 0
        func finish() -> Plan {
            if deleting {
                // A StatefulSet being deleted makes and removes nothing (the garbage collector acts).
                plan = Plan()
            } else {
                let live = Set([current.name, update.name] + controlled.compactMap { $0.labels[revisionLabel] })
                plan.prune = ControllerRevisions.prune(history, live: live,
                                                       limit: set.json[path: ["spec", "revisionHistoryLimit"]]?.intValue ?? 10)
            }
            plan.status = status(set, pods: existing, current: current.name, update: update.name, collisionCount: collisions,
                                 replacedForUpdate: replacedForUpdate, now: now)
            plan.recheckAt = existing.compactMap { availableSince($0, minReady: minReady) }.filter { $0 > now }.min()
            return plan
        }
        guard !deleting else { return finish() }

        // OrderedReady stops at the first pod that is not there, Running and Ready; Parallel goes on.
        let monotonic = set.json[path: ["spec", "podManagementPolicy"]]?.stringValue != "Parallel"
        let claimsByName = Dictionary(existingClaims.filter { $0.namespace == set.namespace }.map { ($0.name, $0) },
                                      uniquingKeysWith: { a, _ in a })
        // A name held by a pod the set does not control (another owner's, one just released)
        // cannot be made: the set waits, as Kubernetes does on the error (no retry in a loop).
        let taken = Set(pods.filter { $0.namespace == set.namespace }.map(\.name)).subtracting(controlled.map(\.name))
        let firstUnhealthy = slots.firstIndex { $0.map(isHealthy) != true }.map { start + $0 }
            ?? condemned.reversed().first { !isHealthy($0.pod) }?.ordinal

        for (index, slot) in slots.enumerated() {
            let ordinal = start + index
            guard let pod = slot else {
                if taken.contains(podName(set.name, ordinal)) || claimsHoldUp(set, ordinal: ordinal, claimsByName) {
                    if monotonic { return finish() } else { continue }
                }
                plan.createClaims += missingClaims(set, ordinal: ordinal, claimsByName)
                // Below the partition a pod is remade at the current revision, not the update one.
                let atCurrent = strategy == "RollingUpdate" && index < partition
                plan.create.append(newPod(set, template: atCurrent ? currentTemplate : set.template,
                                          revision: atCurrent ? current.name : update.name, ordinal: ordinal))
                if monotonic { return finish() } else { continue }
            }
            // A pod that ended (whatever its exit) is replaced by one of the same name, once it is gone.
            if pod.phase == "Failed" || pod.phase == "Succeeded" {
                if !isTerminating(pod) { plan.delete.append(pod) }
                if monotonic { return finish() } else { continue }
            }
            if pod.phase == "Pending" { plan.createClaims += missingClaims(set, ordinal: ordinal, claimsByName) }
            if monotonic && (isTerminating(pod) || !isAvailable(pod, minReady: minReady, now: now)) { return finish() }
            if pod.labels[podNameLabel] != pod.name {
                plan.relabel[pod.name] = [podNameLabel: pod.name, podIndexLabel: String(ordinal)]
            }
            reown(set, pod: pod, ordinal: ordinal, condemned: false, claimsByName, &plan)
        }

        // Scale down: the claims of condemned pods take the owners the policy gives them before
        // the pods go, then the pods go from the highest ordinal, once all others are healthy
        // (an unhealthy one goes only when it is the first unhealthy pod).
        for (ordinal, pod) in condemned { reown(set, pod: pod, ordinal: ordinal, condemned: true, claimsByName, &plan) }
        for (ordinal, pod) in condemned {
            if isTerminating(pod) {
                if monotonic { return finish() } else { continue }
            }
            if monotonic && !isAvailable(pod, minReady: minReady, now: now) && ordinal != firstUnhealthy { return finish() }
            plan.delete.append(pod)
            if monotonic { return finish() }
        }

        // The rolling update: from the highest ordinal down to the partition, the first pod not
        // at the update revision is deleted (and remade at it), once every pod above is healthy.
        if strategy == "RollingUpdate" {
            let doomed = Set(plan.delete.map(\.uid))
            for index in slots.indices.reversed() where index >= partition {
                guard let pod = slots[index], !doomed.contains(pod.uid) else { break }
                if pod.labels[revisionLabel] != update.name && !isTerminating(pod) {
                    plan.delete.append(pod)
                    replacedForUpdate += 1
                    break
                }
                if !isHealthy(pod) { break }
            }
        }
        return finish()
    }

    /// Puts the claims of `pod` under the owners the retention policy gives them.
    static func reown(_ set: StatefulSet, pod: Pod, ordinal: Int, condemned: Bool,
                      _ claimsByName: [String: PersistentVolumeClaim], _ plan: inout Plan) {
        for claim in claims(set, ordinal: ordinal) {
            guard let found = claimsByName[claim.body.name ?? ""], found.deletionTimestamp == nil else { continue }
            let owners = claimOwners(found, set, pod: pod, condemned: condemned)
            if owners != found.ownerReferences { plan.claimOwners[found.name] = owners }
        }
    }

    /// The status over the pods the set has: how many exist, are ready and available, are at
    /// the current and at the update revision. A rolling update whose pods are all updated and
    /// ready is complete: the update revision becomes the current one.
    static func status(_ set: StatefulSet, pods: [Pod], current: String, update: String, collisionCount: Int,
                       replacedForUpdate: Int, now: Int) -> JSONValue {
        let minReady = set.json[path: ["spec", "minReadySeconds"]]?.intValue ?? 0
        let ready = pods.filter(isRunningAndReady).count
        let available = pods.filter { isAvailable($0, minReady: minReady, now: now) }.count
        let live = pods.filter { !isTerminating($0) }
        var currentReplicas = live.filter { $0.labels[revisionLabel] == current }.count - replacedForUpdate
        let updated = live.filter { $0.labels[revisionLabel] == update }.count
        var currentRevision = current
        let strategy = set.json[path: ["spec", "updateStrategy", "type"]]?.stringValue ?? "RollingUpdate"
        if strategy == "RollingUpdate" && updated == pods.count && ready == pods.count {
            currentReplicas = updated
            currentRevision = update
        }
        return [
            "observedGeneration": .int(Int64(set.generation)), "replicas": .int(Int64(pods.count)),
            "readyReplicas": .int(Int64(ready)), "availableReplicas": .int(Int64(available)),
            "currentReplicas": .int(Int64(currentReplicas)), "updatedReplicas": .int(Int64(updated)),
            "currentRevision": .string(currentRevision), "updateRevision": .string(update),
            "collisionCount": .int(Int64(collisionCount)),
        ]
    }
}
