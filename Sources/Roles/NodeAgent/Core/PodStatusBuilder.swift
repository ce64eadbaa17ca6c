import APIMachinery
public import JSON

/// What the agent saw of one container, the input of a pod's status.
public struct ContainerObservation: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case waiting(reason: String, message: String?)
        case running(startedAt: Int)
        case terminated(exitCode: Int, reason: String, message: String?, startedAt: Int?, finishedAt: Int)
    }

    public var name: String
    public var image: String
    public var imageID: String
    public var containerID: String?
    public var state: State
    public var lastState: State?
    public var restartCount: Int
    public var ready: Bool
    /// Whether the startup probe (if any) has passed; nil when it has none and never ran.
    public var started: Bool

    public init(name: String, image: String, imageID: String = "", containerID: String? = nil, state: State,
                lastState: State? = nil, restartCount: Int = 0, ready: Bool = false, started: Bool = false) {
        self.name = name
        self.image = image
        self.imageID = imageID
        self.containerID = containerID
        self.state = state
        self.lastState = lastState
        self.restartCount = restartCount
        self.ready = ready
        self.started = started
    }

    public var isRunning: Bool { if case .running = state { true } else { false } }
    public var exitCode: Int? { if case .terminated(let code, _, _, _, _) = state { code } else { nil } }
}

/// A pod's status from what the agent observed, with the kubelet's rules for phase and
/// conditions.
public enum PodStatusBuilder {
    /// The kubelet's getPhase: Pending until every init container succeeded and every
    /// container started; Running while one runs or restarts; Succeeded or Failed once all
    /// ended and the restart policy lets them stay ended.
    public static func phase(restartPolicy: String, initContainers: [ContainerObservation],
                             containers: [ContainerObservation]) -> String {
        for c in initContainers {
            if let code = c.exitCode, code != 0, restartPolicy == "Never" { return "Failed" }
        }
        if initContainers.contains(where: { $0.exitCode != 0 }) { return "Pending" }
        var running = 0, waiting = 0, stopped = 0, succeeded = 0
        for c in containers {
            switch c.state {
            case .running: running += 1
            case .terminated(let code, _, _, _, _):
                stopped += 1
                if code == 0 { succeeded += 1 }
            case .waiting:
                if case .terminated = c.lastState { stopped += 1 } else { waiting += 1 }
            }
        }
        if waiting > 0 { return "Pending" }
        if running > 0 { return "Running" }
        guard stopped > 0 else { return "Pending" }
        if restartPolicy == "Always" { return "Running" }
        if stopped == succeeded { return "Succeeded" }
        if restartPolicy == "Never" { return "Failed" }
        return "Running"
    }

    /// The QoS class the API shows: Guaranteed when every container's limits equal its
    /// requests for cpu and memory, BestEffort when none has any, Burstable otherwise.
    public static func qosClass(_ pod: JSONValue) -> String {
        let containers = (pod[path: ["spec", "containers"]]?.arrayValue ?? []) + (pod[path: ["spec", "initContainers"]]?.arrayValue ?? [])
        var any = false, guaranteed = true
        for c in containers {
            let limits = c[path: ["resources", "limits"]]?.objectValue ?? [:]
            let requests = c[path: ["resources", "requests"]]?.objectValue ?? [:]
            if !limits.isEmpty || !requests.isEmpty { any = true }
            for resource in ["cpu", "memory"] {
                guard let limit = limits[resource] else { guaranteed = false; continue }
                if let request = requests[resource], request != limit { guaranteed = false }
            }
        }
        return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable"
    }

