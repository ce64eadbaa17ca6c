public import APITypes
import APIMachinery
import Client
import JSON
import Logging
public import Metrics
import Synchronization

/// Writes core/v1 Events off the daemon's critical path, as client-go's event broadcaster
/// does: `record` only queues the Event, and a few writers send them while the daemon goes
/// on (the scheduler binds the next pod while the last one's `Scheduled` Event is on its
/// way). A repeat of the last message of a reason for an object adds to that Event's count
/// instead of making another (the broadcaster's aggregation, kept to what a controller that
/// repeats itself every pass needs). When more than `capacity` Events wait, the oldest are
/// dropped and counted: an Event is a record for people, never worth stalling the work it
/// describes; failing to write one is logged, never an error of the daemon.
public final class EventRecorder: Sendable {
    let client: APIClient
    let component: String
    let logger: Logger
    let stream: AsyncStream<JSONValue>
    let continuation: AsyncStream<JSONValue>.Continuation
    let dropped: Counter
    let written: Counter
    let writers: Int
    /// The last Event written per object and reason ("namespace/name|reason").
    let last = Mutex<[String: (name: String, namespace: String, message: String, count: Int)]>([:])

    init(client: APIClient, component: String, logger: Logger, factory: any MetricsFactory, capacity: Int = 10_000, writers: Int = 4) {
        self.client = client
        self.component = component
        self.logger = logger
        self.writers = writers
        (stream, continuation) = AsyncStream.makeStream(of: JSONValue.self, bufferingPolicy: .bufferingNewest(capacity))
        dropped = Counter(label: "netplane_events_dropped_total", factory: factory)
        written = Counter(label: "netplane_events_written_total", factory: factory)
    }

    /// Queues an Event about `object` (`type`: Normal or Warning).
    public func record<T: KubernetesObject>(_ object: T, type: String = "Normal", reason: String, message: String) {
        if type == "Warning" { logger.warning("\(reason): \(message)", metadata: ["object": "\(object.cacheKey)"]) }
        let now = JSONValue.string(APITime.format(APITime.now()))
        var involved: JSONValue = ["apiVersion": .string(T.resource.apiVersion), "kind": .string(T.resource.kind),
                                   "name": .string(object.name), "uid": .string(object.uid)]
        if let namespace = object.namespace { involved["namespace"] = .string(namespace) }
        let event: JSONValue = [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["generateName": .string(object.name + "."), "namespace": .string(object.namespace ?? "default")],
            "involvedObject": involved, "reason": .string(reason), "message": .string(message), "type": .string(type),
            "source": ["component": .string(component)], "reportingComponent": .string(component),
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        ]
        if case .dropped = continuation.yield(event) { dropped.increment() }
    }

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for await event in stream {
                if inFlight >= writers, await group.next() != nil { inFlight -= 1 }
                inFlight += 1
                group.addTask { [self] in await write(event) }
            }
        }
    }

    func write(_ event: JSONValue) async {
        let involved = event["involvedObject"] ?? .emptyObject
        let key = "\(involved["namespace"]?.stringValue ?? "")/\(involved["name"]?.stringValue ?? "")|\(event["reason"]?.stringValue ?? "")"
        let message = event["message"]?.stringValue ?? ""
        if let previous = last.withLock({ $0[key] }), previous.message == message {
            do {
                _ = try await client.patch(Event.resource, namespace: previous.namespace, name: previous.name,
                                           ["count": .int(Int64(previous.count + 1)), "lastTimestamp": event["lastTimestamp"] ?? .null])
                last.withLock { $0[key]?.count = previous.count + 1 }
                written.increment()
                return
            } catch {
                // Gone (Events expire): make a new one.
            }
        }
        do {
            let made = try await client.create(Event.resource, event)
            last.withLock { all in
                // Bounded: the aggregation is for repeats, not a record of every object.
                if all.count > 10_000 { all.removeAll(keepingCapacity: true) }
                all[key] = (made.name ?? "", made.namespace ?? "", message, 1)
            }
            written.increment()
        } catch {
            logger.debug("writing an event failed", metadata: ["reason": "\(event["reason"] ?? .null)", "error": "\(error)"])
        }
    }
}
