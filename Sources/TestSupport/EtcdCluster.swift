import Foundation

/// Real etcd members (Debian's etcd-server, 3.4) on free loopback ports, each with its own
/// data directory under /tmp: one member for the store tests, three for failover.
public final class EtcdCluster: @unchecked Sendable {
    public struct Member {
        public var name: String
        public var clientURL: String
        public var peerURL: String
        var process: Process
        /// The member's process id (for CPU accounting).
        public var pid: Int32 { process.processIdentifier }
    }

    /// PEM files for a cluster that serves TLS and asks every client for a certificate.
    public struct TLSFiles: Sendable {
        public var caFile: String
        public var certFile: String
        public var keyFile: String
    }

    public private(set) var members: [Member] = []
    let directory: String
    /// With `tls`: the CA and a client certificate it signed (the members' own are beside them).
    public private(set) var tls: TLSFiles?

    /// The client URLs, in member order.
    public var endpoints: [String] { members.map(\.clientURL) }

    /// `tls`: the members serve https with a certificate of a CA made here and require a
    /// client certificate (`--client-cert-auth`); `tls` then names the client's files.
    public init(members count: Int = 1, tls: Bool = false) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("np-etcd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var serving: [String] = []
        if tls {
            self.tls = try Self.makeCertificates(in: directory)
            serving = ["--cert-file", "\(directory)/server.crt", "--key-file", "\(directory)/server.key",
                       "--trusted-ca-file", "\(directory)/ca.crt", "--client-cert-auth"]
        }
        let ports = try (0..<(2 * count)).map { _ in try Self.freePort() }
        let names = (0..<count).map { "m\($0)" }
        let peers = (0..<count).map { "http://127.0.0.1:\(ports[2 * $0 + 1])" }
        let initialCluster = zip(names, peers).map { "\($0)=\($1)" }.joined(separator: ",")
        let token = "np-\(UUID().uuidString.prefix(8))"
        for i in 0..<count {
            let client = "\(tls ? "https" : "http")://127.0.0.1:\(ports[2 * i])"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
            process.arguments = [
                "--name", names[i], "--data-dir", "\(directory)/\(names[i])",
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
                "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", token,
                // Quick elections: the failover test waits for one.
                "--heartbeat-interval", "50", "--election-timeout", "500",
            ] + serving
            let log = "\(directory)/\(names[i]).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            members.append(Member(name: names[i], clientURL: client, peerURL: peers[i], process: process))
        }
        do {
            try waitHealthy()
        } catch {
            stop()
            throw error
        }
    }

    /// Waits until every running member reports a leader (bounded).
    public func waitHealthy(timeout: Double = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        for member in members where member.process.isRunning {
            while true {
                let credentials = tls.map { ["--cacert", $0.caFile, "--cert", $0.certFile, "--key", $0.keyFile] } ?? []
                let out = try Command.run(["curl", "-s", "--max-time", "1"] + credentials + [member.clientURL + "/health"])
                if out.stdout.contains("\"health\":\"true\"") { break }
                guard Date() < deadline else {
                    throw CommandFailed(command: ["etcd", member.name],
                                        result: CommandResult(status: -1, stdout: out.stdout, stderr: "etcd not healthy: \(log(member.name))"))
                }
                usleep(100_000)
            }
        }
    }

    /// A CA, a serving certificate for 127.0.0.1 and a client certificate, with openssl.
    static func makeCertificates(in directory: String) throws -> TLSFiles {
        func openssl(_ arguments: [String]) throws {
            let result = try Command.run(["openssl"] + arguments)
            guard result.succeeded else { throw CommandFailed(command: ["openssl"] + arguments, result: result) }
        }
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + key + ["-keyout", "\(directory)/ca.key", "-out", "\(directory)/ca.crt",
                                              "-days", "2", "-subj", "/CN=netplane-test-etcd-ca"])
        for (name, usage) in [("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                              ("client", "extendedKeyUsage=clientAuth")] {
            try usage.write(toFile: "\(directory)/\(name).ext", atomically: true, encoding: .utf8)
            try openssl(["req"] + key + ["-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr",
                                         "-subj", "/CN=netplane-\(name)"])
            try openssl(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", "\(directory)/ca.crt",
                         "-CAkey", "\(directory)/ca.key", "-CAcreateserial", "-days", "2",
                         "-extfile", "\(directory)/\(name).ext", "-out", "\(directory)/\(name).crt"])
        }
        return TLSFiles(caFile: "\(directory)/ca.crt", certFile: "\(directory)/client.crt", keyFile: "\(directory)/client.key")
    }

    /// The end of a member's log, for failure messages.
    public func log(_ name: String) -> String {
        (try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
    }

    /// Kills one member with SIGKILL (a crash, not a clean stop).
    public func kill(member index: Int) {
        let process = members[index].process
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public func stop() {
        for index in members.indices { kill(member: index) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A port nobody listens on now (bound to port 0, then released).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailed(command: ["socket"], result: CommandResult(status: errno, stdout: "", stderr: "socket failed")) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw CommandFailed(command: ["bind"], result: CommandResult(status: errno, stdout: "", stderr: "bind failed")) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