    /// The pod's whole status. `previous` is the status the pod has now (its conditions keep
    /// their transition times while they hold).
    public static func status(pod: JSONValue, sandboxReady: Bool, podIPs: [String], hostIP: String?, startTime: Int?,
                              initContainers: [ContainerObservation], containers: [ContainerObservation],
                              reason: String? = nil, message: String? = nil, now: Int) -> JSONValue {
        let previous = pod["status"] ?? .emptyObject
        let restartPolicy = pod[path: ["spec", "restartPolicy"]]?.stringValue ?? "Always"
        let phase = phase(restartPolicy: restartPolicy, initContainers: initContainers, containers: containers)
        let initDone = initContainers.allSatisfy { $0.exitCode == 0 }
        let unready = containers.filter { !$0.ready }.map(\.name)
        let incomplete = initContainers.filter { $0.exitCode != 0 }.map(\.name)
        // A pod that ended has no ready containers: kubelet reports Ready False with PodCompleted.
        let terminal = phase == "Succeeded" || phase == "Failed"

        var conditions: [JSONValue] = []
        func condition(_ type: String, _ ok: Bool, _ reason: String? = nil, _ message: String? = nil) {
            let status = ok ? "True" : "False"
            let old = previous["conditions"]?.arrayValue?.first { $0["type"]?.stringValue == type }
            let since = old?["status"]?.stringValue == status ? old?["lastTransitionTime"] : nil
            var c: JSONValue = ["type": .string(type), "status": .string(status), "lastProbeTime": nil,
                                "lastTransitionTime": since ?? .string(APITime.format(now))]
            if !ok, let reason { c["reason"] = .string(reason) }
            if !ok, let message { c["message"] = .string(message) }
            conditions.append(c)
        }
        condition("PodReadyToStartContainers", sandboxReady)
        condition("Initialized", initDone, "ContainersNotInitialized", "containers with incomplete status: [\(incomplete.joined(separator: " "))]")
        let ready = !terminal && unready.isEmpty && initDone
        let notReadyReason = terminal ? "PodCompleted" : "ContainersNotReady"
        let notReadyMessage = terminal ? nil : "containers with unready status: [\(unready.joined(separator: " "))]"
        condition("ContainersReady", ready, notReadyReason, notReadyMessage)
        condition("Ready", ready, notReadyReason, notReadyMessage)
        if let scheduled = previous["conditions"]?.arrayValue?.first(where: { $0["type"]?.stringValue == "PodScheduled" }) {
            conditions.append(scheduled)
        } else {
            condition("PodScheduled", true)
        }

        var status: JSONValue = [
            "phase": .string(phase),
            "conditions": .array(conditions),
            "qosClass": .string(qosClass(pod)),
            "containerStatuses": .array(containers.map(json)),
        ]
        if !initContainers.isEmpty { status["initContainerStatuses"] = .array(initContainers.map(json)) }
        if let hostIP {
            status["hostIP"] = .string(hostIP)
            status["hostIPs"] = [["ip": .string(hostIP)]]
        }
        if let first = podIPs.first {
            status["podIP"] = .string(first)
            status["podIPs"] = .array(podIPs.map { ["ip": .string($0)] })
        }
        if let startTime { status["startTime"] = .string(APITime.format(startTime)) }
        if let reason { status["reason"] = .string(reason) }
        if let message { status["message"] = .string(message) }
        if let nominated = previous["nominatedNodeName"] { status["nominatedNodeName"] = nominated }
        return status
    }

    public static func json(_ c: ContainerObservation) -> JSONValue {
        var out: JSONValue = [
            "name": .string(c.name), "image": .string(c.image), "imageID": .string(c.imageID),
            "ready": .bool(c.ready), "started": .bool(c.started && c.isRunning), "restartCount": .int(Int64(c.restartCount)),
            "state": state(c.state, containerID: c.containerID),
            "lastState": c.lastState.map { state($0, containerID: nil) } ?? .emptyObject,
        ]
        if let id = c.containerID { out["containerID"] = .string(id) }
        return out
    }

    static func state(_ state: ContainerObservation.State, containerID: String?) -> JSONValue {
        switch state {
        case .waiting(let reason, let message):
            var w: JSONValue = ["reason": .string(reason)]
            if let message { w["message"] = .string(message) }
            return ["waiting": w]
        case .running(let startedAt):
            return ["running": ["startedAt": .string(APITime.format(startedAt))]]
        case .terminated(let code, let reason, let message, let startedAt, let finishedAt):
            var t: JSONValue = ["exitCode": .int(Int64(code)), "reason": .string(reason),
                                "finishedAt": .string(APITime.format(finishedAt))]
            if let startedAt { t["startedAt"] = .string(APITime.format(startedAt)) }
            if let message { t["message"] = .string(message) }
            if let containerID { t["containerID"] = .string(containerID) }
            return ["terminated": t]
        }
    }
}

/// The kubelet's container restart back-off: the first restart at once, then 10 s doubling
/// to 5 minutes; a container that ran 10 minutes starts over.
public struct RestartBackoff: Sendable, Equatable {
    public var initial: Double
    public var maximum: Double

    public init(initial: Double = 10, maximum: Double = 300) {
        self.initial = initial
        self.maximum = maximum
    }

    /// Seconds to wait before restart number `restarts + 1` (0 for the first restart).
    public func delay(afterRestarts restarts: Int) -> Double {
        guard restarts > 0 else { return 0 }
        var delay = initial
        for _ in 1..<restarts {
            delay *= 2
            if delay >= maximum { return maximum }
        }
        return min(delay, maximum)
    }

    /// Whether a container that exited with `exitCode` is started again under `policy`.
    public static func restarts(policy: String, exitCode: Int) -> Bool {
        switch policy {
        case "Never": false
        case "OnFailure": exitCode != 0
        default: true
        }
    }
}
