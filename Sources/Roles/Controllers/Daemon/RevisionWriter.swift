import APIMachinery
import Client
import ControllersCore
import JSON
import Logging

/// Writes what `ControllerRevisions.resolve` decided for a StatefulSet or a DaemonSet: orphan
/// revisions adopted, the current template's revision created (its name already taken by the
/// same data of this owner means the cache was behind; by anything else, a hash collision,
/// counted in the owner's status so the next name differs, as Kubernetes does), an older
/// revision renumbered as the newest (a rollback).
func writeRevisions<Owner: PodTemplateOwner>(_ outcome: ControllerRevisions.Outcome, of owner: Owner, client: APIClient,
                                             logger: Logger) async throws(ClientError) {
    let what = Owner.resource.singular
    for revision in outcome.adopt { try await client.adopt(revision, by: owner) }
    if let body = outcome.create {
        do {
            _ = try await client.create(ControllerRevision.resource, body)
            logger.info("created a ControllerRevision", metadata: [what: "\(owner.cacheKey)", "revision": "\(body.name ?? "")",
                                                                  "number": "\(body["revision"]?.intValue ?? 0)"])
        } catch {
            guard error.isAlreadyExists else { throw error }
            let taken = try await client.get(ControllerRevision.self, namespace: owner.namespace, name: body.name ?? "")
            if taken.json["data"] == body["data"], taken.controllerReference?.uid == owner.uid { return }
            var updated = owner.json
            updated[path: ["status", "collisionCount"]] = .int(Int64((owner.json[path: ["status", "collisionCount"]]?.intValue ?? 0) + 1))
            _ = try await client.update(Owner.resource, updated, subresource: "status")
            throw error
        }
    }
    for (revision, number) in outcome.renumber.sorted(by: { $0.key < $1.key }) {
        _ = try await client.patch(ControllerRevision.self, namespace: owner.namespace, name: revision, ["revision": .int(Int64(number))])
        logger.info("template of an older revision is back", metadata: [what: "\(owner.cacheKey)", "revision": "\(revision)", "number": "\(number)"])
    }
}

/// Deletes old revisions (one gone already is no error).
func pruneRevisions(_ names: [String], namespace: String?, client: APIClient) async throws(ClientError) {
    for name in names {
        do { try await client.delete(ControllerRevision.resource, namespace: namespace, name: name) } catch {
            if !error.isNotFound { throw error }
        }
    }
}
