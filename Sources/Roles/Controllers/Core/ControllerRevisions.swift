public import APITypes
public import JSON
import APIMachinery

/// The history of a workload's pod templates as Kubernetes keeps it for StatefulSets and
/// DaemonSets: one ControllerRevision per template, `<owner>-<hash>`, whose `data` is the
/// strategic merge patch that puts the template back (what `kubectl rollout undo` sends) and
/// whose `revision` numbers count up (`kubectl rollout history`).
public enum ControllerRevisions {
    /// On a pod and on a ControllerRevision: which revision (a StatefulSet's pods carry the
    /// revision's name, a DaemonSet's its hash, as Kubernetes).
    public static let hashLabel = "controller-revision-hash"

    /// What the owner's revisions call for now.
    public struct Outcome: Sendable {
        /// Orphan revisions the owner's selector matches: take them over.
        public var adopt: [ControllerRevision] = []
        /// The revision of the current template, when none has its data yet.
        public var create: JSONValue?
        /// An older revision whose template is back (a rollback): its new number, by name.
        public var renumber: [String: Int] = [:]
        /// The revision the owner's pods should be at (its template now).
        public var update: ControllerRevision
        /// The revisions, oldest first, including `update`.
        public var history: [ControllerRevision]
        public var collisionCount: Int
    }

    /// What a revision keeps of its owner: the patch that puts its pod template back.
    public static func revisionData(_ template: JSONValue) -> JSONValue {
        var replacing = template
        replacing["$patch"] = "replace"
        return ["spec": ["template": replacing]]
    }

    /// The pod template a revision holds.
    public static func template(of revision: ControllerRevision) -> JSONValue? {
        guard var template = revision.json[path: ["data", "spec", "template"]] else { return nil }
        template["$patch"] = nil
        return template
    }

    public static func number(_ revision: ControllerRevision) -> Int { revision.json["revision"]?.intValue ?? 0 }

    /// The hash a revision's name ends with.
    public static func hash(of revision: ControllerRevision) -> String {
        revision.labels[hashLabel] ?? String(revision.name.split(separator: "-").last ?? "")
    }

    /// The revision of the owner's current template: `<owner>-<hash of its data>`, labelled as
    /// the template is (so `kubectl rollout history` finds it by the owner's selector),
    /// annotated as the owner is (its change-cause), controlled by the owner.
    public static func newRevision<Owner: PodTemplateOwner>(_ owner: Owner, number: Int, collisionCount: Int = 0) -> JSONValue {
        let data = revisionData(owner.template)
        let hash = Deployments.templateHash(data, collisionCount: collisionCount)
        var labels = stringMap(owner.template[path: ["metadata", "labels"]])
        labels[hashLabel] = hash
        var metadata: JSONValue = ["name": .string("\(owner.name.prefix(223))-\(hash)"), "namespace": .string(owner.namespace ?? ""),
                                   "labels": .object(labels.mapValues(JSONValue.string)),
                                   "ownerReferences": [OwnerReference(controlledBy: owner).json]]
        if !owner.annotations.isEmpty { metadata["annotations"] = .object(owner.annotations.mapValues(JSONValue.string)) }
        return ["apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": metadata, "data": data,
                "revision": .int(Int64(number))]
    }

    /// Oldest first, as Kubernetes sorts them.
    static func byNumber(_ a: ControllerRevision, _ b: ControllerRevision) -> Bool {
        number(a) != number(b) ? number(a) < number(b) : a.name < b.name
    }

    /// The owner's revisions among those of its namespace (its own, and orphans its selector
    /// matches unless it is being deleted), and the revision its template is at: an existing
    /// one with the same data — renumbered as the newest when it is an older one — or a new
    /// one, named past any hash collision.
    public static func resolve<Owner: PodTemplateOwner>(_ owner: Owner, _ revisions: [ControllerRevision]) -> Outcome {
        let selector = (try? LabelSelector(json: owner.selector)) ?? LabelSelector(requirements: [])
        var history: [ControllerRevision] = [], adopt: [ControllerRevision] = []
        for revision in revisions where revision.namespace == owner.namespace {
            if let ref = revision.controllerReference {
                if ref.uid == owner.uid { history.append(revision) }
            } else if !selector.isEverything, selector.matches(revision.labels), revision.deletionTimestamp == nil,
                      owner.deletionTimestamp == nil {
                adopt.append(revision)
                history.append(revision)
            }
        }
        history.sort(by: byNumber)
        var collisions = owner.json[path: ["status", "collisionCount"]]?.intValue ?? 0
        let next = (history.last.map(number) ?? 0) + 1
        let data = revisionData(owner.template)
        var outcome = Outcome(adopt: adopt, update: ControllerRevision(json: .emptyObject), history: history, collisionCount: collisions)
        if let last = history.last, last.json["data"] == data {
            outcome.update = last
        } else if let i = history.lastIndex(where: { $0.json["data"] == data }) {
            history[i].json["revision"] = .int(Int64(next))
            outcome.renumber[history[i].name] = next
            outcome.update = history[i]
            outcome.history = history.sorted(by: byNumber)
        } else {
            var body = newRevision(owner, number: next, collisionCount: collisions)
            // A name already held by other data is a hash collision: count it, so the name differs.
            while let taken = history.first(where: { $0.name == body.name }), taken.json["data"] != data {
                collisions += 1
                body = newRevision(owner, number: next, collisionCount: collisions)
            }
            outcome.create = body
            outcome.update = ControllerRevision(json: body)
            outcome.history = history + [outcome.update]
            outcome.collisionCount = collisions
        }
        return outcome
    }

    /// The revisions beyond `limit` that no pod and no status still names, oldest first.
    public static func prune(_ history: [ControllerRevision], live: Set<String>, limit: Int) -> [String] {
        let old = history.filter { !live.contains($0.name) && !live.contains(hash(of: $0)) }
        return old.count > limit ? old.prefix(old.count - limit).map(\.name) : []
    }
}
