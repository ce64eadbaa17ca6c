import APIMachinery
import Client
public import DaemonRuntime
import Logging

/// The service account controller of `netplane controllers`: every active namespace has a
/// ServiceAccount named `default` (pods that name none run as it), made again when deleted.
public final class ServiceAccountController: Sendable {
    let daemon: Daemon
    let work = WorkQueue()
    let loop: SyncLoop
    let namespaces: Informer<Namespace>
    let accounts: Informer<ServiceAccount>
    var logger: Logger { daemon.logger }

    public init(daemon: Daemon, resyncPeriod: Duration) {
        self.daemon = daemon
        let work = work
        namespaces = daemon.informer(Namespace.self) { event in work.mark(event.object.name) }
        // Only the default accounts matter: one deleted is made again.
        accounts = daemon.informer(ServiceAccount.self, options: ListOptions(fieldSelector: "metadata.name=default")) { event in
            if case .deleted(let account) = event { work.mark(account.namespace ?? "") }
        }
        loop = daemon.syncLoop(work, .init(resyncPeriod: resyncPeriod, name: "serviceaccount"))
    }

    public func run() async throws {
        try await runKeyed(daemon, loop, work, "serviceaccounts", all: { namespaces.list().map(\.name) }) { name throws(ClientError) in
            try await sync(name)
        }
    }

    func sync(_ namespace: String) async throws(ClientError) {
        guard let object = namespaces.get(name: namespace), object.deletionTimestamp == nil, object.phase != "Terminating",
              accounts.get(namespace: namespace, name: "default") == nil else { return }
        do {
            _ = try await daemon.client.create(ServiceAccount(name: "default", namespace: namespace))
            logger.info("service account created", metadata: ["namespace": "\(namespace)", "name": "default"])
        } catch where error.isAlreadyExists {
            return
        }
    }
}
