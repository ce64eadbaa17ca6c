import ArgumentParser
import Foundation
import Logging
import APIServer
import JSON
import Yams
import APIMachinery
import Storage
import NetAddress
import Authorization
import DaemonRuntime

/// The Netplane daemon: one subcommand per role.
@main
struct Netplane: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Netplane: the network plane of a Kubernetes-style cluster.",
        subcommands: [APIServerCommand.self, KubeconfigCommand.self, ControllersCommand.self, SchedulerCommand.self, ProxyCommand.self, PolicyCommand.self, FlanneldCommand.self,
                      KubeletCommand.self, ImageCommand.self])
}

struct APIServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apiserver",
        abstract: "Serve the Kubernetes API (HTTPS, bearer tokens) from SQLite or etcd.")

    @Option(help: "Address and port to serve HTTPS on (port 0 picks a free one).")
    var listen = "127.0.0.1:6443"

    @Option(help: "Directory for the SQLite database, certificates and the admin token.")
    var dataDir = "/var/lib/netplane/apiserver"

    @Option(help: "etcd client URLs (comma-separated) to store objects in instead of SQLite.")
    var etcdEndpoints: String?

    @Option(help: "CA certificate (PEM) that signed the etcd members' serving certificates (https:// endpoints).")
    var etcdCafile: String?

    @Option(help: "Client certificate (PEM) to present to etcd members that require one.")
    var etcdCertfile: String?

    @Option(help: "Private key (PEM) of --etcd-certfile.")
    var etcdKeyfile: String?

    @Option(help: "EncryptionConfiguration (apiserver.config.k8s.io/v1, YAML or JSON): the resources to encrypt at rest and their providers (identity, aescbc, aesgcm); values not written by the first provider are rewritten at start.")
    var encryptionProviderConfig: String?

    @Option(help: "CIDR that Service ClusterIPs are allocated from; two of different families (comma-separated, the first primary) for dual-stack Services.")
    var serviceClusterIPRange = "10.96.0.0/16"

    @Option(help: "Port range NodePorts are allocated from (FIRST-LAST).")
    var serviceNodePortRange = "30000-32767"

    @Option(help: "The cluster's pod CIDR.")
    var clusterCIDR: String?

    @Option(help: "Write a kubeconfig for the admin user here once serving.")
    var kubeconfigOut: String?

    @Option(help: "Extra bearer tokens, one 'token,user,uid[,\"groups\"]' per line.")
    var tokenFile: String?

    @Option(help: "The authorizers, in order (comma-separated): Node, RBAC, AlwaysAllow. Members of system:masters are always allowed.")
    var authorizationMode = "Node,RBAC"

    @Option(help: "Extra names or addresses for the serving certificate (comma-separated).")
    var tlsSAN: String?

    @Option(help: "The address the `kubernetes` Service's endpoint names (default: the --listen address, unless it is a wildcard or loopback).")
    var advertiseAddress: String?

    @Option(help: "Seconds of change history kept for watches to resume from; older history is compacted.")
    var compactionInterval: Double = 300

    @Option(help: "tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration every new pod gets.")
    var defaultNotReadyTolerationSeconds = 300
    @Option(help: "tolerationSeconds of the node.kubernetes.io/unreachable:NoExecute toleration every new pod gets.")
    var defaultUnreachableTolerationSeconds = 300

    /// The flags, checked and parsed.
    struct Settings {
        var host: String
        var port: Int
        var options: APIServer.Options
        /// Where in-cluster clients reach this server (nil: nowhere but loopback).
        var advertise: IPAddress?
    }

    func settings() throws -> Settings {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw ValidationError("--listen: expected HOST:PORT, got \(listen)")
        }
        let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        // One range, or two of different families (dual-stack), as kube-apiserver takes them.
        let serviceRanges: [IPPrefix]
        do { serviceRanges = try serviceClusterIPRange.split(separator: ",").map { try IPPrefix(String($0).trimmingCharacters(in: .whitespaces)) } } catch {
            throw ValidationError("--service-cluster-ip-range: \(error)")
        }
        guard let serviceRange = serviceRanges.first, serviceRanges.count <= 2,
              serviceRanges.count == 1 || serviceRanges[0].address.isIPv4 != serviceRanges[1].address.isIPv4 else {
            throw ValidationError("--service-cluster-ip-range: one CIDR, or two of different IP families, got \(serviceClusterIPRange)")
        }
        let portBounds = serviceNodePortRange.split(separator: "-").compactMap { Int($0) }
        guard compactionInterval > 0 else {
            throw ValidationError("--compaction-interval: must be positive, got \(compactionInterval)")
        }
        guard portBounds.count == 2, portBounds[0] > 0, portBounds[0] <= portBounds[1], portBounds[1] <= 65535 else {
            throw ValidationError("--service-node-port-range: expected FIRST-LAST, got \(serviceNodePortRange)")
        }
        guard defaultNotReadyTolerationSeconds >= 0, defaultUnreachableTolerationSeconds >= 0 else {
            throw ValidationError("--default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds must not be negative")
        }
        var podCIDR: IPPrefix?
        if let clusterCIDR {
            do { podCIDR = try IPPrefix(clusterCIDR) } catch { throw ValidationError("--cluster-cidr: \(error)") }
        }
        var advertise: IPAddress?
        if let advertiseAddress {
            guard let address = IPAddress(advertiseAddress) else {
                throw ValidationError("--advertise-address: \(advertiseAddress) is not an IP address")
            }
            advertise = address
        } else if let address = IPAddress(host), !address.isLoopback, !address.isUnspecified {
            advertise = address
        }
        var options = APIServer.Options(serviceClusterIPRange: serviceRange,
                                        serviceNodePortRange: portBounds[0]...portBounds[1], clusterCIDR: podCIDR,
                                        defaultNotReadyTolerationSeconds: defaultNotReadyTolerationSeconds,
                                        defaultUnreachableTolerationSeconds: defaultUnreachableTolerationSeconds)
        options.secondaryServiceClusterIPRange = serviceRanges.count == 2 ? serviceRanges[1] : nil
        var modes: [AuthorizationMode] = []
        for name in authorizationMode.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let mode = AuthorizationMode(rawValue: name) else {
                throw ValidationError("--authorization-mode: \(name) is not one of \(AuthorizationMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !modes.contains(mode) else { throw ValidationError("--authorization-mode: \(name) is named twice") }
            modes.append(mode)
        }
        guard !modes.isEmpty else { throw ValidationError("--authorization-mode: name at least one authorizer") }
        options.authorizationModes = modes
        return Settings(host: host, port: port, options: options, advertise: advertise)
    }

    func run() async throws {
        // swift-log to stderr and swift-metrics into the Prometheus registry /metrics prints.
        let observability = Observability.bootstrap(logLevel: .info)
        var logger = Logger(label: "netplane.apiserver")
        logger.logLevel = .info
        var settings = try settings()
        settings.options.metrics = observability.render

        // The data directory holds every Secret (state.db) and the admin token: only its owner
        // may read it, as etcd keeps its own. Files made from here on (SQLite's WAL and SHM
        // among them) are 0600 through the umask; what an earlier start left open is closed.
        umask(0o077)
        do { try DataDirectory.secure(dataDir) } catch { throw ValidationError("--data-dir: \(error)") }
        let encryption = try encryptionTransformers()
        let etcdTLS = EtcdTLS(caFile: etcdCafile, certFile: etcdCertfile, keyFile: etcdKeyfile)
        for (flag, path) in [("--etcd-cafile", etcdCafile), ("--etcd-certfile", etcdCertfile), ("--etcd-keyfile", etcdKeyfile)] {
            guard let path else { continue }
            guard etcdEndpoints != nil else { throw ValidationError("\(flag) is for etcd: give --etcd-endpoints too") }
            guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("\(flag): cannot read \(path)") }
        }
        guard let etcdEndpoints else {
            try await serve(settings, store: try await encrypting(SQLiteStore(path: dataDir + "/state.db"), encryption, logger),
                            logger: logger)
            return
        }
        let etcd: EtcdStore
        do {
            etcd = try EtcdStore(endpoints: etcdEndpoints.split(separator: ",").map(String.init), tls: etcdTLS)
        } catch {
            throw ValidationError("--etcd-endpoints: \(error)")
        }
        // The etcd client's connections must be closed before it goes.
        do {
            try await serve(settings, store: try await encrypting(etcd, encryption, logger), logger: logger)
        } catch {
            await etcd.close()
            throw error
        }
        await etcd.close()
    }

    /// The transformers `--encryption-provider-config` asks for (nil: store values as they are).
    func encryptionTransformers() throws -> [String: ValueTransformer]? {
        guard let path = encryptionProviderConfig else { return nil }
        do {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            guard let loaded = try Yams.load(yaml: text) else { throw ValidationError("--encryption-provider-config \(path): the file is empty") }
            return try EncryptionConfiguration(json: JSONValue(yaml: loaded)).transformers()
        } catch {
            throw ValidationError("--encryption-provider-config \(path): \(error)")
        }
    }

    /// `store` with its configured values encrypted, after rewriting those an earlier
    /// configuration wrote (a rotated key, encryption turned on).
    func encrypting(_ store: any Store, _ transformers: [String: ValueTransformer]?, _ logger: Logger) async throws -> any Store {
        guard let transformers else { return store }
        let encrypted = EncryptingStore(base: store, transformers: transformers)
        let rewritten = try await encrypted.rewriteStale()
        logger.info("encryption at rest: \(transformers.keys.sorted().joined(separator: ", ")); \(rewritten) stored value(s) rewritten with the current provider")
        return encrypted
    }

    /// Bootstraps the API on `store`, then serves it until SIGTERM/SIGINT.
    func serve(_ settings: Settings, store: any Store, logger: Logger) async throws {
        let host = settings.host
        try FileManager.default.createDirectory(atPath: dataDir + "/pki", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let api = APIServer(store: store, options: settings.options,
                            tokenIssuer: try ServiceAccountTokenIssuer.loadOrCreate(path: dataDir + "/pki/sa.key"))
        try await api.bootstrap()

        let tokenPath = dataDir + "/admin.token"
        var adminToken = (try? String(contentsOfFile: tokenPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if adminToken.isEmpty {
            adminToken = TokenAuthenticator.generateToken()
            try Data((adminToken + "\n").utf8).write(to: URL(fileURLWithPath: tokenPath))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokenPath)
        }
        // Each daemon's identity: a token in tokens.csv (made once), bound by the bootstrap
        // policy to the daemon's own ClusterRole.
        let issuedPath = dataDir + "/tokens.csv"
        var daemonTokens: [(daemon: String, user: String, token: String)] = []
        for identity in BootstrapPolicy.daemons {
            let token = try IssuedTokens.existing(path: issuedPath, user: identity.user)
                ?? IssuedTokens.issue(path: issuedPath, user: identity.user, groups: [])
            daemonTokens.append((identity.daemon, identity.user, token))
        }
        let identities = daemonTokens
        var tokens = TokenAuthenticator(users: [adminToken: .init(name: "admin", uid: "admin", groups: ["system:masters"])],
                                        issued: IssuedTokens(path: issuedPath))
        if let tokenFile { try tokens.load(file: tokenFile) }

        let sans = (tlsSAN?.split(separator: ",").map(String.init) ?? []) + (host == "0.0.0.0" || host == "::" ? [] : [host])
        let pki = try PKI.loadOrCreate(directory: dataDir + "/pki", hosts: sans)
        let kubeconfigOut = self.kubeconfigOut
        let token = adminToken, log = logger
        let compactor = Task { await api.compactHistory(every: .milliseconds(Int(compactionInterval * 1000))) }
        defer { compactor.cancel() }
        try await APIHTTPServer.run(api: api, tokens: tokens, host: host, port: settings.port, tls: try pki.tlsConfiguration(),
                                    logger: logger) { actualPort in
            // The kubernetes Service first: once the kubeconfig exists, in-cluster clients find it.
            do { try await api.ensureSystemPriorityClasses() } catch { log.warning("system priority classes: \(error)") }
            do {
                try await api.reconcileKubernetesService(advertise: settings.advertise, port: actualPort)
                try await api.reconcileKubeletClientSecret()
                // Every namespace's kube-root-ca.crt, which pods' kube-api-access volumes read.
                try await api.publishRootCA(pki.caPEM)
                log.info("service default/kubernetes: \(api.kubernetesServiceIP):443 -> \(settings.advertise.map { "\($0):\(actualPort)" } ?? "no endpoint (listening on loopback or a wildcard; see --advertise-address)")")
            } catch {
                log.warning("service default/kubernetes: \(error)")
            }
            let shownHost = host == "0.0.0.0" ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
            let url = "https://\(shownHost):\(actualPort)"
            // One kubeconfig per identity in the data directory, and beside --kubeconfig-out
            // (daemon ones first: once the admin one exists, everything is in place).
            let kubeconfigs = dataDir + "/kubeconfigs"
            try? FileManager.default.createDirectory(atPath: kubeconfigs, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let beside = kubeconfigOut.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
            for (daemon, user, daemonToken) in identities {
                let text = Kubeconfig.render(server: url, caPEM: pki.caPEM, token: daemonToken, user: user)
                Self.writePrivate(text, to: "\(kubeconfigs)/\(daemon).kubeconfig")
                if let beside { Self.writePrivate(text, to: "\(beside)/\(daemon).kubeconfig") }
            }
            let adminText = Kubeconfig.render(server: url, caPEM: pki.caPEM, token: token)
            Self.writePrivate(adminText, to: "\(kubeconfigs)/admin.kubeconfig")
            if let kubeconfigOut { Self.writePrivate(adminText, to: kubeconfigOut) }
            log.info("serving the Kubernetes API on \(url) (authorization: \(settings.options.authorizationModes.map(\.rawValue).joined(separator: ",")))")
        }
    }

    static func writePrivate(_ text: String, to path: String) {
        try? Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }
}

/// `netplane kubeconfig`: a new identity for a person or a daemon, written as a kubeconfig.
struct KubeconfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kubeconfig",
        abstract: "Issue a token for a user (and groups) and print a kubeconfig with it; RBAC bindings say what it may do.",
        discussion: """
            Run on the API server's machine: the token goes into <data-dir>/tokens.csv, which the
            server reads again when it changes (remove the line to revoke it).
            A node agent's identity: --node NAME (user system:node:NAME in group system:nodes).
            """)

    @Option(help: "The API server's data directory.") var dataDir = "/var/lib/netplane/apiserver"
    @Option(help: "The user name.") var user: String?
    @Option(help: "A group of the user (repeatable).") var group: [String] = []
    @Option(help: "A node agent's identity: user system:node:NAME, group system:nodes.") var node: String?
    @Option(help: "The API server's URL (default: the one in <data-dir>/kubeconfigs/admin.kubeconfig).") var server: String?
    @Option(name: .shortAndLong, help: "Write the kubeconfig here (0600) instead of printing it.") var output: String?

    func run() throws {
        var name = user ?? ""
        var groups = group
        if let node {
            guard user == nil else { throw ValidationError("--node and --user name the identity twice; give one") }
            guard NameRules.dns1123SubdomainProblem(node) == nil else { throw ValidationError("--node: \(node) is not a valid node name") }
            name = BootstrapPolicy.nodeUserPrefix + node
            if !groups.contains(BootstrapPolicy.nodesGroup) { groups.append(BootstrapPolicy.nodesGroup) }
        }
        guard !name.isEmpty else { throw ValidationError("name the identity: --user NAME or --node NAME") }
        for value in [name] + groups {
            if let problem = IssuedTokens.fieldProblem(value) { throw ValidationError("\"\(value)\": a user or group name \(problem)") }
        }
        // The kubeconfig carries a bearer token: only its owner may read it, from the start.
        umask(0o077)
        guard let caPEM = try? String(contentsOfFile: dataDir + "/pki/ca.crt", encoding: .utf8) else {
            throw ValidationError("--data-dir \(dataDir): no pki/ca.crt; has `netplane apiserver --data-dir \(dataDir)` run?")
        }
        var url = server
        if url == nil, let admin = try? String(contentsOfFile: dataDir + "/kubeconfigs/admin.kubeconfig", encoding: .utf8) {
            url = admin.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("server:") }
                .map { String($0.trimmingCharacters(in: .whitespaces).dropFirst("server:".count)).trimmingCharacters(in: .whitespaces) }
        }
        guard let url else { throw ValidationError("--server: the API server's URL is not known yet; give it") }
        let token = try IssuedTokens.issue(path: dataDir + "/tokens.csv", user: name, groups: groups)
        let text = Kubeconfig.render(server: url, caPEM: caPEM, token: token, user: name)
        if let output {
            APIServerCommand.writePrivate(text, to: output)
            guard FileManager.default.fileExists(atPath: output) else { throw ValidationError("--output \(output): could not be written") }
        } else {
            print(text, terminator: "")
        }
    }
}
