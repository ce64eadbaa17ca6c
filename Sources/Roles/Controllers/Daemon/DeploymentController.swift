import APIMachinery
import Client
import ControllersCore
public import DaemonRuntime
import JSON
import Logging

/// The Deployment controller of `netplane controllers`: carries out `Deployments.plan` —
/// the ReplicaSet of the current template, the rollout's scaling, the revision, the history
/// limit — and writes the Deployment's status. The ReplicaSet controller makes the pods.
public final class DeploymentController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let deployments: Informer<Deployment>
    let replicaSets: Informer<ReplicaSet>
    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    static let namespaceIndex = "namespace"

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        deployments = daemon.informer(Deployment.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            work.mark(event.object.cacheKey)
        }
        let deployments = deployments
        replicaSets = daemon.informer(ReplicaSet.self, indexers: [Self.namespaceIndex: { [$0.namespace ?? ""] }]) { event in
            var versions = [event.object]
            if case .updated(let old, _) = event { versions.append(old) }
            for rs in versions {
                if let ref = rs.controllerReference, ref.kind == "Deployment" { work.mark("\(rs.namespace ?? "")/\(ref.name)") }
                // An orphan may be some Deployment's to adopt.
                if rs.controllerReference == nil {
                    for deployment in deployments.byIndex(Self.namespaceIndex, rs.namespace ?? "") { work.mark(deployment.cacheKey) }
                }
            }
        }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "deployment"))
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "deployments", all: { deployments.list().map(\.cacheKey) }) { key throws(ClientError) in
            try await sync(key)
        }
    }

    func sync(_ key: String) async throws(ClientError) {
        guard let (namespace, name) = namespaceAndName(key), let deployment = deployments.get(namespace: namespace, name: name),
              deployment.deletionTimestamp == nil else { return }
        let claimed = Deployments.claim(deployment, replicaSets.byIndex(Self.namespaceIndex, namespace))
        for rs in claimed.adopt {
            try await client.adopt(rs, by: deployment)
            logger.info("adopted a ReplicaSet", metadata: ["deployment": "\(key)", "replicaset": "\(rs.name)"])
        }
        for rs in claimed.release {
            try await client.release(rs, from: deployment)
            logger.info("released a ReplicaSet its selector no longer matches", metadata: ["deployment": "\(key)", "replicaset": "\(rs.name)"])
        }
        let owned = claimed.owned
        let plan = Deployments.plan(deployment, owned: owned, now: APITime.now())
        if let body = plan.create {
            do {
                _ = try await client.create(ReplicaSet.resource, body)
                logger.info("created a ReplicaSet", metadata: ["deployment": "\(key)", "replicaset": "\(body.name ?? "")",
                                                               "replicas": "\(body[path: ["spec", "replicas"]]?.intValue ?? 0)"])
            } catch {
                guard error.isAlreadyExists else { throw error }
                // Its name is taken by a ReplicaSet that is not this Deployment's (a hash
                // collision): count it, so the next name differs, as Kubernetes does.
                let taken = try await client.get(ReplicaSet.self, namespace: namespace, name: body.name ?? "")
                if taken.controllerReference?.uid != deployment.uid {
                    var updated = deployment.json
                    updated[path: ["status", "collisionCount"]] = .int(Int64((deployment.json[path: ["status", "collisionCount"]]?.intValue ?? 0) + 1))
                    _ = try await client.update(Deployment.resource, updated, subresource: "status")
                }
                throw error
            }
        }
        for name in plan.scale.keys.sorted() {
            guard let rs = owned.first(where: { $0.name == name }) else { continue }
            let replicas = plan.scale[name]!
            var annotations: JSONValue = [Deployments.desiredReplicasAnnotation: .string(String(deployment.replicas))]
            // The current template's ReplicaSet carries the Deployment's revision.
            if Deployments.isCurrent(rs, of: deployment), Deployments.revision(rs) < plan.revision {
                annotations[Deployments.revisionAnnotation] = .string(String(plan.revision))
            }
            let patch: JSONValue = ["metadata": ["annotations": annotations], "spec": ["replicas": .int(Int64(replicas))]]
            _ = try await client.patch(ReplicaSet.self, namespace: namespace, name: name, patch)
            if replicas != rs.replicas {
                logger.info("scaled a ReplicaSet", metadata: ["deployment": "\(key)", "replicaset": "\(name)", "from": "\(rs.replicas)", "to": "\(replicas)"])
            }
        }
        for name in plan.prune {
            do { try await client.delete(ReplicaSet.resource, namespace: namespace, name: name) } catch {
                if !error.isNotFound { throw error }
            }
        }
        var latest = deployment
        if deployment.annotations[Deployments.revisionAnnotation] != String(plan.revision) {
            latest = try await client.patch(Deployment.self, namespace: namespace, name: deployment.name,
                                            ["metadata": ["annotations": [Deployments.revisionAnnotation: .string(String(plan.revision))]]])
        }
        try await client.writeStatus(latest, plan.status)
    }
}
