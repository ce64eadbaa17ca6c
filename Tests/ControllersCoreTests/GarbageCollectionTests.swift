import APITypes
import ControllersCore
import Testing

/// The garbage collector's decisions on hand-made graphs.
@Suite struct GarbageCollectionTests {
    typealias Node = GarbageCollection.Node

    static func node(_ name: String, uid: String, owners: [String] = [], blocking: Bool = true, finalizers: [String] = [],
                     deleting: Bool = false) -> Node {
        Node(resource: "replicasets.apps", namespace: "default", name: name, uid: uid, resourceVersion: "1",
             owners: owners.map { OwnerReference(apiVersion: "apps/v1", kind: "ReplicaSet", name: "o-\($0)", uid: $0,
                                                 controller: true, blockOwnerDeletion: blocking) },
             finalizers: finalizers, beingDeleted: deleting)
    }

    @Test func anObjectWhoseOwnersAreAllGoneIsDeletedAfterConfirmation() {
        let orphan = Self.node("pod", uid: "p", owners: ["gone"])
        #expect(GarbageCollection.plan([orphan]) == [.deleteIfOwnersGone(orphan, owners: orphan.owners)])
    }

    @Test func anObjectWithOneOwnerLeftLosesOnlyTheReferencesToTheGoneOnes() {
        let owner = Self.node("rs", uid: "a")
        let pod = Self.node("pod", uid: "p", owners: ["a", "gone"])
        #expect(GarbageCollection.plan([owner, pod]) == [.removeOwnerReferences(pod, uids: ["gone"], confirm: true)])
    }

    @Test func orphaningReleasesDependentsThenTheOwner() {
        let owner = Self.node("rs", uid: "a", finalizers: ["orphan"], deleting: true)
        let pod = Self.node("pod", uid: "p", owners: ["a"])
        #expect(GarbageCollection.plan([owner, pod]) == [.removeOwnerReferences(pod, uids: ["a"], confirm: false)])
        // Once released, the owner goes.
        let released = Self.node("pod", uid: "p")
        #expect(GarbageCollection.plan([owner, released]) == [.removeFinalizer(owner, "orphan")])
    }

    @Test func foregroundDeletionWaitsForBlockingDependentsAllTheWayDown() {
        let deployment = Self.node("deploy", uid: "d", finalizers: ["foregroundDeletion"], deleting: true)
        let replicaSet = Self.node("rs", uid: "r", owners: ["d"])
        let pod = Self.node("pod", uid: "p", owners: ["r"])
        // The ReplicaSet has a dependent of its own, so it is deleted in the foreground too.
        #expect(GarbageCollection.plan([deployment, replicaSet, pod]) == [.deleteDependent(replicaSet, foreground: true)])
        // While it is being deleted (held by its own finalizer), the Deployment keeps waiting.
        let going = Self.node("rs", uid: "r", owners: ["d"], finalizers: ["foregroundDeletion"], deleting: true)
        #expect(GarbageCollection.plan([deployment, going, pod]) == [.deleteDependent(pod, foreground: false)])
        // A dependent that does not block is deleted but not waited for.
        let loose = Self.node("rs", uid: "r", owners: ["d"], blocking: false)
        #expect(GarbageCollection.plan([deployment, loose]) == [.deleteDependent(loose, foreground: false),
                                                                  .removeFinalizer(deployment, "foregroundDeletion")])
        // No dependents left: the owner is released.
        #expect(GarbageCollection.plan([deployment]) == [.removeFinalizer(deployment, "foregroundDeletion")])
    }

    @Test func objectsWithLiveOwnersAreLeftAlone() {
        let owner = Self.node("rs", uid: "a")
        let pod = Self.node("pod", uid: "p", owners: ["a"])
        #expect(GarbageCollection.plan([owner, pod]).isEmpty)
    }
}
