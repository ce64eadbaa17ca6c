import ArgumentParser
import APIServer
import AsyncHTTPClient
import Authorization
import Client
import Foundation
import JSON
import NetAddress
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NetplaneTestSupport
import Storage
import Synchronization

/// The API store: ConfigMap creates (1 KiB of data) through the whole HTTPS API of
/// `netplane apiserver` on SQLite and on etcd, against raw etcd create transactions of the
/// same size over gRPC from the same client library (the anchor), with 1 and 32 concurrent
/// clients; then the delivery latency of watch events to 100 and 1000 watchers. One etcd member and both API servers are started here, on loopback, with
/// their data in the same directory.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store",
        abstract: "API server creates (SQLite, etcd backends) vs raw etcd gRPC create transactions; watch delivery latency.")

    @Option(help: "Writes per run with one client.") var serialCount = 1500
    @Option(help: "Writes per run with 32 clients.") var concurrentCount = 8000
    @Option(help: "Watchers for the latency run.") var watchers = 100
    @Option(help: "Events timed in the latency run.") var events = 200
    @Option(help: "Watchers for the second latency run (0: skip), every node's daemons watching one kind.") var manyWatchers = 1000
    @Option(help: "Events timed in the second latency run, paced 50 ms apart.") var manyEvents = 60
    @Option(help: "The netplane binary (default: beside this one).") var netplane: String?
    @Option(help: "API server backends to run (comma-separated).") var backends = "sqlite,etcd"
    @Flag(help: "Skip the raw etcd anchor (for profiling one side).") var skipAnchor = false
    @Flag(help: "Skip the HTTPS ceiling (GET /healthz of the API server, and of nginx when installed).") var skipCeiling = false
    @Flag(help: "Skip RBAC on vs AlwaysAllow.") var skipRBAC = false
    @Option(help: "Where etcd and SQLite keep their files (default: a new directory under /tmp).") var dir: String?
    @Flag(help: "Only the in-process creates (APIServer.handle on SQLite, no HTTP): for profiling the API's own work.") var inProcessOnly = false
    @Flag(help: "Only the breakdown of a create's cost: the API server's and the client's CPU per request for GET /healthz, a GET of a ConfigMap, a dry-run create and a create, from one raw HTTPS client.") var breakdownOnly = false
    @Option(help: "The request kinds of the breakdown (comma-separated: healthz, get, dry-run, create), for profiling one.") var breakdownKinds = "healthz,get,dry-run,create"

    func run() async throws {
        let binary = netplane ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("netplane").path
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw ValidationError("no netplane binary at \(binary)") }
        let scratch = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("np-bench-store-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: scratch) } }

        let value = String(repeating: "x", count: 1024)
        if inProcessOnly {
            let api = try await inProcess(scratch: scratch, value: value)
            let dry = try await inProcess(scratch: scratch, value: value, dryRun: true)
            print(String(format: "RESULT store-sqlite-inprocess-32 rate=%.0f cpu=%.0f dry_run_cpu=%.0f get_cpu=%.0f unit=us", api.rate, api.cpu, dry.cpu, api.getCPU))
            return
        }
        if breakdownOnly {
            try await breakdown(binary: binary, scratch: scratch, value: value)
            return
        }
        let etcd = try EtcdCluster()
        defer { etcd.stop() }

        // The anchor: what the etcd backend sends for a create (a put only if the key has
        // never been created, one gRPC Txn), straight from the same client library.
        var raw1 = 0.0, raw32 = 0.0
        // CPU per create at 32 clients (µs): etcd and this process for the anchor; the API
        // server, etcd and this process for the etcd backend. Both runs keep the 2 cores busy,
        // so what each create costs in CPU bounds the ratio.
        var anchorCPU: (etcd: Double, client: Double)?
        if !skipAnchor {
            let raw = try EtcdStore(endpoints: [etcd.endpoints[0]])
            let bytes = Array(value.utf8)
            raw1 = try await throughput(count: serialCount, clients: 1) { i in _ = try await raw.create("/bench/raw/\(i)", value: bytes) }
            let (etcdBefore, selfBefore) = (cpuSeconds(etcd.members[0].pid), cpuSeconds(getpid()))
            raw32 = try await throughput(count: concurrentCount, clients: 32) { i in _ = try await raw.create("/bench/raw32/\(i)", value: bytes) }
            anchorCPU = ((cpuSeconds(etcd.members[0].pid) - etcdBefore) / Double(concurrentCount) * 1e6,
                         (cpuSeconds(getpid()) - selfBefore) / Double(concurrentCount) * 1e6)
            await raw.close()
        }
        var etcdBackendCPU: (server: Double, etcd: Double, client: Double)?

        var sides: [(name: String, one: Double, many: Double)] = []
        for backend in backends.split(separator: ",").map(String.init) {
            let server = try APIServerProcess(binary: binary, dataDir: "\(scratch)/apiserver-\(backend)",
                                              extraArgs: backend == "etcd" ? ["--etcd-endpoints", etcd.endpoints[0]] : [])
            defer { server.stop() }
            let client = try APIClient(try ClientConfig.kubeconfig(server.kubeconfig), maxConnections: 64)
            let one = try await throughput(count: serialCount, clients: 1) { i in
                try await create(client, namespace: "default", name: "one-\(i)", value)
            }
            let pids = (server: server.process.processIdentifier, etcd: etcd.members[0].pid, client: getpid())
            let before = (cpuSeconds(pids.server), cpuSeconds(pids.etcd), cpuSeconds(pids.client))
            let many = try await throughput(count: concurrentCount, clients: 32) { i in
                try await create(client, namespace: "default", name: "many-\(i)", value)
            }
            let n = Double(concurrentCount) / 1e6
            if backend == "etcd" {
                etcdBackendCPU = ((cpuSeconds(pids.server) - before.0) / n, (cpuSeconds(pids.etcd) - before.1) / n,
                                  (cpuSeconds(pids.client) - before.2) / n)
            }
            if backend == "sqlite" && !skipCeiling {
                let createCPU = (server: (cpuSeconds(pids.server) - before.0) / n, client: (cpuSeconds(pids.client) - before.2) / n)
                let noop = try await ceiling(server: server, scratch: scratch)
                // Throughput goes as 1 / (CPU per request) with the cores saturated: the
                // creates' share of the ceiling as the CPU sees it, steadier than the two
                // throughputs on a shared machine.
                let bound = (noop.server + noop.client) / (createCPU.server + createCPU.client)
                print(String(format: "CPU per request at 32 clients: create: API server %.0f µs + client %.0f µs; GET /healthz: API server %.0f µs + client %.0f µs; creates can reach %.0f%% of the ceiling",
                             createCPU.server, createCPU.client, noop.server, noop.client, bound * 100))
                print(String(format: "RESULT store-sqlite-cpu-32 apiserver=%.0f client=%.0f ceiling_apiserver=%.0f ceiling_client=%.0f share=%.2f unit=us",
                             createCPU.server, createCPU.client, noop.server, noop.client, bound))
                try await pairedShare(server: server, client: client, value: value)
                let api = try await inProcess(scratch: scratch, value: value)
                let dry = try await inProcess(scratch: scratch, value: value, dryRun: true)
                print(String(format: "in process (APIServer.handle, no HTTP): %.0f creates/s from 32 tasks, %.0f µs of CPU each (%.0f µs as dry runs: the store's write is the rest); over HTTPS the server spends %.0f µs more per create than per GET /healthz",
                             api.rate, api.cpu, dry.cpu, createCPU.server - noop.server))
                print(String(format: "RESULT store-sqlite-inprocess-32 rate=%.0f cpu=%.0f dry_run_cpu=%.0f get_cpu=%.0f unit=us", api.rate, api.cpu, dry.cpu, api.getCPU))
            }
            if backend == "sqlite" {
                // The watchers' own connections (one each), beside the writer's.
                for (count, eventCount, pace, target) in [(watchers, events, 10, 5.0), (manyWatchers, manyEvents, 50, 20.0)] where count > 0 {
                    let watchClient = try APIClient(try ClientConfig.kubeconfig(server.kubeconfig), maxConnections: count + 4)
                    let latencies = try await watchLatency(writer: client, watcher: watchClient, watchers: count, events: eventCount,
                                                           pace: .milliseconds(pace), serverPID: server.process.processIdentifier)
                    await watchClient.shutdown()
                    let p50 = percentile(latencies, 0.50) * 1000, p99 = percentile(latencies, 0.99) * 1000
                    print(String(format: "RESULT store-watch-p99 netplane=%.2f target=%.2f unit=ms p50=%.2f watchers=%d events=%d",
                                 p99, target, p50, count, latencies.count / max(count, 1)))
                }
            }
            await client.shutdown()
            sides.append((backend, one, many))
        }
        if !skipRBAC { try await rbacOverhead(binary: binary, scratch: scratch, value: value) }
        print(String(format: "raw etcd gRPC create transactions: 1 client %.0f/s, 32 clients %.0f/s", raw1, raw32))
        for side in sides {
            printThroughput("store-create-1-\(side.name)", side.one, raw1)
            printThroughput("store-create-32-\(side.name)", side.many, raw32)
            if side.name == "etcd" { printThroughput("store-etcd-vs-raw-32", side.many, raw32) }
        }
        if let anchorCPU, let etcdBackendCPU {
            // With the cores saturated, throughput goes as 1 / (CPU per create): the ratio can
            // reach the anchor's CPU per create over the API path's, and 0.7 needs the API
            // server's own share at most anchor / 0.7 less what etcd and the client spend.
            let anchor = anchorCPU.etcd + anchorCPU.client
            let api = etcdBackendCPU.server + etcdBackendCPU.etcd + etcdBackendCPU.client
            let allowed = anchor / 0.7 - etcdBackendCPU.etcd - etcdBackendCPU.client
            print(String(format: "CPU per create at 32 clients: anchor: etcd %.0f µs + client %.0f µs; etcd backend: API server %.0f µs + etcd %.0f µs + client %.0f µs; CPU-bound ratio %.2f; 0.7 needs the API server at <= %.0f µs per create",
                         anchorCPU.etcd, anchorCPU.client, etcdBackendCPU.server, etcdBackendCPU.etcd, etcdBackendCPU.client, anchor / api, allowed))
            print(String(format: "RESULT store-etcd-cpu-32 apiserver=%.0f etcd=%.0f client=%.0f anchor_etcd=%.0f anchor_client=%.0f bound=%.2f unit=us",
                         etcdBackendCPU.server, etcdBackendCPU.etcd, etcdBackendCPU.client, anchorCPU.etcd, anchorCPU.client, anchor / api))
        }
    }

    /// The creates' share of the ceiling, steadied: on this shared machine one run's creates
    /// and its ceiling, measured a minute apart, drift apart by ±10 points. Five rounds, each
    /// GET /healthz then creates at 32 clients back to back (the same client libraries as
    /// above); the share is the median of the rounds' own ratios, by throughput and by CPU
    /// (API server plus this process), so drift between rounds cancels within each.
    func pairedShare(server: APIServerProcess, client: APIClient, value: String) async throws {
        let probe = HTTPSProbe()
        var byThroughput: [Double] = [], byCPU: [Double] = []
        do {
            for round in 0..<5 {
                let pids = (server: server.process.processIdentifier, client: getpid())
                var before = (cpuSeconds(pids.server), cpuSeconds(pids.client))
                let noop = try await throughput(count: concurrentCount, clients: 32) { _ in try await probe.get(server.server + "/healthz") }
                let noopCPU = cpuSeconds(pids.server) - before.0 + cpuSeconds(pids.client) - before.1
                before = (cpuSeconds(pids.server), cpuSeconds(pids.client))
                let creates = try await throughput(count: concurrentCount, clients: 32) { i in
                    try await create(client, namespace: "default", name: "paired-\(round)-\(i)", value)
                }
                let createCPU = cpuSeconds(pids.server) - before.0 + cpuSeconds(pids.client) - before.1
                byThroughput.append(creates / noop)
                byCPU.append(noopCPU / createCPU)
            }
        } catch {
            await probe.shutdown()
            throw error
        }
        await probe.shutdown()
        func list(_ xs: [Double]) -> String { xs.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: ", ") }
        print("creates as a share of GET /healthz, five paired rounds at 32 clients: by throughput \(list(byThroughput)); by CPU \(list(byCPU))")
        print(String(format: "RESULT store-sqlite-share-32 throughput=%.2f cpu=%.2f target=0.50 rounds=5",
                     percentile(byThroughput, 0.5), percentile(byCPU, 0.5)))
    }

    /// What authorization costs a request: ConfigMap creates from 32 clients by a user whose
    /// right comes from RBAC (a RoleBinding to `edit`, among 500 bindings of other users and
    /// groups, and the default policy), against the same user on the same data with
    /// `--authorization-mode AlwaysAllow`. The admin token would not do: system:masters skips
    /// the authorizers. The two servers alternate, five rounds each; the figure is the median
    /// of each adjacent pair's ratio (what drifts on a shared machine cancels within a pair).
    /// The pairs take turns going first (RBAC, AlwaysAllow, then AlwaysAllow, RBAC, ...): with
    /// RBAC always first, a steady drift counted against one side in every pair (on 12-07 the
    /// CPU per create of both fell ~4% a round, and RBAC read 7% costlier for a decision that
    /// costs 1%).
    func rbacOverhead(binary: String, scratch: String, value: String) async throws {
        let dataDir = "\(scratch)/apiserver-rbac"
        var rbac: [Double] = [], allowAll: [Double] = []
        // The API server's CPU per create in each round: steadier than throughput on a
        // shared machine (what another tenant takes slows a round but costs it no CPU).
        var rbacCPU: [Double] = [], allowAllCPU: [Double] = []
        var setUp = false
        for round in 0..<10 {
            let alwaysAllow = (round % 2 == 1) != ((round / 2) % 2 == 1)
            let server = try APIServerProcess(binary: binary, dataDir: dataDir,
                                              extraArgs: alwaysAllow ? ["--authorization-mode", "AlwaysAllow"] : [])
            defer { server.stop() }
            if !setUp {
                var objects = ["apiVersion: v1\nkind: List\nitems:"]
                for i in 0..<500 {
                    objects.append("""
                        - apiVersion: rbac.authorization.k8s.io/v1
                          kind: RoleBinding
                          metadata: {name: other-\(i), namespace: default}
                          roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: \(i % 2 == 0 ? "view" : "edit")}
                          subjects: [{apiGroup: rbac.authorization.k8s.io, kind: \(i % 3 == 0 ? "Group" : "User"), name: someone-\(i)}]
                        """)
                }
                objects.append("""
                    - apiVersion: rbac.authorization.k8s.io/v1
                      kind: RoleBinding
                      metadata: {name: bench-edit, namespace: default}
                      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
                      subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bench}]
                    """)
                _ = try Command.check(["kubectl", "--kubeconfig", server.kubeconfig, "apply", "-f", "-"], stdin: objects.joined(separator: "\n"))
                setUp = true
            }
            let client = try APIClient(try ClientConfig.kubeconfig(try server.kubeconfig(user: "bench", binary: binary)), maxConnections: 64)
            let cpuBefore = cpuSeconds(server.process.processIdentifier)
            let rate = try await throughput(count: concurrentCount, clients: 32) { i in
                try await create(client, namespace: "default", name: "rbac-\(round)-\(i)", value)
            }
            let cpu = (cpuSeconds(server.process.processIdentifier) - cpuBefore) / Double(concurrentCount) * 1e6
            await client.shutdown()
            if alwaysAllow { allowAll.append(rate); allowAllCPU.append(cpu) } else { rbac.append(rate); rbacCPU.append(cpu) }
        }
        let cpuRatio = percentile(zip(rbacCPU, allowAllCPU).map { $0 / $1 }, 0.5)
        print(String(format: "RBAC: the API server's CPU per create: %.0f µs (rounds %@); with AlwaysAllow %.0f µs (rounds %@)",
                     percentile(rbacCPU, 0.5), rbacCPU.map { String(format: "%.0f", $0) }.joined(separator: ", "),
                     percentile(allowAllCPU, 0.5), allowAllCPU.map { String(format: "%.0f", $0) }.joined(separator: ", ")))
        print(String(format: "RESULT store-rbac-cpu-32 rbac=%.0f alwaysallow=%.0f ratio=%.3f costlier=%.1f%% target=5%% unit=us",
                     percentile(rbacCPU, 0.5), percentile(allowAllCPU, 0.5), cpuRatio, (cpuRatio - 1) * 100))
        let on = percentile(rbac, 0.5), off = percentile(allowAll, 0.5)
        let ratio = percentile(zip(rbac, allowAll).map { $0 / $1 }, 0.5)
        print(String(format: "RBAC: 32 clients creating as a user bound through RBAC: %.0f/s (rounds %@); the same with AlwaysAllow: %.0f/s (rounds %@)",
                     on, rbac.map { String(format: "%.0f", $0) }.joined(separator: ", "), off,
                     allowAll.map { String(format: "%.0f", $0) }.joined(separator: ", ")))
        print(String(format: "RESULT store-rbac-32 rbac=%.0f alwaysallow=%.0f ratio=%.3f slower=%.1f%% target=5%% unit=ops/s",
                     on, off, ratio, (1 - ratio) * 100))

        // The decision alone, in this process, on the same policy (defaults, aggregation, 500
        // bindings and bench's): what RBAC adds to each request, free of the run-to-run noise
        // of the HTTP figures above.
        var policy = BootstrapPolicy.policy
        for i in 0..<500 {
            policy.setBinding(namespace: "default", name: "other-\(i)", .init(name: "other-\(i)", namespace: "default",
                roleRef: RoleRef(kind: .clusterRole, name: i % 2 == 0 ? "view" : "edit"),
                subjects: [Subject(kind: i % 3 == 0 ? .group : .user, name: "someone-\(i)")]))
        }
        policy.setBinding(namespace: "default", name: "bench-edit", .init(name: "bench-edit", namespace: "default",
            roleRef: RoleRef(kind: .clusterRole, name: "edit"), subjects: [Subject(kind: .user, name: "bench")]))
        let attributes = RequestAttributes(user: UserInfo(name: "bench", groups: ["system:authenticated"]), verb: "create",
                                           target: .resource(group: "", resource: "configmaps", subresource: "", namespace: "default", name: ""))
        let decisions = 200_000
        var allowed = 0
        let start = now()
        for _ in 0..<decisions where policy.authorize(attributes).allowed { allowed += 1 }
        let micros = (now() - start) / Double(decisions) * 1e6
        guard allowed == decisions else { throw ValidationError("the in-process policy refused bench: the bench is wrong") }
        let perCreate = percentile(allowAllCPU, 0.5)
        print(String(format: "RBAC decision in process: %.2f µs (a create costs the server %.0f µs of CPU at 32 clients, measured above): %.2f%% of a request",
                     micros, perCreate, micros / perCreate * 100))
        print(String(format: "RESULT store-rbac-decision us=%.2f share=%.2f%% unit=us", micros, micros / perCreate * 100))
    }

    /// The API's own work per create, without HTTP or TLS: the same creates through
    /// `APIServer.handle` in this process, on a fresh SQLite store, 32 at a time (as the admin,
    /// whom the authorizers let through). Returns creates/s and this process's CPU per create.
    /// With `dryRun`, everything but the store's write (`?dryRun=All`). Then (not for dry runs)
    /// as many GETs of the objects made, 32 at a time: `getCPU` is this process's CPU per GET.
    func inProcess(scratch: String, value: String, dryRun: Bool = false) async throws -> (rate: Double, cpu: Double, getCPU: Double) {
        let dir = scratch + (dryRun ? "/inprocess-dry-run" : "/inprocess")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let api = APIServer(store: try SQLiteStore(path: dir + "/state.db"),
                            options: .init(serviceClusterIPRange: try IPPrefix("10.96.0.0/16")))
        try await api.bootstrap()
        let admin = TokenAuthenticator.User(name: "admin", uid: "admin", groups: ["system:masters"])
        let before = cpuSeconds(getpid())
        let rate = try await throughput(count: concurrentCount, clients: 32) { i in
            var cm = ConfigMap(name: "inprocess-\(i)", namespace: "default")
            cm.data = ["payload": value]
            let request = APIRequest(method: "POST", path: "/api/v1/namespaces/default/configmaps", query: dryRun ? ["dryRun": "All"] : [:], body: cm.json.jsonBytes(), user: admin)
            switch await api.handle(request) {
            case .json(201, _), .bytes(201, _, _): break
            case let other: throw ValidationError("in-process create: \(other)")
            }
        }
        let cpu = (cpuSeconds(getpid()) - before) / Double(concurrentCount) * 1e6
        if dryRun { return (rate, cpu, 0) }
        let beforeGets = cpuSeconds(getpid())
        try await runConcurrently(concurrentCount, clients: 32) { i in
            let request = APIRequest(method: "GET", path: "/api/v1/namespaces/default/configmaps/inprocess-\(i)", user: admin)
            switch await api.handle(request) {
            case .json(200, _), .bytes(200, _, _): break
            case let other: throw ValidationError("in-process get: \(other)")
            }
        }
        return (rate, cpu, (cpuSeconds(getpid()) - beforeGets) / Double(concurrentCount) * 1e6)
    }

    /// What the fastest request costs here: GET /healthz (no token, no body, no store, a
    /// two-byte answer) over the same kind of keep-alive HTTPS connections as the creates,
    /// from 1 and 32 clients, against the API server and, when nginx is installed, against
    /// nginx (`return 200`, same certificate). No create can be faster than this ceiling, so
    /// it shows how far a create target is from what the machine and the client allow.
    /// Returns the API server's and this process's CPU per GET at 32 clients.
    func ceiling(server: APIServerProcess, scratch: String) async throws -> (server: Double, client: Double) {
        var targets = [("apiserver", server.server + "/healthz")]
        var nginx: Process?
        let port = 20000 + Int(getpid() % 20000)
        if FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") {
            let dir = scratch + "/nginx"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let conf = """
                daemon off; worker_processes 1; pid \(dir)/nginx.pid; error_log \(dir)/error.log;
                events { worker_connections 1024; }
                http { access_log off;
                  server { listen 127.0.0.1:\(port) ssl; ssl_certificate \(server.dataDir)/pki/apiserver.crt;
                           ssl_certificate_key \(server.dataDir)/pki/apiserver.key; keepalive_requests 1000000;
                           location / { return 200 "ok"; } } }
                """
            try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
            p.arguments = ["-c", dir + "/nginx.conf", "-p", dir]
            try p.run()
            nginx = p
        }
        defer { if let nginx, nginx.isRunning { nginx.terminate(); nginx.waitUntilExit() } }
        if let nginx {
            try await Task.sleep(for: .milliseconds(500))
            if nginx.isRunning {
                targets.append(("nginx", "https://127.0.0.1:\(port)/healthz"))
            } else {
                print("ceiling: nginx did not start (see \(scratch)/nginx/error.log); measuring the API server only")
            }
        }
        let probe = HTTPSProbe()
        var cpu = (server: 0.0, client: 0.0)
        do {
            for (name, url) in targets {
                let one = try await throughput(count: serialCount, clients: 1) { _ in try await probe.get(url) }
                let before = (cpuSeconds(server.process.processIdentifier), cpuSeconds(getpid()))
                let many = try await throughput(count: concurrentCount, clients: 32) { _ in try await probe.get(url) }
                if name == "apiserver" {
                    let n = Double(concurrentCount) / 1e6
                    cpu = ((cpuSeconds(server.process.processIdentifier) - before.0) / n, (cpuSeconds(getpid()) - before.1) / n)
                }
                print(String(format: "ceiling: GET /healthz of %@ over HTTPS: 1 client %.0f/s (%.3f ms each), 32 clients %.0f/s",
                             name, one, 1000 / one, many))
                print(String(format: "RESULT store-ceiling-%@ one=%.0f many=%.0f unit=ops/s", name, one, many))
            }
        } catch {
            await probe.shutdown()
            throw error
        }
        await probe.shutdown()
        return cpu
    }

    /// Where a create's cost goes, request kind by request kind, from the same raw HTTPS client
    /// (AsyncHTTPClient, 64 connections) at 32 clients: what the API server and this process
    /// spend per request on GET /healthz (no token, no body), a GET of a 1 KiB ConfigMap
    /// (token, authorization, a store read, a 1 KiB answer), a dry-run create (the whole API
    /// path but the store: a 1 KiB body each way) and a create.
    func breakdown(binary: String, scratch: String, value: String) async throws {
        let server = try APIServerProcess(binary: binary, dataDir: "\(scratch)/apiserver-breakdown")
        defer { server.stop() }
        let probe = HTTPSProbe()
        defer { Task { await probe.shutdown() } }
        let base = server.server + "/api/v1/namespaces/default/configmaps"
        @Sendable func body(_ name: String) -> ByteBuffer {
            var cm = ConfigMap(name: name, namespace: "default")
            cm.data = ["payload": value]
            return ByteBuffer(bytes: cm.json.jsonBytes())
        }
        try await probe.send(.POST, base, token: server.token, body: body("read-me"), expect: 201)
        // Names as the creates of the main run have them: in key order they are not in the
        // order made (r0-1, r0-10, r0-100, ...), as names of real objects are not.
        let requests: [String: @Sendable (String) async throws -> Void] = [
            "healthz": { _ in try await probe.get(server.server + "/healthz") },
            "get": { _ in try await probe.send(.GET, base + "/read-me", token: server.token, expect: 200) },
            "dry-run": { i in try await probe.send(.POST, base + "?dryRun=All", token: server.token, body: body("dry-" + i), expect: 201) },
            "create": { i in try await probe.send(.POST, base, token: server.token, body: body("made-" + i), expect: 201) },
        ]
        let all = Self.breakdownRequests.map { ($0.kind, $0.name, requests[$0.kind]!) }
        let chosen = breakdownKinds.split(separator: ",").map(String.init)
        guard chosen.allSatisfy({ kind in all.contains { $0.0 == kind } }) else {
            throw ValidationError("--breakdown-kinds takes \(all.map(\.0).joined(separator: ", ")), not \(breakdownKinds)")
        }
        let kinds = all.filter { chosen.contains($0.0) }.map { ($0.1, $0.2) }
        for round in 0..<2 {
            for (name, request) in kinds {
                _ = try await throughput(count: 500, clients: 32) { i in try await request("w\(round)-\(i)") }
                let before = (cpuSeconds(server.process.processIdentifier), cpuSeconds(getpid()))
                let rate = try await throughput(count: concurrentCount, clients: 32) { i in try await request("r\(round)-\(i)") }
                let n = Double(concurrentCount) / 1e6
                let cpu = ((cpuSeconds(server.process.processIdentifier) - before.0) / n, (cpuSeconds(getpid()) - before.1) / n)
                print(String(format: "breakdown round %d: %@: %.0f/s, API server %.0f µs + client %.0f µs per request",
                             round + 1, name, rate, cpu.0, cpu.1))
            }
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") {
            try wrkBreakdown(server: server, chosen: chosen, scratch: scratch, value: value)
        }
    }

    /// The breakdown's request kinds (the flag's words) and how the lines name them.
    static let breakdownRequests = [(kind: "healthz", name: "GET /healthz"), (kind: "get", name: "GET configmap"),
                                    (kind: "dry-run", name: "dry-run create"), (kind: "create", name: "create")]

    /// The same requests from wrk (Debian's `wrk`: one write per request, as Go's net/http
    /// sends kubectl's and client-go's, and a client that costs little CPU), so the API
    /// server's own cost per request is seen apart from this process's HTTP client, which
    /// sends a request's head and body in two writes (two TLS records, two reads here).
    func wrkBreakdown(server: APIServerProcess, chosen: [String], scratch: String, value: String) throws {
        let script = scratch + "/wrk-post.lua"
        // Each thread (wrk -t1: one) numbers its own requests; PREFIX keeps runs apart.
        try """
        local counter = 0
        local payload = string.rep("x", \(value.utf8.count))
        local prefix = os.getenv("PREFIX")
        local path = os.getenv("WPATH")
        request = function()
          counter = counter + 1
          local body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"' .. prefix .. '-' .. counter .. '"},"data":{"payload":"' .. payload .. '"}}'
          return wrk.format("POST", path, {["Authorization"]="Bearer \(server.token)", ["Content-Type"]="application/json"}, body)
        end
        response = function(status, headers, body)
          if status ~= 201 then print("unexpected status " .. status) end
        end
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let base = server.server + "/api/v1/namespaces/default/configmaps"
        // wrk's arguments and environment per kind.
        let requests: [String: ([String], [String: String])] = [
            "healthz": ([server.server + "/healthz"], [:]),
            "get": (["-H", "Authorization: Bearer \(server.token)", base + "/read-me"], [:]),
            "dry-run": (["-s", script, server.server], ["WPATH": "/api/v1/namespaces/default/configmaps?dryRun=All"]),
            "create": (["-s", script, server.server], ["WPATH": "/api/v1/namespaces/default/configmaps"]),
        ]
        let kinds = Self.breakdownRequests.filter { chosen.contains($0.kind) }.map { ($0.name, requests[$0.kind]!) }
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        for round in 0..<2 {
            for (name, (arguments, environment)) in kinds {
                let wrk = Process()
                wrk.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
                wrk.arguments = ["-t1", "-c32", "-d6s"] + arguments
                wrk.environment = environment.merging(["PREFIX": "wrk\(round)", "PATH": "/usr/bin:/bin"]) { a, _ in a }
                let out = Pipe()
                wrk.standardOutput = out
                var before = rusage(), after = rusage()
                getrusage(RUSAGE_CHILDREN.rawValue, &before)
                let serverBefore = cpuSeconds(server.process.processIdentifier)
                try wrk.run()
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                wrk.waitUntilExit()
                let serverCPU = cpuSeconds(server.process.processIdentifier) - serverBefore
                getrusage(RUSAGE_CHILDREN.rawValue, &after)
                let clientCPU = seconds(after.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_utime) - seconds(before.ru_stime)
                // "  123456 requests in 6.00s, ..." and "Requests/sec:  20576.12"
                let words = text.split(whereSeparator: \.isWhitespace)
                guard let at = words.firstIndex(of: "requests"), at > words.startIndex, let count = Double(words[words.index(before: at)]),
                      let rateAt = words.firstIndex(of: "Requests/sec:"), let rate = Double(words[words.index(after: rateAt)]), count > 0 else {
                    throw ValidationError("wrk printed no result: \(text)")
                }
                guard !text.contains("unexpected status"), !text.contains("Non-2xx") else {
                    throw ValidationError("wrk's \(name) requests failed: \(text)")
                }
                print(String(format: "breakdown (wrk) round %d: %@: %.0f/s, API server %.0f µs + wrk %.0f µs per request",
                             round + 1, name, rate, serverCPU / count * 1e6, clientCPU / count * 1e6))
            }
        }
    }

    func create(_ client: APIClient, namespace: String, name: String, _ value: String) async throws {
        var cm = ConfigMap(name: name, namespace: namespace)
        cm.data = ["payload": value]
        _ = try await client.create(cm)
    }

    /// Operations per second: `count` calls of `body`, `clients` at a time.
    func throughput(count: Int, clients: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
        let start = now()
        try await runConcurrently(count, clients: clients, body)
        return Double(count) / (now() - start)
    }

    /// Seconds from sending each create to each watcher reading its ADDED event.
    func watchLatency(writer client: APIClient, watcher: APIClient, watchers: Int, events: Int, pace: Duration,
                      serverPID: Int32) async throws -> [Double] {
        let watched = "watched-\(watchers)"
        let namespace: JSONValue = ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(watched)]]
        let resource = ConfigMap.resource
        _ = try await client.create(Namespace.resource, namespace)
        let list = try await client.list(resource, namespace: watched)
        let sent = Locked<[String: Double]>([:])
        let arrivals = Locked<[Double]>([])
        let firsts = Locked<[String: Double]>([:])
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<watchers {
                group.addTask {
                    var seen = 0
                    for try await event in watcher.watch(resource, namespace: watched, resourceVersion: list.resourceVersion) {
                        guard event.kind == .added, let name = event.object.name else { continue }
                        let at = now()
                        if let t0 = sent.withLock({ $0[name] }) {
                            arrivals.withLock { $0.append(at - t0) }
                            firsts.withLock { $0[name] = min($0[name] ?? .infinity, at - t0) }
                        }
                        seen += 1
                        if seen == events { return }
                    }
                }
            }
            // Every watcher must be connected before the first timed write: a bookmark-less
            // watch says nothing when it starts, so give the connections time to open.
            try await Task.sleep(for: .seconds(watchers > 200 ? 8 : 2))
            // The floor: the CPU every delivery costs the server and this process (the
            // watchers' client side), measured over the timed writes. Both share the machine's
            // cores, so N watchers cannot all be served faster than N × (server + client) / cores.
            let serverBefore = cpuSeconds(serverPID), selfBefore = cpuSeconds(getpid())
            for i in 0..<events {
                let name = "w-\(i)"
                sent.withLock { $0[name] = now() }
                var cm = ConfigMap(name: name, namespace: watched)
                cm.data = ["payload": String(repeating: "y", count: 1024)]
                _ = try await client.create(cm)
                try await Task.sleep(for: pace)
            }
            try await group.waitForAll()
            let deliveries = Double(events * watchers)
            let serverMicros = (cpuSeconds(serverPID) - serverBefore) / deliveries * 1e6
            let clientMicros = (cpuSeconds(getpid()) - selfBefore) / deliveries * 1e6
            let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
            let floor = (serverMicros + clientMicros) * Double(watchers) / cores / 1000
            print(String(format: "watch (%d watchers): CPU per delivery: server %.1f µs, watchers' client %.1f µs; one event to all of them needs >= %.2f ms on %.0f cores",
                         watchers, serverMicros, clientMicros, floor, cores))
            print(String(format: "RESULT store-watch-floor-%d server=%.1f client=%.1f unit=us floor=%.2f ms", watchers, serverMicros, clientMicros, floor))
            let first = firsts.withLock { Array($0.values) }
            print(String(format: "watch (%d watchers): first watcher p50 %.2f ms p99 %.2f ms", watchers,
                         percentile(first, 0.5) * 1000, percentile(first, 0.99) * 1000))
            return arrivals.withLock { $0 }
        }
    }

    func percentile(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * p))]
    }

    /// Throughput: the ratio is Netplane over the anchor (higher is better).
    func printThroughput(_ name: String, _ netplane: Double, _ anchor: Double) {
        print(String(format: "RESULT %@ netplane=%.0f anchor=%.0f ratio=%.2f unit=ops/s", name, netplane, anchor,
                     anchor > 0 ? netplane / anchor : 0))
    }
}

/// GETs over keep-alive HTTPS without certificate checks (the servers' certificates are
/// made for the run), with the same HTTP client library and pool size as the creates.
final class HTTPSProbe: Sendable {
    let http: HTTPClient

    init() {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        var config = HTTPClient.Configuration(tlsConfiguration: tls)
        config.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        config.httpVersion = .http1Only
        config.tracing.tracer = nil  // as APIClient: the ceiling's client does no more than the creates'
        http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: config)
    }

    func get(_ url: String) async throws { try await send(.GET, url, expect: 200) }

    /// A request, with a bearer token if given; fails unless the answer has status `expect`.
    func send(_ method: HTTPMethod, _ url: String, token: String? = nil, body: ByteBuffer? = nil, expect: UInt) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer " + token) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let answer = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == expect else {
            throw ValidationError("\(method) \(url): HTTP \(response.status.code): \(String(buffer: answer))")
        }
    }

    func shutdown() async { try? await http.shutdown() }
}

/// A value shared by concurrent tasks.
final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) -> sending R) -> R { mutex.withLock(body) }
}
