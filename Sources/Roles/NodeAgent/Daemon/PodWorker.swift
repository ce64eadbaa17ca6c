import APIMachinery
import Client
import CNodeAgent
import Foundation
import JSON
import NetNamespace
import NodeAgentCore

/// One pod on this node, from its sandbox to its deletion, as the kubelet's pod worker: the
/// sandbox first (a pause process holding the network, IPC and UTS namespaces, the network
/// from CNI), then the init containers in order, then the containers; restarts with
/// back-off, probes, the pod's status; graceful termination and a teardown that leaves
/// nothing behind.
actor PodWorker {
    let context: AgentContext
    let uid: String
    private(set) var pod: JSONValue
    /// The pod is gone from the API (deleted for good, or force-deleted).
    private var gone = false
    private var record: PodRecord
    private var probes: [String: [ProbeState]] = [:]
    private var lastStatus: JSONValue?
    private var sandboxFailures = 0
    let wake = WakeSignal()
    /// Ended: the pod is torn down and its record removed.
    private(set) var finished = false

    static let backoff = RestartBackoff()

    init(context: AgentContext, pod: JSONValue, record: PodRecord?) {
        self.context = context
        self.uid = pod.uid ?? ""
        self.pod = pod
        self.record = record ?? PodRecord(uid: pod.uid ?? "", namespace: pod.namespace ?? "default", name: pod.name ?? "",
                                          netns: "cni-\(pod.uid ?? "")", startTime: APITime.now())
    }

    var directory: String { context.podDirectory(uid) }
    var key: String { "\(record.namespace)/\(record.name)" }
    var restartPolicy: String { pod[path: ["spec", "restartPolicy"]]?.stringValue ?? "Always" }
    var initContainers: [JSONValue] { pod[path: ["spec", "initContainers"]]?.arrayValue ?? [] }
    var containers: [JSONValue] { pod[path: ["spec", "containers"]]?.arrayValue ?? [] }

    func update(_ pod: JSONValue) {
        self.pod = pod
        wake.fire()
    }

    func podGone() {
        gone = true
        wake.fire()
    }

    /// The worker's loop, until the pod is torn down.
    func run() async {
        resumeWatches()
        while !finished {
            let next = await syncOnce()
            if finished { break }
            await wake.wait(seconds: next)
        }
    }

    // MARK: - One pass

    func syncOnce() async -> Double {
        if gone || pod.deletionTimestamp != nil {
            await terminate()
            return finished ? 0 : 2
        }
        if record.released {
            await writeStatus()
            return 60
        }
        if record.sandboxPID == 0 || !sandboxAlive() {
            if record.sandboxPID != 0 {
                context.logger.warning("sandbox ended; recreating it", metadata: ["pod": "\(key)"])
                await stopContainers(grace: 0)
                do { try await releaseSandbox() } catch { return retryLater(error) }
            }
            do {
                try await createSandbox()
                sandboxFailures = 0
            } catch {
                sandboxFailures += 1
                // What the attempt made goes (the pause process, the address, the namespace),
                // so the next one starts from nothing: a pause process left alive would pass
                // for a sandbox whose network and /etc/hosts were never set up.
                do { try await releaseSandbox() } catch {
                    context.logger.warning("releasing a failed sandbox", metadata: ["pod": "\(key)", "error": "\(error)"])
                }
                context.events.record(Pod(json: pod), type: "Warning", reason: "FailedCreatePodSandBox",
                                      message: "Failed to create pod sandbox: \(error)")
                context.logger.error("sandbox failed", metadata: ["pod": "\(key)", "error": "\(error)"])
                await writeStatus()
                return min(30, Double(1 << min(sandboxFailures, 5)))
            }
        }
        let now = Self.now()
        var next = 30.0
        var initsDone = true
        for container in initContainers {
            let name = container["name"]?.stringValue ?? ""
            if let r = record.containers[name], r.exit?.code == 0 { continue }
            initsDone = false
            next = min(next, await advance(container, isInit: true, now: now))
            break
        }
        if initsDone {
            for container in containers {
                next = min(next, await advance(container, isInit: false, now: now))
            }
            next = min(next, await runProbes(now: Self.now()))
        }
        save()
        await writeStatus()
        if podEnded() {
            do {
                try await releaseSandbox()
                record.released = true
                save()
            } catch { return retryLater(error) }
        }
        return max(0.05, next)
    }

    func retryLater(_ error: any Error) -> Double {
        context.logger.error("pod sync failed", metadata: ["pod": "\(key)", "error": "\(error)"])
        return 2
    }

    /// Whether the pod is done for good: its phase is Succeeded or Failed.
    func podEnded() -> Bool {
        let phase = PodStatusBuilder.phase(restartPolicy: restartPolicy, initContainers: observations(initContainers, isInit: true),
                                           containers: observations(containers, isInit: false))
        return phase == "Succeeded" || phase == "Failed"
    }

    // MARK: - Containers

    /// Starts, restarts or leaves one container; seconds until it needs looking at again.
    func advance(_ container: JSONValue, isInit: Bool, now: Double) async -> Double {
        let name = container["name"]?.stringValue ?? ""
        var r = record.containers[name] ?? .init(image: container["image"]?.stringValue ?? "")
        if r.id != nil, r.exit == nil { return 30 }
        if let exit = r.exit {
            // An init container is retried unless the pod never restarts anything.
            let policy = isInit ? (restartPolicy == "Never" ? "Never" : "OnFailure") : restartPolicy
            guard RestartBackoff.restarts(policy: policy, exitCode: exit.code) else { return 3600 }
            if r.retryAt == nil {
                // A container that ran ten minutes starts its back-off over.
                let ranLong = (exit.finishedAt - (exit.startedAt ?? exit.finishedAt)) >= 600
                let delay = ranLong ? 0 : Self.backoff.delay(afterRestarts: r.restartCount)
                r.retryAt = now + delay
                if delay > 0 {
                    r.waitingReason = "CrashLoopBackOff"
                    r.waitingMessage = "back-off \(Int(delay))s restarting failed container=\(name) pod=\(record.name)_\(record.namespace)(\(uid))"
                    context.events.record(Pod(json: pod), type: "Warning", reason: "BackOff", message: "Back-off restarting failed container \(name) in pod \(record.name)_\(record.namespace)(\(uid))")
                }
                record.containers[name] = r
            }
            if let retry = r.retryAt, now < retry { return retry - now }
        } else if let retry = r.retryAt, now < retry {
            return retry - now
        }
        await start(container, record: r)
        return record.containers[name]?.exit == nil && record.containers[name]?.id != nil ? 30 : 0.05
    }

    /// Makes and starts a new instance of `container`.
    func start(_ container: JSONValue, record previous: PodRecord.ContainerRecord) async {
        let name = container["name"]?.stringValue ?? ""
        let imageName = container["image"]?.stringValue ?? ""
        var r = previous
        let podObject = Pod(json: pod)
        func wait(_ reason: String, _ message: String, retryIn seconds: Double) {
            r.waitingReason = reason
            r.waitingMessage = message
            r.retryAt = Self.now() + seconds
            record.containers[name] = r
        }
        let image: ImageStore.Image
        do { image = try await context.images.resolve(imageName) } catch {
            let again = previous.waitingReason == "ErrImagePull" || previous.waitingReason == "ImagePullBackOff"
            context.events.record(podObject, type: "Warning", reason: "Failed", message: "Failed to pull image \"\(imageName)\": \(error.description)")
            wait(again ? "ImagePullBackOff" : "ErrImagePull",
                 again ? "Back-off pulling image \"\(imageName)\": \(error.description)" : error.description, retryIn: again ? 20 : 5)
            return
        }
        if previous.attempts == 0 {
            context.events.record(podObject, reason: "Pulled", message: "Container image \"\(imageName)\" already present on machine")
        }
        let inputs = await FetchedInputs.fetch(for: pod, client: context.client)
        let config: JSONValue
        let logPath: String
        let attempt = previous.attempts
        let bundle = "\(directory)/containers/\(name)-\(attempt)"
        let id = "\(uid)-\(name)-\(attempt)"
        do {
            let volumes = try await prepareVolumes(inputs)
            let env = try Environment.resolve(pod: pod, container: container, image: image.config, podIPs: record.podIPs,
                                              hostIP: context.settings.hostIP, inputs: inputs)
            let mounts = try mounts(for: container, volumes: volumes)
            try prepareRootfs(bundle: bundle, image: image)
            let placement = ContainerPlacement(
                networkNamespace: "/proc/\(record.sandboxPID)/ns/net", ipcNamespace: "/proc/\(record.sandboxPID)/ns/ipc",
                utsNamespace: "/proc/\(record.sandboxPID)/ns/uts", cgroupsPath: "\(context.cgroupPath(uid))/\(name)-\(attempt)",
                rootfs: bundle + "/rootfs")
            config = try ContainerSpec.runtimeSpec(pod: pod, container: container, image: image.config, env: env, mounts: mounts,
                                                   placement: placement)
            try Data(config.jsonBytes()).write(to: URL(fileURLWithPath: bundle + "/config.json"))
            logPath = "\(directory)/logs/\(name)/\(attempt).log"
            try FileManager.default.createDirectory(atPath: "\(directory)/logs/\(name)", withIntermediateDirectories: true)
        } catch {
            let message = (error as? ContainerConfigError)?.message ?? "\(error)"
            context.events.record(podObject, type: "Warning", reason: "Failed", message: "Error: \(message)")
            unmountRootfs(bundle)
            wait("CreateContainerConfigError", message, retryIn: 5)
            return
        }
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        defer { if log >= 0 { close(log) } }
        r.attempts = attempt + 1
        if previous.id != nil || previous.exit != nil {
            r.restartCount = previous.restartCount + 1
            r.lastExit = previous.exit
        }
        r.waitingReason = nil
        r.waitingMessage = nil
        r.retryAt = nil
        r.image = imageName
        let startedAt = APITime.now()
        do {
            let pid = try await context.runc.run(id: id, bundle: bundle, log: log)
            r.id = id
            r.pid = pid
            r.startedAt = startedAt
            r.exit = nil
            record.containers[name] = r
            save()
            context.events.record(podObject, reason: "Created", message: "Created container \(name)")
            context.events.record(podObject, reason: "Started", message: "Started container \(name)")
            watchExit(name: name, id: id, pid: pid, child: true)
            setUpProbes(container, startedAt: Self.now())
            if let hook = container[path: ["lifecycle", "postStart"]] {
                let (ok, message) = await ProbeAction.run(hook, podIP: record.podIPs.first, container: container, runc: context.runc,
                                                          containerID: id, timeout: 30)
                if !ok {
                    context.events.record(podObject, type: "Warning", reason: "FailedPostStartHook", message: message)
                    await kill(name: name, grace: 0)
                }
            }
        } catch {
            // runc refused (no such executable, bad mount): the container ends at once with
            // StartError, as with containerd, and is restarted by its policy.
            await cleanupInstance(id: id, bundle: bundle)
            r.id = id
            r.startedAt = nil
            r.exit = .init(code: 128, reason: "StartError", message: error.description, startedAt: nil, finishedAt: APITime.now())
            record.containers[name] = r
            context.events.record(podObject, type: "Warning", reason: "Failed", message: "Error: failed to start container \"\(name)\": \(error.description)")
        }
    }

    /// Learns when a container ends: from the reaper for our own children, by polling for
    /// one adopted from an earlier agent (whose exit status nobody can read any more).
    func watchExit(name: String, id: String, pid: Int32, child: Bool) {
        Task { [weak self] in
            var code: Int?
            if child {
                code = Int(ProcessRunner.exitCode(await ProcessRunner.shared.wait(pid)))
            } else {
                while Glibc.kill(pid, 0) == 0 || errno == EPERM {
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            await self?.exited(name: name, id: id, code: code)
        }
    }

    /// After an agent restart: watch every container the record says is running.
    func resumeWatches() {
        for (name, r) in record.containers where r.exit == nil {
            guard let id = r.id, r.pid > 0 else { continue }
            if Glibc.kill(r.pid, 0) == 0 {
                watchExit(name: name, id: id, pid: r.pid, child: false)
            } else {
                Task { await self.exited(name: name, id: id, code: nil) }
            }
        }
    }

    func exited(name: String, id: String, code: Int?) async {
        guard var r = record.containers[name], r.id == id, r.exit == nil else { return }
        let reason = code == nil ? "Unknown" : code == 0 ? "Completed" : (oomKilled(name: name, attempt: r.attempts - 1) ? "OOMKilled" : "Error")
        r.exit = .init(code: code ?? 255, reason: reason,
                       message: code == nil ? "the container ended while the node agent was not watching; its exit code is unknown" : nil,
                       startedAt: r.startedAt, finishedAt: APITime.now())
        r.pid = 0
        record.containers[name] = r
        probes[name] = nil
        save()
        await cleanupInstance(id: id, bundle: "\(directory)/containers/\(name)-\(r.attempts - 1)")
        wake.fire()
    }

    /// Whether the memory cgroup of a container instance hit its limit (v1 failcnt, v2 oom_kill).
    nonisolated func oomKilled(name: String, attempt: Int) -> Bool {
        let path = "\(context.cgroupPath(uid))/\(name)-\(attempt)"
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup\(path)/memory.events", encoding: .utf8) {
            return text.split(separator: "\n").contains { $0.hasPrefix("oom_kill ") && !$0.hasSuffix(" 0") }
        }
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory\(path)/memory.oom_control", encoding: .utf8) {
            return text.split(separator: "\n").contains { $0.hasPrefix("oom_kill ") && !$0.hasSuffix(" 0") }
        }
        return false
    }

    /// Removes a container instance: runc's container and cgroup, the rootfs mount, the bundle.
    func cleanupInstance(id: String, bundle: String) async {
        try? await context.runc.delete(id: id)
        unmountRootfs(bundle)
        try? FileManager.default.removeItem(atPath: bundle)
    }

    /// SIGTERM, then SIGKILL after `grace` seconds, for one container (preStop first).
    func kill(name: String, grace: Double) async {
        guard let r = record.containers[name], let id = r.id, r.exit == nil else { return }
        let container = (containers + initContainers).first { $0["name"]?.stringValue == name } ?? .emptyObject
        let deadline = Self.now() + grace
        if grace > 0, let hook = container[path: ["lifecycle", "preStop"]] {
            _ = await ProbeAction.run(hook, podIP: record.podIPs.first, container: container, runc: context.runc,
                                      containerID: id, timeout: max(1, grace))
        }
        try? await context.runc.kill(id: id, signal: "TERM")
        while Self.now() < deadline, record.containers[name]?.exit == nil {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if record.containers[name]?.exit == nil {
            try? await context.runc.kill(id: id, signal: "KILL")
            for _ in 0..<100 where record.containers[name]?.exit == nil {
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Stops every running container at once, each with `grace` seconds.
    func stopContainers(grace: Double) async {
        let running = record.containers.filter { $0.value.exit == nil && $0.value.id != nil }.map(\.key)
        for name in running {
            context.events.record(Pod(json: pod), reason: "Killing", message: "Stopping container \(name)")
        }
        await withTaskGroup(of: Void.self) { group in
            for name in running {
                group.addTask { await self.kill(name: name, grace: grace) }
            }
        }
    }

    // MARK: - Probes

    func setUpProbes(_ container: JSONValue, startedAt: Double) {
        let name = container["name"]?.stringValue ?? ""
        var list: [ProbeState] = []
        for (key, kind) in [("startupProbe", ProbeState.Kind.startup), ("livenessProbe", .liveness), ("readinessProbe", .readiness)] {
            if let spec = container[key] { list.append(ProbeState(kind: kind, spec: spec, startedAt: startedAt)) }
        }
        probes[name] = list
    }

    /// Runs the probes that are due; seconds until the next one is.
    func runProbes(now: Double) async -> Double {
        var next = 30.0
        for container in containers {
            let name = container["name"]?.stringValue ?? ""
            guard var list = probes[name], let r = record.containers[name], let id = r.id, r.exit == nil else { continue }
            let startupPassed = list.first { $0.kind == .startup }?.passing ?? true
            for i in list.indices {
                if list[i].kind != .startup && !startupPassed { continue }
                if list[i].kind == .startup && list[i].passing { continue }
                if list[i].nextAt > now {
                    next = min(next, list[i].nextAt - now)
                    continue
                }
                let (ok, message) = await ProbeAction.run(list[i].spec, podIP: record.podIPs.first, container: container,
                                                          runc: context.runc, containerID: id, timeout: list[i].timeout)
                guard record.containers[name]?.id == id, record.containers[name]?.exit == nil else { break }
                let kind = list[i].kind
                let changed = list[i].record(ok, message: message, now: Self.now())
                next = min(next, list[i].period)
                if !ok {
                    let label = kind == .startup ? "Startup" : kind == .liveness ? "Liveness" : "Readiness"
                    context.events.record(Pod(json: pod), type: "Warning", reason: "Unhealthy", message: "\(label) probe failed: \(message)")
                }
                if changed, !list[i].passing, kind != .readiness {
                    let label = kind == .startup ? "startup" : "liveness"
                    context.events.record(Pod(json: pod), reason: "Killing",
                                          message: "Container \(name) failed \(label) probe, will be restarted")
                    probes[name] = list
                    let grace = Double(list[i].spec["terminationGracePeriodSeconds"]?.intValue
                                       ?? pod[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30)
                    Task { await self.kill(name: name, grace: grace) }
                    break
                }
            }
            if probes[name] != nil { probes[name] = list }
        }
        return next
    }

    // MARK: - Status

    func observations(_ specs: [JSONValue], isInit: Bool) -> [ContainerObservation] {
        specs.map { container in
            let name = container["name"]?.stringValue ?? ""
            let image = container["image"]?.stringValue ?? ""
            guard let r = record.containers[name] else {
                return ContainerObservation(name: name, image: image, state: .waiting(reason: isInit ? "PodInitializing" : "ContainerCreating", message: nil))
            }
            func state(_ exit: PodRecord.Exit) -> ContainerObservation.State {
                .terminated(exitCode: exit.code, reason: exit.reason, message: exit.message, startedAt: exit.startedAt, finishedAt: exit.finishedAt)
            }
            var observed = ContainerObservation(name: name, image: r.image, imageID: r.image, containerID: r.id.map { "runc://\($0)" },
                                                state: .waiting(reason: "ContainerCreating", message: nil),
                                                lastState: r.lastExit.map(state), restartCount: r.restartCount)
            if let reason = r.waitingReason {
                observed.state = .waiting(reason: reason, message: r.waitingMessage)
                if let exit = r.exit { observed.lastState = state(exit) }
            } else if let exit = r.exit {
                observed.state = state(exit)
            } else if let started = r.startedAt {
                observed.state = .running(startedAt: started)
                let list = probes[name] ?? []
                observed.started = list.first { $0.kind == .startup }?.passing ?? true
                observed.ready = !isInit && observed.started && (list.first { $0.kind == .readiness }?.passing ?? true)
            }
            return observed
        }
    }

    func writeStatus() async {
        guard !gone else { return }
        let status = PodStatusBuilder.status(
            pod: pod, sandboxReady: record.sandboxPID != 0 && !record.released, podIPs: record.podIPs, hostIP: context.settings.hostIP,
            startTime: record.startTime, initContainers: observations(initContainers, isInit: true),
            containers: observations(containers, isInit: false), now: APITime.now())
        guard status != lastStatus, status != pod["status"] else { return }
        do {
            let updated = try await context.client.patch(Pod.resource, namespace: record.namespace, name: record.name,
                                                         ["status": status], type: .merge, subresource: "status")
            lastStatus = status
            if updated.uid == uid, updated.deletionTimestamp == nil || pod.deletionTimestamp != nil { pod = updated }
        } catch {
            if error.isNotFound { gone = true }
            context.logger.warning("status update failed", metadata: ["pod": "\(key)", "error": "\(error)"])
        }
    }

    // MARK: - Sandbox

    func sandboxAlive() -> Bool {
        record.sandboxPID > 0 && (Glibc.kill(record.sandboxPID, 0) == 0 || errno == EPERM)
    }

    var hostNetwork: Bool { pod[path: ["spec", "hostNetwork"]]?.boolValue ?? false }

    func createSandbox() async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o700)
        let netnsPath: String
        if hostNetwork {
            netnsPath = "/proc/\(getpid())/ns/net"
        } else {
            if !FileManager.default.fileExists(atPath: "/run/netns/\(record.netns)") {
                try NetNS.create(name: record.netns)
            }
            netnsPath = "/run/netns/\(record.netns)"
        }
        save()
        let hostname = pod[path: ["spec", "hostname"]]?.stringValue ?? record.name
        let log = open("\(directory)/pause.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        defer { if log >= 0 { close(log) } }
        let pid = try ProcessRunner.shared.spawn([context.settings.pauseBinary, netnsPath, String(hostname.prefix(63))],
                                                 stdout: log, stderr: log, newSession: true)
        // Ready once it has its own UTS namespace.
        let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/uts")
        var ready = false
        for _ in 0..<1000 {
            let theirs = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/uts")
            if let theirs, theirs != own { ready = true; break }
            if Glibc.kill(pid, 0) != 0 { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        guard ready else {
            Glibc.kill(pid, SIGKILL)
            throw ContainerConfigError("the sandbox process did not start: " + ((try? String(contentsOfFile: "\(directory)/pause.log", encoding: .utf8)) ?? ""))
        }
        record.sandboxPID = pid
        save()
        Task { _ = await ProcessRunner.shared.wait(pid) }
        if hostNetwork {
            record.podIPs = context.settings.hostIP.map { [$0] } ?? []
        } else {
            guard let network = try context.cni.network() else {
                throw ContainerConfigError("network plugin is not ready: cni config uninitialized (no configuration in \(context.cni.confDir))")
            }
            record.network = network.jsonString
            save()
            let result = try await context.cni.add(attachment(), network: network)
            record.cniResult = result.jsonString
            record.podIPs = CNIRuntime.podIPs(result)
        }
        save()
        try VolumeFiles.hostsFile(pod: pod, podIPs: record.podIPs).write(toFile: directory + "/etc-hosts", atomically: true, encoding: .utf8)
        try VolumeFiles.resolvConf(pod: pod, clusterDNS: context.settings.clusterDNS, clusterDomain: context.settings.clusterDomain,
                                   nodeResolvConf: context.settings.resolvConf)
            .write(toFile: directory + "/resolv.conf", atomically: true, encoding: .utf8)
        try (hostname + "\n").write(toFile: directory + "/hostname", atomically: true, encoding: .utf8)
    }

    func attachment() -> CNIRuntime.Attachment {
        var mappings: [JSONValue] = []
        for container in containers {
            for port in container["ports"]?.arrayValue ?? [] {
                guard let host = port["hostPort"]?.intValue, host > 0, let target = port["containerPort"]?.intValue else { continue }
                var m: JSONValue = ["hostPort": .int(Int64(host)), "containerPort": .int(Int64(target)),
                                    "protocol": .string((port["protocol"]?.stringValue ?? "TCP").lowercased())]
                if let ip = port["hostIP"]?.stringValue, !ip.isEmpty { m["hostIP"] = .string(ip) }
                mappings.append(m)
            }
        }
        return CNIRuntime.Attachment(containerID: uid, netns: "/run/netns/\(record.netns)", podNamespace: record.namespace,
                                     podName: record.name, podUID: uid, portMappings: mappings)
    }

    /// Stops the pause process and gives the pod's address back (CNI DEL with the result ADD
    /// returned), then removes the network namespace. Throws when DEL fails, so the address
    /// is released on a later try rather than leaked.
    func releaseSandbox() async throws {
        if record.sandboxPID > 0 {
            let pid = record.sandboxPID
            Glibc.kill(pid, SIGTERM)
            for _ in 0..<100 where Glibc.kill(pid, 0) == 0 {
                try? await Task.sleep(for: .milliseconds(20))
            }
            Glibc.kill(pid, SIGKILL)
            record.sandboxPID = 0
            save()
        }
        if let text = record.network, let network = try? JSONValue.parse(text) {
            let result = record.cniResult.flatMap { try? JSONValue.parse($0) }
            var target = attachment()
            // A namespace that is already gone (a stale name, a reboot) is no reason to keep
            // the address: DEL without one, as the spec allows, and the plugins release it.
            if !Self.isNetworkNamespace(target.netns) { target.netns = "" }
            try await context.cni.delete(target, network: network, result: result)
            record.network = nil
            record.cniResult = nil
            save()
        }
        if !hostNetwork, FileManager.default.fileExists(atPath: "/run/netns/\(record.netns)") {
            try NetNS.delete(name: record.netns)
        }
    }

    // MARK: - Termination

    /// Graceful termination, then a teardown that leaves nothing: containers, sandbox,
    /// address, namespace, mounts, cgroups, files; then the pod object goes for good.
    func terminate() async {
        let grace: Double
        if gone {
            grace = 2
        } else {
            grace = Double(pod[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue
                           ?? pod[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30)
        }
        await stopContainers(grace: grace)
        for (name, r) in record.containers {
            if let id = r.id { await cleanupInstance(id: id, bundle: "\(directory)/containers/\(name)-\(max(0, r.attempts - 1))") }
        }
        do { try await releaseSandbox() } catch {
            context.logger.error("releasing the sandbox failed; trying again", metadata: ["pod": "\(key)", "error": "\(error)"])
            return
        }
        await removeFiles()
        if !gone {
            do {
                try await context.client.delete(Pod.resource, namespace: record.namespace, name: record.name, gracePeriodSeconds: 0, uid: uid)
            } catch where !error.isNotFound && error.code != 409 {
                context.logger.warning("deleting the pod failed", metadata: ["pod": "\(key)", "error": "\(error)"])
            } catch {}
        }
        finished = true
    }

    /// Everything on disk: volume mounts, container bundles, cgroups, the pod directory.
    func removeFiles() async {
        let volumes = directory + "/volumes"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: volumes)) ?? [] {
            _ = netplane_unmount(volumes + "/" + name)
        }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory + "/containers")) ?? [] {
            unmountRootfs("\(directory)/containers/\(name)")
        }
        context.removePodCgroups(uid)
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Files

    func save() {
        guard !finished, FileManager.default.fileExists(atPath: directory) else { return }
        do { try record.save(directory + "/state.json") } catch {
            context.logger.error("cannot write the pod's record", metadata: ["pod": "\(key)", "error": "\(error)"])
        }
    }

    /// The container's root filesystem: the image's, read-only, under an overlay whose upper
    /// layer is this instance's own (a restarted container starts from the image again).
    nonisolated func prepareRootfs(bundle: String, image: ImageStore.Image) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: bundle)
        for sub in ["rootfs", "upper", "work"] {
            try fm.createDirectory(atPath: "\(bundle)/\(sub)", withIntermediateDirectories: true)
        }
        guard netplane_mount_overlay(image.rootfs, bundle + "/upper", bundle + "/work", bundle + "/rootfs") == 0 else {
            throw ContainerConfigError("mounting the container's root filesystem: \(String(cString: strerror(errno)))")
        }
    }

    nonisolated func unmountRootfs(_ bundle: String) {
        _ = netplane_unmount(bundle + "/rootfs")
    }

    /// Each volume's directory on the node, made once per pod (files rewritten each time a
    /// container starts, so a restarted container sees current ConfigMaps and Secrets).
    func prepareVolumes(_ inputs: FetchedInputs) async throws -> [String: String] {
        var paths: [String: String] = [:]
        let volumes = pod[path: ["spec", "volumes"]]?.arrayValue ?? []
        var token: String?
        if volumes.contains(where: { v in v[path: ["projected", "sources"]]?.arrayValue?.contains { $0["serviceAccountToken"] != nil } ?? false }) {
            token = await serviceAccountToken()
        }
        for volume in volumes {
            let name = volume["name"]?.stringValue ?? ""
            let kind = try VolumeFiles.kind(volume, pod: pod, podIPs: record.podIPs, hostIP: context.settings.hostIP, inputs: inputs,
                                            token: { _, _ in token })
            let path = "\(directory)/volumes/\(name)"
            switch kind {
            case .emptyDir(let memory):
                if !FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                    chmod(path, 0o777)
                    if memory, netplane_mount_tmpfs(path, "mode=0777") != 0 {
                        throw ContainerConfigError("volume \(name): tmpfs: \(String(cString: strerror(errno)))")
                    }
                }
                paths[name] = path
            case .hostPath(let host, let type):
                try Self.checkHostPath(host, type: type, volume: name)
                paths[name] = host
            case .files(let files):
                try? FileManager.default.removeItem(atPath: path)
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                for file in files {
                    let target = path + "/" + file.path
                    try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                            withIntermediateDirectories: true)
                    try Data(file.contents).write(to: URL(fileURLWithPath: target))
                    chmod(target, mode_t(file.mode))
                }
                paths[name] = path
            }
        }
        return paths
    }

    /// A bound token for the pod's service account (TokenRequest), nil when the API refuses.
    func serviceAccountToken() async -> String? {
        let account = pod[path: ["spec", "serviceAccountName"]]?.stringValue ?? "default"
        let request: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                  "spec": ["expirationSeconds": 3607,
                                           "boundObjectRef": ["kind": "Pod", "apiVersion": "v1", "name": .string(record.name), "uid": .string(uid)]]]
        let reply = try? await context.client.post(ServiceAccountResource.resource, namespace: record.namespace, name: account,
                                                   subresource: "token", request)
        return reply?[path: ["status", "token"]]?.stringValue
    }

    static func checkHostPath(_ path: String, type: String, volume: String) throws {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        switch type {
        case "", "Socket", "CharDevice", "BlockDevice":
            if !type.isEmpty, !exists { throw ContainerConfigError("volume \(volume): hostPath type check failed: \(path) is not a \(type)") }
        case "DirectoryOrCreate":
            if !exists { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
            else if !isDirectory.boolValue { throw ContainerConfigError("volume \(volume): \(path) exists and is not a directory") }
        case "Directory":
            guard exists, isDirectory.boolValue else { throw ContainerConfigError("volume \(volume): hostPath type check failed: \(path) is not a directory") }
        case "FileOrCreate":
            if !exists { FileManager.default.createFile(atPath: path, contents: nil) }
            else if isDirectory.boolValue { throw ContainerConfigError("volume \(volume): \(path) is a directory") }
        case "File":
            guard exists, !isDirectory.boolValue else { throw ContainerConfigError("volume \(volume): hostPath type check failed: \(path) is not a file") }
        default:
            throw ContainerConfigError("volume \(volume): unknown hostPath type \(type)")
        }
    }

    /// The container's bind mounts: its volumeMounts (with subPath), and the pod's
    /// /etc/hosts, /etc/resolv.conf and /etc/hostname unless it mounts its own there.
    func mounts(for container: JSONValue, volumes: [String: String]) throws -> [ContainerMount] {
        var mounts: [ContainerMount] = []
        for mount in container["volumeMounts"]?.arrayValue ?? [] {
            let name = mount["name"]?.stringValue ?? ""
            guard let source = volumes[name] else {
                throw ContainerConfigError("volumeMount \(name): no volume of that name in the pod")
            }
            guard let destination = mount["mountPath"]?.stringValue, destination.hasPrefix("/") else {
                throw ContainerConfigError("volumeMount \(name): mountPath must be absolute")
            }
            var path = source
            if let sub = mount["subPath"]?.stringValue, !sub.isEmpty {
                guard !sub.hasPrefix("/"), !sub.split(separator: "/").contains("..") else {
                    throw ContainerConfigError("volumeMount \(name): subPath \(sub) must be relative and may not contain '..'")
                }
                path = source + "/" + sub
                if !FileManager.default.fileExists(atPath: path) {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                }
            }
            mounts.append(ContainerMount(source: path, destination: destination, readOnly: mount["readOnly"]?.boolValue ?? false))
        }
        let taken = Set(mounts.map(\.destination))
        for (file, destination) in [("etc-hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf"), ("hostname", "/etc/hostname")]
        where !taken.contains(destination) {
            mounts.append(ContainerMount(source: "\(directory)/\(file)", destination: destination, readOnly: false))
        }
        return mounts
    }

    static func now() -> Double { Date().timeIntervalSince1970 }

    /// Whether `path` is a network namespace (a mounted nsfs file), not a leftover file.
    static func isNetworkNamespace(_ path: String) -> Bool {
        netplane_is_namespace_file(path) == 1
    }

    // MARK: - Logs

    /// The log file of a container's current (or previous) instance.
    func logPath(container: String, previous: Bool) -> String? {
        guard let r = record.containers[container], r.attempts > 0 else { return nil }
        let attempt = r.attempts - 1 - (previous ? 1 : 0)
        guard attempt >= 0 else { return nil }
        return "\(directory)/logs/\(container)/\(attempt).log"
    }

    /// Whether the container's current instance is running (a follower stops when it ends).
    func isRunning(container: String) -> Bool {
        guard let r = record.containers[container] else { return false }
        return r.id != nil && r.exit == nil
    }

    func containerID(_ container: String) -> String? {
        guard let r = record.containers[container], r.exit == nil else { return nil }
        return r.id
    }

    var podIPs: [String] { record.podIPs }

    /// The cgroup of each running container (for the metrics summary).
    func containerCgroups() -> [(String, String)] {
        record.containers.compactMap { name, r in
            r.exit == nil && r.id != nil ? (name, "\(context.cgroupPath(uid))/\(name)-\(r.attempts - 1)") : nil
        }
    }
}

/// ServiceAccount as a resource (for the token subresource).
enum ServiceAccountResource {
    static let resource = ResourceRegistry.builtin.resource(apiVersion: "v1", kind: "ServiceAccount")!
}
