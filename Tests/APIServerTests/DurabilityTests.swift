import Foundation
import Testing
import NetplaneTestSupport

/// kill -9 in the middle of 1000 concurrent creates: every create that was answered 201 is
/// there after a restart, and a watch resumed from the last revision seen delivers the rest,
/// each object exactly once.
@Suite(.serialized) struct DurabilityTests {
    static let load = """
        import json, os, signal, sys, threading, requests, urllib3
        from concurrent.futures import ThreadPoolExecutor
        urllib3.disable_warnings()
        server, token, pid, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
        h = {"Authorization": "Bearer " + token}
        base = server + "/api/v1/namespaces/default/configmaps"
        rv0 = requests.get(base, headers=h, verify=False).json()["metadata"]["resourceVersion"]
        events, created, lock = [], [], threading.Lock()
        def watch():
            try:
                r = requests.get(base, params={"watch": "1", "resourceVersion": rv0}, headers=h, verify=False, stream=True)
                for line in r.iter_lines():
                    if line:
                        e = json.loads(line)
                        events.append([e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"]])
            except Exception:
                pass
        t = threading.Thread(target=watch, daemon=True); t.start()
        import time; time.sleep(0.5)
        session = threading.local()
        def create(i):
            s = getattr(session, "s", None) or requests.Session()
            session.s = s
            body = {"metadata": {"name": "cm-%04d" % i}, "data": {"v": "x" * 1024}}
            try:
                r = s.post(base, json=body, headers=h, verify=False, timeout=10)
            except Exception:
                return
            if r.status_code == 201:
                with lock:
                    created.append(body["metadata"]["name"])
                    if len(created) == 400:
                        os.kill(pid, signal.SIGKILL)
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(create, range(1000)))
        t.join(5)
        json.dump({"created": created, "events": events}, open(out, "w"))
        """

    static let resume = """
        import json, sys, requests, urllib3
        urllib3.disable_warnings()
        server, token, rv, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
        h = {"Authorization": "Bearer " + token}
        base = server + "/api/v1/namespaces/default/configmaps"
        names = [i["metadata"]["name"] for i in requests.get(base, headers=h, verify=False).json()["items"]]
        events = []
        r = requests.get(base, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "3"}, headers=h, verify=False, stream=True)
        for line in r.iter_lines():
            if line:
                e = json.loads(line)
                events.append([e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"]])
        json.dump({"stored": names, "events": events}, open(out, "w"))
        """

    @Test(arguments: Backend.allCases) func killDuringConcurrentCreatesLosesNothing(_ backend: Backend) throws {
        let etcd = backend == .etcd ? try EtcdCluster() : nil
        defer { etcd?.stop() }
        let first = try RunningAPIServer(backend: backend, etcd: etcd)
        let dir = first.dataDir
        try Self.load.write(toFile: dir + "/load.py", atomically: true, encoding: .utf8)
        try Self.resume.write(toFile: dir + "/resume.py", atomically: true, encoding: .utf8)
        let loaded = try Command.run(["timeout", "120", "python3", dir + "/load.py", first.server, first.token,
                                      String(first.process.processIdentifier), dir + "/phase1.json"])
        #expect(loaded.succeeded, "\(loaded.stderr)")
        first.process.waitUntilExit()
        #expect(first.process.terminationReason == .uncaughtSignal, "the server was killed with SIGKILL")

        let phase1 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/phase1.json"))) as? [String: Any] ?? [:]
        let created = Set(phase1["created"] as? [String] ?? [])
        let events1 = phase1["events"] as? [[String]] ?? []
        #expect(created.count >= 400 && created.count < 1000, "the kill came mid-load: \(created.count) created")
        let lastRV = events1.last?[2] ?? "0"

        let second = try RunningAPIServer(dataDir: dir, backend: backend, etcd: etcd)
        defer { second.stop() }
        let resumed = try Command.run(["timeout", "60", "python3", dir + "/resume.py", second.server, second.token, lastRV,
                                       dir + "/phase2.json"])
        #expect(resumed.succeeded, "\(resumed.stderr)")
        let phase2 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/phase2.json"))) as? [String: Any] ?? [:]
        // The namespace's kube-root-ca.crt is the server's, made with the namespace before the
        // watch began: the load's ConfigMaps are the rest.
        let stored = Set(phase2["stored"] as? [String] ?? []).subtracting(["kube-root-ca.crt"])
        let events2 = phase2["events"] as? [[String]] ?? []

        #expect(created.isSubset(of: stored), "lost after a 201: \(created.subtracting(stored).sorted().prefix(5))")
        let watched = (events1 + events2).map { $0[1] }
        #expect(watched.count == Set(watched).count, "a watch event came twice")
        #expect(Set(watched) == stored, "watched \(watched.count) objects, \(stored.count) stored")
        #expect((events1 + events2).allSatisfy { $0[0] == "ADDED" })
        let revisions = (events1 + events2).compactMap { Int($0[2]) }
        #expect(revisions == revisions.sorted(), "revisions in order")
    }
}
