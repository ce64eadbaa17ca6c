import Metrics
import Synchronization

/// kube-apiserver's request metrics, for Prometheus to scrape from `/metrics`:
/// `apiserver_request_total{verb,group,version,resource,subresource,code}` and
/// `apiserver_request_duration_seconds{verb,group,version,resource,subresource}` (not for
/// watches, which last as long as their clients keep them, as kube leaves them out too).
/// Through swift-metrics: the process's bootstrapped factory (`netplane apiserver` bootstraps
/// Prometheus), nothing when none is. One counter and one timer per label set, made once.
final class RequestMetrics: Sendable {
    private struct Labels: Hashable {
        var verb, group, version, resource, subresource: String
    }
    private struct CounterKey: Hashable {
        var labels: Labels
        var code: Int
    }
    private let counters = Mutex<[CounterKey: Counter]>([:])
    private let timers = Mutex<[Labels: Timer]>([:])

    func record(_ request: APIRequest, _ route: Route?, code: Int, since start: ContinuousClock.Instant) {
        let labels = if case .resource(let r)? = route {
            Labels(verb: APIServer.verb(request, r), group: r.resource.group, version: r.resource.version,
                   resource: r.resource.plural, subresource: r.subresource ?? "")
        } else {
            Labels(verb: request.method.lowercased(), group: "", version: "", resource: "", subresource: "")
        }
        let key = CounterKey(labels: labels, code: code)
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: "apiserver_request_total", dimensions: Self.dimensions(labels) + [("code", String(code))])
            counters[key] = counter
            return counter
        }
        counter.increment()
        guard labels.verb != "watch" else { return }
        let timer = timers.withLock { timers in
            if let timer = timers[labels] { return timer }
            let timer = Timer(label: "apiserver_request_duration_seconds", dimensions: Self.dimensions(labels))
            timers[labels] = timer
            return timer
        }
        timer.record(duration: ContinuousClock.now - start)
    }

    private static func dimensions(_ labels: Labels) -> [(String, String)] {
        [("verb", labels.verb), ("group", labels.group), ("version", labels.version),
         ("resource", labels.resource), ("subresource", labels.subresource)]
    }
}

extension APIResponse {
    /// The HTTP status the answer goes out with (a stream or a watch starts with 200).
    var statusCode: Int {
        switch self {
        case .json(let status, _), .bytes(let status, _, _): status
        case .stream, .watch: 200
        }
    }
}
