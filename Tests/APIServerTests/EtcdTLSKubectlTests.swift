import Foundation
import Testing
import NetplaneTestSupport

/// `netplane apiserver` on etcd members that serve TLS and require client certificates, as a
/// production etcd does: the server reaches them with `--etcd-cafile/--etcd-certfile/
/// --etcd-keyfile`, and kubectl sees an ordinary cluster. Flags that cannot work are refused
/// before the server starts.
@Suite struct EtcdTLSKubectlTests {
    @Test func theServerStoresInEtcdOverTLSWithAClientCertificate() throws {
        let etcd = try EtcdCluster(tls: true)
        defer { etcd.stop() }
        let files = try #require(etcd.tls)
        let flags = ["--etcd-endpoints", etcd.endpoints.joined(separator: ","),
                     "--etcd-cafile", files.caFile, "--etcd-certfile", files.certFile, "--etcd-keyfile", files.keyFile]
        let api = try RunningAPIServer(extraArgs: flags)
        try api.kubectlOK(["create", "configmap", "over-tls", "--from-literal=k=v"])
        #expect(try api.kubectlOK(["get", "configmap", "over-tls", "-o", "jsonpath={.data.k}"]) == "v")
        // The object is in etcd: its keys, read with curl through etcd's own gateway over TLS.
        let range = try Command.run(["curl", "-s", "--cacert", files.caFile, "--cert", files.certFile, "--key", files.keyFile,
                                     "-X", "POST", etcd.endpoints[0] + "/v3/kv/range",
                                     "-d", #"{"key":"Lw==","range_end":"MA==","keys_only":true}"#])
        let keys = ((try? JSONSerialization.jsonObject(with: Data(range.stdout.utf8))) as? [String: Any])?["kvs"] as? [[String: Any]] ?? []
        let names = keys.compactMap { ($0["key"] as? String).flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) } }
        #expect(names.contains { $0.hasSuffix("/default/over-tls") }, "\(range.stdout)\(range.stderr)")
        api.stop()

        // TLS files with an http:// endpoint or without --etcd-endpoints, half a key pair or a
        // file that is not there: refused at once, with the reason. (etcd refusing a client
        // without a certificate is EtcdTLSTests'.)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("np-etcd-tls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = etcd.endpoints.map { $0.replacingOccurrences(of: "https://", with: "http://") }.joined(separator: ",")
        for (arguments, message) in [(["--etcd-endpoints", plain, "--etcd-cafile", files.caFile], "is plain http, but TLS files were given"),
                                     (["--etcd-cafile", files.caFile], "give --etcd-endpoints too"),
                                     (["--etcd-endpoints", etcd.endpoints[0], "--etcd-certfile", files.certFile], "needs both its certificate and its key file"),
                                     (["--etcd-endpoints", etcd.endpoints[0], "--etcd-cafile", dir + "/missing.crt"], "cannot read")] {
            let result = try Command.run([productsDirectory() + "/netplane", "apiserver", "--data-dir", dir, "--listen", "127.0.0.1:0"] + arguments)
            #expect(!result.succeeded && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
