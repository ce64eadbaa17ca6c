import Foundation
import JSON

/// One probe of a container (exec, httpGet, tcpSocket) and its bookkeeping: the kubelet's
/// initialDelaySeconds, periodSeconds, timeoutSeconds, successThreshold and failureThreshold.
struct ProbeState: Sendable {
    enum Kind: String, Sendable { case startup, liveness, readiness }

    var kind: Kind
    var spec: JSONValue
    var nextAt: Double
    var successes = 0
    var failures = 0
    /// The probe's verdict: readiness starts false, liveness and startup true until they fail.
    var passing: Bool
    var lastMessage = ""

    init(kind: Kind, spec: JSONValue, startedAt: Double) {
        self.kind = kind
        self.spec = spec
        self.nextAt = startedAt + Double(spec["initialDelaySeconds"]?.intValue ?? 0)
        self.passing = kind != .readiness && kind != .startup
    }

    var period: Double { Double(max(1, spec["periodSeconds"]?.intValue ?? 10)) }
    var timeout: Double { Double(max(1, spec["timeoutSeconds"]?.intValue ?? 1)) }
    var successThreshold: Int { max(1, spec["successThreshold"]?.intValue ?? 1) }
    var failureThreshold: Int { max(1, spec["failureThreshold"]?.intValue ?? 3) }

    /// Records one result; returns true when the verdict changed.
    mutating func record(_ ok: Bool, message: String, now: Double) -> Bool {
        nextAt = now + period
        lastMessage = message
        if ok {
            successes += 1
            failures = 0
            if !passing && successes >= successThreshold {
                passing = true
                return true
            }
        } else {
            failures += 1
            successes = 0
            if (passing || kind == .startup) && failures >= failureThreshold {
                passing = false
                return true
            }
        }
        return false
    }
}

/// Probe actions against a pod: the agent runs in the node's network namespace, so the pod's
/// IP is reachable from here as it is from a kubelet.
enum ProbeAction {
    /// Success and a message for a failure ("HTTP probe failed with statuscode: 500").
    static func run(_ spec: JSONValue, podIP: String?, container: JSONValue, runc: Runc, containerID: String?,
                    timeout: Double) async -> (Bool, String) {
        if let exec = spec["exec"] {
            guard let id = containerID else { return (false, "container not running") }
            let command = exec["command"]?.arrayValue?.compactMap(\.stringValue) ?? []
            do {
                let output = try await runc.exec(id: id, command: command, timeout: timeout)
                let text = (output.stdoutText + output.stderrText).trimmingCharacters(in: .whitespacesAndNewlines)
                return output.succeeded ? (true, "") : (false, "command \(command) exited with \(output.status): \(text)")
            } catch { return (false, "\(error)") }
        }
        if let http = spec["httpGet"] {
            guard let port = resolvePort(http["port"], container) else { return (false, "unknown port \(http["port"]?.jsonString ?? "")") }
            let host = http["host"]?.stringValue ?? podIP ?? ""
            let path = http["path"]?.stringValue ?? "/"
            var headers = "Host: \(host):\(port)\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\nConnection: close\r\n"
            for header in http["httpHeaders"]?.arrayValue ?? [] {
                if let name = header["name"]?.stringValue, let value = header["value"]?.stringValue { headers += "\(name): \(value)\r\n" }
            }
            guard http["scheme"]?.stringValue ?? "HTTP" == "HTTP" else { return (false, "HTTPS probes are not supported") }
            let request = Array("GET \(path) HTTP/1.1\r\n\(headers)\r\n".utf8)
            let (reply, error) = await exchange(host: host, port: port, send: request, timeout: timeout)
            guard let reply else { return (false, "Get \"http://\(host):\(port)\(path)\": \(error)") }
            let statusLine = String(decoding: reply.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
            let parts = statusLine.split(separator: " ")
            guard parts.count >= 2, let code = Int(parts[1]) else { return (false, "HTTP probe: no status line from \(host):\(port)") }
            return (200..<400).contains(code) ? (true, "") : (false, "HTTP probe failed with statuscode: \(code)")
        }
        if let tcp = spec["tcpSocket"] {
            guard let port = resolvePort(tcp["port"], container) else { return (false, "unknown port") }
            let host = tcp["host"]?.stringValue ?? podIP ?? ""
            let (reply, error) = await exchange(host: host, port: port, send: nil, timeout: timeout)
            return reply != nil ? (true, "") : (false, "dial tcp \(host):\(port): \(error)")
        }
        if spec["grpc"] != nil { return (false, "gRPC probes are not supported by netplane kubelet") }
        return (false, "probe has no handler")
    }

    /// A numeric port, or a named one from the container's ports.
    static func resolvePort(_ value: JSONValue?, _ container: JSONValue) -> Int? {
        if let n = value?.intValue { return n }
        guard let name = value?.stringValue else { return nil }
        if let n = Int(name) { return n }
        return container["ports"]?.arrayValue?.first { $0["name"]?.stringValue == name }?["containerPort"]?.intValue
    }

    /// Connects (IPv4 or IPv6), sends `send` and reads until the peer closes; with nothing to
    /// send, a successful connect is the answer. Runs on its own thread: blocking sockets
    /// with timeouts are the simplest correct thing for a probe.
    static func exchange(host: String, port: Int, send: [UInt8]?, timeout: Double) async -> ([UInt8]?, String) {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: blockingExchange(host: host, port: port, send: send, timeout: timeout))
            }
            thread.start()
        }
    }

    static func blockingExchange(host: String, port: Int, send: [UInt8]?, timeout: Double) -> ([UInt8]?, String) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &info) == 0, let address = info else { return (nil, "bad address \(host)") }
        defer { freeaddrinfo(info) }
        let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (nil, String(cString: strerror(errno))) }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            let reason = errno == EINPROGRESS || errno == EAGAIN ? "i/o timeout" : "connect: " + String(cString: strerror(errno))
            return (nil, reason)
        }
        guard let send else { return ([], "") }
        guard send.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == send.count else {
            return (nil, "write: " + String(cString: strerror(errno)))
        }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while reply.count < 65536 {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                reply += buffer[0..<n]
                // The status line is all a probe reads.
                if reply.contains(10) { break }
            } else if n == 0 {
                break
            } else {
                return reply.isEmpty ? (nil, errno == EAGAIN ? "i/o timeout" : String(cString: strerror(errno))) : (reply, "")
            }
        }
        return (reply, "")
    }
}
