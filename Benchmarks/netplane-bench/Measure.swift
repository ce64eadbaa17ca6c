import Foundation

/// Wall time plus user and system CPU seconds.
struct Cost {
    var wall: Double
    var user: Double
    var system: Double
    var summary: String { String(format: "wall=%.3fs user=%.3fs sys=%.3fs", wall, user, system) }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }

/// Measures `body` in this process (wall, and this process's user/system CPU).
func measureInProcess(_ body: () throws -> Void) rethrows -> Cost {
    var before = rusage(), after = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &before)
    let start = now()
    try body()
    let wall = now() - start
    getrusage(Int32(RUSAGE_SELF.rawValue), &after)
    return Cost(wall: wall, user: seconds(after.ru_utime) - seconds(before.ru_utime),
                system: seconds(after.ru_stime) - seconds(before.ru_stime))
}

struct ChildFailed: Error, CustomStringConvertible {
    var command: [String]; var status: Int32
    var description: String { "`\(command.joined(separator: " "))` exited \(status)" }
}

/// Runs a command to completion and measures it (wall, and the child's user/system CPU).
/// `environment` replaces this process's environment when given.
/// `quiet`: stderr to /dev/null too (a detached child that inherits it would keep it open).
func measureCommand(_ args: [String], stdinFile: String? = nil, environment: [String]? = nil, quiet: Bool = false) throws -> Cost {
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let stdinFile { posix_spawn_file_actions_addopen(&actions, 0, stdinFile, O_RDONLY, 0) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    if quiet { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
    var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var envp: [UnsafeMutablePointer<CChar>?] = (environment ?? []).map { strdup($0) } + [nil]
    defer { envp.forEach { free($0) } }
    var pid: pid_t = 0
    let start = now()
    let rc = environment == nil ? posix_spawnp(&pid, args[0], &actions, nil, &argv, environ)
                                : posix_spawnp(&pid, args[0], &actions, nil, &argv, &envp)
    guard rc == 0 else { throw ChildFailed(command: args, status: rc) }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let wall = now() - start
    let exit = (status >> 8) & 0xff
    guard status & 0x7f == 0, exit == 0 else { throw ChildFailed(command: args, status: status) }
    return Cost(wall: wall, user: seconds(usage.ru_utime), system: seconds(usage.ru_stime))
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s[s.count / 2]
}

/// The contract line every benchmark prints.
func printResult(_ name: String, netplane: Double, anchor: Double, unit: String, extra: String = "") {
    let ratio = netplane > 0 ? anchor / netplane : 0
    print(String(format: "RESULT %@ netplane=%.4f anchor=%.4f ratio=%.2f", name, netplane, anchor, ratio)
          + " unit=\(unit)" + (extra.isEmpty ? "" : " " + extra))
}

/// Waits (up to `limit` seconds) until the machine's CPUs are at least 90% idle over a
/// second, so kernel work left over from an earlier step (a namespace being freed) is not
/// billed to the next measurement.
func waitForIdleKernel(limit: Double = 120) {
    func sample() -> (idle: Double, total: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 5 else { return nil }
        return (fields[3] + fields[4], fields.reduce(0, +))
    }
    let deadline = now() + limit
    while now() < deadline {
        guard let a = sample() else { return }
        sleep(1)
        guard let b = sample(), b.total > a.total else { return }
        if (b.idle - a.idle) / (b.total - a.total) >= 0.9 { return }
    }
}

/// `count` calls of `body` (given 0..<count), `clients` at a time: the load the API
/// benchmarks put on a server.
func runConcurrently(_ count: Int, clients: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    let next = Locked(0)
    try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<clients {
            group.addTask {
                while true {
                    let i = next.withLock { i in
                        defer { i += 1 }
                        return i
                    }
                    guard i < count else { return }
                    try await body(i)
                }
            }
        }
        try await group.waitForAll()
    }
}

/// Seconds since `start`, with the fraction.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// User plus system CPU time of a process so far (from /proc).
func cpuSeconds(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
