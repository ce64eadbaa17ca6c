public import APITypes

/// The garbage collector's decisions over a snapshot of objects and their ownerReferences, as
/// kube-controller-manager's garbage collector makes them:
/// - an owner deleted with `propagationPolicy=Orphan` (finalizer `orphan`) releases its
///   dependents (their reference to it is removed), then loses the finalizer and goes;
/// - an owner deleted with `Foreground` (finalizer `foregroundDeletion`) has its dependents
///   deleted first and loses the finalizer once no dependent with `blockOwnerDeletion` is left;
/// - an object all of whose owners are gone is deleted (Background deletion of an owner ends
///   here); one with some owners gone loses the references to those.
/// "Gone" in the snapshot is only a suspicion (a cache may lag behind a just-created owner):
/// the daemon confirms it with the API before acting on it.
public enum GarbageCollection {
    /// One object as the collector sees it.
    public struct Node: Sendable, Hashable {
        /// The resource's qualified name ("replicasets.apps") for the daemon to act on it.
        public var resource: String
        public var namespace: String?
        public var name: String
        public var uid: String
        /// For changes conditional on the object being as seen.
        public var resourceVersion: String
        public var owners: [OwnerReference]
        public var finalizers: [String]
        public var beingDeleted: Bool

        public init(resource: String, namespace: String?, name: String, uid: String, resourceVersion: String = "",
                    owners: [OwnerReference], finalizers: [String], beingDeleted: Bool) {
            self.resource = resource
            self.namespace = namespace
            self.name = name
            self.uid = uid
            self.resourceVersion = resourceVersion
            self.owners = owners
            self.finalizers = finalizers
            self.beingDeleted = beingDeleted
        }
    }

    public enum Action: Sendable, Hashable {
        /// Delete a dependent of an owner being deleted in the foreground (in the foreground
        /// itself when it has dependents of its own, so the cascade waits all the way down).
        case deleteDependent(Node, foreground: Bool)
        /// Delete an object whose owners all seem gone (confirm first).
        case deleteIfOwnersGone(Node, owners: [OwnerReference])
        /// Remove references: to an owner orphaning its dependents (`confirm` false), or to
        /// owners that seem gone while others remain (`confirm` true).
        case removeOwnerReferences(Node, uids: Set<String>, confirm: Bool)
        /// The owner's dependents are dealt with: remove the finalizer that held it.
        case removeFinalizer(Node, String)
    }

    public static let orphanFinalizer = "orphan"
    public static let foregroundFinalizer = "foregroundDeletion"

    /// Everything to do now, in a stable order.
    public static func plan(_ nodes: [Node]) -> [Action] {
        var byUID: [String: Node] = [:]
        var dependents: [String: [Node]] = [:]
        for node in nodes {
            byUID[node.uid] = node
            for owner in node.owners { dependents[owner.uid, default: []].append(node) }
        }
        var actions: [Action] = []
        var handled = Set<String>()   // dependents an owner's deletion already deals with
        for owner in nodes where owner.beingDeleted {
            let mine = dependents[owner.uid] ?? []
            if owner.finalizers.contains(orphanFinalizer) {
                for dependent in mine {
                    actions.append(.removeOwnerReferences(dependent, uids: [owner.uid], confirm: false))
                    handled.insert(dependent.uid)
                }
                if mine.isEmpty { actions.append(.removeFinalizer(owner, orphanFinalizer)) }
            } else if owner.finalizers.contains(foregroundFinalizer) {
                for dependent in mine where !dependent.beingDeleted {
                    actions.append(.deleteDependent(dependent, foreground: !(dependents[dependent.uid] ?? []).isEmpty))
                    handled.insert(dependent.uid)
                }
                let blocking = mine.filter { dependent in
                    dependent.owners.contains { $0.uid == owner.uid && $0.blockOwnerDeletion }
                }
                if blocking.isEmpty { actions.append(.removeFinalizer(owner, foregroundFinalizer)) }
            }
        }
        for node in nodes where !node.owners.isEmpty && !node.beingDeleted && !handled.contains(node.uid) {
            // An owner named by uid but absent from the snapshot, or present under another uid.
            let missing = node.owners.filter { byUID[$0.uid] == nil }
            if missing.isEmpty { continue }
            if missing.count == node.owners.count {
                actions.append(.deleteIfOwnersGone(node, owners: missing))
            } else {
                actions.append(.removeOwnerReferences(node, uids: Set(missing.map(\.uid)), confirm: true))
            }
        }
        return actions
    }
}
