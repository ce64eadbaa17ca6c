import Foundation
import NetplaneTestSupport
import Testing

/// What the API server checks of pods/exec before any node is involved
/// (Tests/APIServerTests/ExecAPITests.swift; a real `netplane apiserver`, no nodes).
@Suite(.serialized) struct ExecAPITests {
    /// A raw request with extra headers; its status and body.
    func curl(_ api: RunningAPIServer, _ method: String, _ path: String, headers: [String] = []) throws -> (status: Int, body: String) {
        var args = ["curl", "-sS", "-k", "--http1.1", "-X", method, "-o", "-", "-w", "\n%{http_code}",
                    "-H", "Authorization: Bearer \(api.token)"]
        for header in headers { args += ["-H", header] }
        let result = try Command.run(args + [api.server + path])
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test func execIsCheckedBeforeItReachesANode() throws {
        let api = try RunningAPIServer()
        defer { api.stop() }
        try api.kubectlOK(["apply", "-f", "-"], stdin: """
            apiVersion: v1
            kind: Pod
            metadata: {name: two}
            spec:
              containers: [{name: a, image: busybox}, {name: b, image: busybox}]
            """)
        // kubectl: the WebSocket upgrade is refused, the SPDY retry answered with the Status.
        let unbound = try api.kubectl(["exec", "two", "-c", "a", "--", "true"])
        #expect(unbound.status != 0)
        #expect(unbound.stderr.contains("pod two does not have a host assigned"), "\(unbound.stderr)")
        // What kubectl never sends (it names a container itself), kube-apiserver's words.
        let unnamed = try curl(api, "POST", "/api/v1/namespaces/default/pods/two/exec?command=true&stdout=true")
        #expect(unnamed.status == 400)
        #expect(unnamed.body.contains("a container name must be specified for pod two, choose one of: [a b]"), "\(unnamed.body)")
        let attach = try curl(api, "POST", "/api/v1/namespaces/default/pods/two/attach?container=a&stdout=true")
        #expect(attach.status == 400 && attach.body.contains("pods/attach is not supported"), "\(attach.body)")
        // A SPDY upgrade request is answered (NIO's upgrade handler would drop it unfiltered).
        let spdy = try curl(api, "POST", "/api/v1/namespaces/default/pods/two/exec?command=true&stdout=true&container=a",
                            headers: ["Connection: Upgrade", "Upgrade: SPDY/3.1", "X-Stream-Protocol-Version: v4.channel.k8s.io"])
        #expect(spdy.status == 400 && spdy.body.contains("does not have a host assigned"), "\(spdy.body)")
        // A WebSocket upgrade the server does not take gets a 400 (then kubectl falls back).
        let websocket = try curl(api, "GET", "/api/v1/namespaces/default/pods/two/exec?command=true&stdout=true&container=a",
                                 headers: ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol: v5.channel.k8s.io"])
        #expect(websocket.status == 400)
        // The rest of the API is unaffected on the same server.
        #expect(try api.kubectlOK(["get", "pod", "two", "-o", "name"]) == "pod/two\n")
    }
}
