import Foundation
import NetplaneTestSupport
import Synchronization

/// A throwaway directory for one test.
func testDirectory(_ prefix: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Stands in for the node agents: marks every pod that is not running yet as running and
/// ready (with `boundOnly`, only pods bound to a node), and, with `finishTerminating`, deletes
/// for good the pods a graceful delete has marked (a node agent does once their containers
/// stop), until stopped.
final class FakeNodeAgent: @unchecked Sendable {
    let running = Atomic(true)
    let done = DispatchSemaphore(value: 0)

    init(_ api: APIServerProcess, boundOnly: Bool = false, finishTerminating: Bool = false, namespace: String = "default") {
        Thread { [self] in
            while running.load(ordering: .relaxed) {
                // name, phase, node per line (kubectl's jsonpath filters take one comparison).
                let out = (try? api.kubectl(["get", "pods", "-n", namespace, "-o",
                    #"jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName}{"\n"}{end}"#]).stdout) ?? ""
                let waiting = out.split(separator: "\n").compactMap { line -> Substring? in
                    let fields = line.split(separator: " ")
                    guard fields.count >= 2, fields[1] != "Running", !boundOnly || fields.count == 3 else { return nil }
                    return fields[0]
                }
                for pod in waiting {
                    _ = try? api.kubectl(["patch", "pod", "-n", namespace, String(pod), "--subresource=status", "--type=merge", "-p",
                                          #"{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}"#])
                }
                if finishTerminating {
                    let going = (try? api.kubectl(["get", "pods", "-n", namespace, "-o",
                        #"jsonpath={range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{" "}{end}"#]).stdout) ?? ""
                    for pod in going.split(separator: " ") {
                        _ = try? api.kubectl(["delete", "pod", "-n", namespace, String(pod), "--grace-period=0", "--force", "--wait=false"])
                    }
                }
                usleep(200_000)
            }
            done.signal()
        }.start()
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        done.wait()
    }
}

/// Marks a Job's pending pods `phase`, as a node agent would; how many there were.
func finishJobPods(_ api: APIServerProcess, job: String, phase: String) throws -> Int {
    let pods = try api.kubectl(["get", "pods", "-l", "batch.kubernetes.io/job-name=\(job)", "-o",
                                #"jsonpath={range .items[?(@.status.phase=="Pending")]}{.metadata.name}{" "}{end}"#]).stdout
        .split(separator: " ")
    for pod in pods {
        _ = try api.kubectl(["patch", "pod", String(pod), "--subresource=status", "--type=merge", "-p", #"{"status":{"phase":"\#(phase)"}}"#])
    }
    return pods.count
}

/// `kubectl get <what> -o jsonpath=<path>` ("" when it fails).
func jsonpath(_ api: APIServerProcess, _ what: String, _ path: String) -> String {
    (try? api.kubectl(["get"] + what.split(separator: " ").map(String.init) + ["-o", "jsonpath=\(path)"]).stdout) ?? ""
}
