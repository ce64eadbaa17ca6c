import HeapModule

/// kube-scheduler's scheduling queue: pending pods wait in one of three places.
/// - **active**: ready to try, highest priority first, then the earliest arrival;
/// - **back-off**: tried and failed, ready again after 1 s doubling per attempt up to 10 s;
/// - **unschedulable**: fitted nowhere; they stay until a cluster event (a node added or
///   changed, a pod removed) might make room, or 5 minutes pass.
/// A pod is popped for one attempt at a time; the scheduler then reports it bound, or
/// unschedulable, or failed. An event that arrives while a pod is being tried sends it to
/// back-off rather than to the unschedulable set (the event might be the one it waits for).
public struct SchedulingQueue: Sendable {
    public typealias Instant = ContinuousClock.Instant

    struct Entry: Sendable {
        var pod: Scheduling.PodInfo
        var attempts = 0
        var lastAttempt: Instant?
        var place: Place
        /// Which heap item is current (an update pushes a new one; older ones are skipped).
        var generation = 0
    }

    enum Place: Sendable { case active, backoff, unschedulable(since: Instant), inFlight(eventSeen: Bool, updated: Bool) }

    struct Ticket: Comparable, Sendable {
        var priority: Int
        var arrival: Int
        var key: String
        var generation: Int
        // The heap's max is the most urgent: higher priority, then earlier arrival.
        static func < (a: Ticket, b: Ticket) -> Bool {
            a.priority != b.priority ? a.priority < b.priority : a.arrival > b.arrival
        }
    }

    var entries: [String: Entry] = [:]
    var active = Heap<Ticket>()
    var arrivals = 0

    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var maxUnschedulable: Duration

    public init(initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(10), maxUnschedulable: Duration = .seconds(300)) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.maxUnschedulable = maxUnschedulable
    }

    public var counts: (active: Int, backoff: Int, unschedulable: Int) {
        var c = (active: 0, backoff: 0, unschedulable: 0)
        for e in entries.values {
            switch e.place {
            case .active: c.active += 1
            case .backoff: c.backoff += 1
            case .unschedulable: c.unschedulable += 1
            case .inFlight: break
            }
        }
        return c
    }

    public func contains(_ key: String) -> Bool { entries[key] != nil }

    /// Every pod the queue holds, wherever it waits.
    public var keys: [String] { Array(entries.keys) }

    /// A change to a waiting pod that does not make it worth trying again (its status): the
    /// queue keeps the new object where the old one was.
    public mutating func refresh(_ pod: Scheduling.PodInfo) {
        entries[pod.key]?.pod = pod
    }

    /// A pending pod seen or changed: new pods go to active; a changed one waiting out a
    /// failure is tried again (its change may be the fix).
    public mutating func add(_ pod: Scheduling.PodInfo) {
        guard var entry = entries[pod.key] else {
            entries[pod.key] = Entry(pod: pod, place: .active)
            push(pod.key)
            return
        }
        entry.pod = pod
        switch entry.place {
        case .inFlight(let seen, _): entry.place = .inFlight(eventSeen: seen, updated: true)
        case .active, .backoff, .unschedulable: entry.place = .active
        }
        entries[pod.key] = entry
        if case .active = entry.place { push(pod.key) }
    }

    public mutating func remove(_ key: String) { entries[key] = nil }

    /// The most urgent active pod, now in flight.
    public mutating func pop() -> Scheduling.PodInfo? {
        while let ticket = active.popMax() {
            guard var entry = entries[ticket.key], entry.generation == ticket.generation, case .active = entry.place else { continue }
            entry.place = .inFlight(eventSeen: false, updated: false)
            entry.attempts += 1
            entries[ticket.key] = entry
            return entry.pod
        }
        return nil
    }

    /// The attempt bound the pod: it leaves the queue.
    public mutating func done(_ key: String) { entries[key] = nil }

    /// The attempt found no node: unschedulable, unless something changed meanwhile.
    public mutating func unschedulable(_ key: String, now: Instant) {
        guard var entry = entries[key], case .inFlight(let seen, let updated) = entry.place else { return }
        entry.lastAttempt = now
        entry.place = updated ? .active : seen ? .backoff : .unschedulable(since: now)
        entries[key] = entry
        if updated { push(key) }
    }

    /// The attempt failed on an error (binding refused): back off and try again.
    public mutating func failed(_ key: String, now: Instant) {
        guard var entry = entries[key], case .inFlight = entry.place else { return }
        entry.lastAttempt = now
        entry.place = .backoff
        entries[key] = entry
    }

    /// A change in the cluster that may make room: every unschedulable pod goes back (to
    /// back-off while its back-off lasts, else to active).
    public mutating func clusterChanged(now: Instant) {
        for (key, var entry) in entries {
            switch entry.place {
            case .unschedulable:
                entry.place = .backoff
                entries[key] = entry
            case .inFlight(_, let updated):
                entry.place = .inFlight(eventSeen: true, updated: updated)
                entries[key] = entry
            case .active, .backoff: break
            }
        }
        flush(now: now)
    }

    /// Moves pods whose back-off is over, and those unschedulable for too long, to active.
    public mutating func flush(now: Instant) {
        for (key, var entry) in entries {
            switch entry.place {
            case .backoff where backoffEnd(entry) <= now, .unschedulable(since: _) where isStale(entry, now):
                entry.place = .active
                entries[key] = entry
                push(key)
            default: break
            }
        }
    }

    func isStale(_ entry: Entry, _ now: Instant) -> Bool {
        if case .unschedulable(let since) = entry.place { return now - since >= maxUnschedulable }
        return false
    }

    func backoffEnd(_ entry: Entry) -> Instant {
        guard let last = entry.lastAttempt else { return .now - .seconds(3600) }
        var wait = initialBackoff
        for _ in 1..<max(1, entry.attempts) where wait < maxBackoff { wait = wait * 2 }
        return last + min(wait, maxBackoff)
    }

    /// When `flush` next has something to move, if ever.
    public func nextChange() -> Instant? {
        var next: Instant?
        for entry in entries.values {
            let at: Instant
            switch entry.place {
            case .backoff: at = backoffEnd(entry)
            case .unschedulable(let since): at = since + maxUnschedulable
            default: continue
            }
            next = next.map { min($0, at) } ?? at
        }
        return next
    }

    mutating func push(_ key: String) {
        guard var entry = entries[key] else { return }
        entry.generation += 1
        arrivals += 1
        entries[key] = entry
        active.insert(Ticket(priority: entry.pod.priority, arrival: arrivals, key: key, generation: entry.generation))
    }
}
