import Foundation
import Crypto
import X509
import SwiftASN1
public import NIOSSL

/// The API server's certificates: a CA and a serving certificate signed by it, made on first
/// start in `<data-dir>/pki` (ECDSA P-256) and reused afterwards. The serving certificate
/// names localhost, 127.0.0.1 and every address given; it is remade when one is missing.
public struct PKI: Sendable {
    public let caPEM: String
    public let certificatePEM: String
    public let keyPEM: String

    public static func loadOrCreate(directory: String, hosts: [String]) throws -> PKI {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let caCertPath = directory + "/ca.crt", caKeyPath = directory + "/ca.key"
        let certPath = directory + "/apiserver.crt", keyPath = directory + "/apiserver.key"
        let sanPath = directory + "/apiserver.hosts"

        let caKey: P256.Signing.PrivateKey
        let caCert: Certificate
        if fm.fileExists(atPath: caCertPath), fm.fileExists(atPath: caKeyPath) {
            caKey = try P256.Signing.PrivateKey(pemRepresentation: try String(contentsOfFile: caKeyPath, encoding: .utf8))
            caCert = try Certificate(pemEncoded: try String(contentsOfFile: caCertPath, encoding: .utf8))
        } else {
            caKey = P256.Signing.PrivateKey()
            let name = try DistinguishedName { CommonName("netplane-ca") }
            caCert = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
                notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(10 * 365 * 86400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                    Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                },
                issuerPrivateKey: .init(caKey))
            try write(caKey.pemRepresentation, to: caKeyPath, mode: 0o600)
            try write(try caCert.serializeAsPEM().pemString, to: caCertPath, mode: 0o600)
        }

        let wanted = Array(Set(["localhost", "127.0.0.1"] + hosts)).sorted()
        let recorded = (try? String(contentsOfFile: sanPath, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        if !(fm.fileExists(atPath: certPath) && fm.fileExists(atPath: keyPath) && recorded == wanted) {
            let key = P256.Signing.PrivateKey()
            var names: [GeneralName] = []
            for host in wanted {
                if let bytes = ipBytes(host) {
                    names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
                } else {
                    names.append(.dnsName(host))
                }
            }
            let cert = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
                notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(365 * 86400),
                issuer: caCert.subject, subject: try DistinguishedName { CommonName("netplane-apiserver") },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(names)
                },
                issuerPrivateKey: .init(caKey))
            try write(key.pemRepresentation, to: keyPath, mode: 0o600)
            try write(try cert.serializeAsPEM().pemString, to: certPath, mode: 0o600)
            try write(wanted.joined(separator: "\n"), to: sanPath, mode: 0o600)
        }
        return PKI(caPEM: try String(contentsOfFile: caCertPath, encoding: .utf8),
                   certificatePEM: try String(contentsOfFile: certPath, encoding: .utf8),
                   keyPEM: try String(contentsOfFile: keyPath, encoding: .utf8))
    }

    public func tlsConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
    }

    static func ipBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func write(_ text: String, to path: String, mode: Int) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}

/// A kubeconfig that kubectl uses as is: the server, the CA inline, and a bearer token.
public enum Kubeconfig {
    public static func render(server: String, caPEM: String, token: String, name: String = "netplane", user: String = "admin") -> String {
        let ca = Data(caPEM.utf8).base64EncodedString()
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: \(name)
              cluster:
                server: \(server)
                certificate-authority-data: \(ca)
            users:
            - name: \(name)-\(user)
              user:
                token: \(token)
            contexts:
            - name: \(name)
              context:
                cluster: \(name)
                user: \(name)-\(user)
                namespace: default
            current-context: \(name)

            """
    }
}
