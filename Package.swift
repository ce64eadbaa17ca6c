// swift-tools-version:6.0
import PackageDescription

/// Strict settings for every Swift target of the project.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Netplane",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "NetAddress", targets: ["NetAddress"]),
        .library(name: "NetNamespace", targets: ["NetNamespace"]),
        .library(name: "Netlink", targets: ["Netlink"]),
        .library(name: "NFTables", targets: ["NFTables"]),
        .library(name: "IPSet", targets: ["IPSet"]),
        .library(name: "IPVS", targets: ["IPVS"]),
        .executable(name: "netplane", targets: ["netplane"]),
        .executable(name: "netplane-bench", targets: ["netplane-bench"]),
        .executable(name: "netplane-pause", targets: ["netplane-pause"]),
        .executable(name: "netplane-testbed", targets: ["netplane-testbed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        // WebSocket upgrades (server) and a WebSocket client, for `kubectl exec`.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        // NIOHTTPTypes: Hummingbird's HTTP parts, which a watch writes to its connection when
        // the HTTP encoder cannot be reached below them.
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // MARK: Kernel (Sources/Kernel): C bindings, the kernel's objects as values, and the
        // modules that program them.

        // C bindings: system libraries found through pkg-config.
        .systemLibrary(name: "CNetlink", path: "Sources/Kernel/CNetlink", pkgConfig: "libnl-route-3.0",
                       providers: [.apt(["libnl-3-dev", "libnl-route-3-dev", "libnl-genl-3-dev"])]),
        .systemLibrary(name: "CNftnl", path: "Sources/Kernel/CNftnl", pkgConfig: "libnftnl",
                       providers: [.apt(["libnftnl-dev", "libmnl-dev"])]),
        .systemLibrary(name: "CIPSet", path: "Sources/Kernel/CIPSet", pkgConfig: "libipset",
                       providers: [.apt(["libipset-dev"])]),
        // Tiny C helpers for what Swift cannot express: setns/unshare, which Swift's Glibc
        // does not export (CNetNS, no dependencies), and libipset's variadic C callbacks
        // (CNetplaneShim). Kept apart so entering a namespace does not drag in libipset.
        .target(name: "CNetNS", path: "Sources/Kernel/CNetNS"),
        .target(name: "CNetplaneShim", dependencies: ["CIPSet"], path: "Sources/Kernel/CNetplaneShim"),

        // Addresses, prefixes and MACs as values (no C, no Foundation).
        .target(name: "NetAddress", path: "Sources/Kernel/NetAddress", swiftSettings: strict),
        // Network namespaces (NetNS): the one implementation of "run this on a thread inside
        // namespace X" that every kernel layer uses to open its sockets there.
        .target(name: "NetNamespace", dependencies: ["CNetNS"], path: "Sources/Kernel/NetNamespace", swiftSettings: strict),

        // Models: the kernel's objects as plain values, importing no C module, so a pure
        // compiler can build them without linking libnl or libnftnl.
        .target(name: "NetlinkModel", dependencies: ["NetAddress"], path: "Sources/Kernel/NetlinkModel", swiftSettings: strict),
        .target(name: "NFTablesModel", dependencies: ["NetAddress"], path: "Sources/Kernel/NFTablesModel", swiftSettings: strict),
        .target(name: "IPVSModel", dependencies: ["NetAddress"], path: "Sources/Kernel/IPVSModel", swiftSettings: strict),

        // Bindings: what talks to the kernel (each re-exports its model and NetNamespace).
        .target(name: "Netlink", dependencies: ["CNetlink", "NetlinkModel", "NetAddress", "NetNamespace"],
                path: "Sources/Kernel/Netlink", swiftSettings: strict),
        .target(name: "NFTables", dependencies: ["CNftnl", "NFTablesModel", "NetAddress", "NetNamespace"],
                path: "Sources/Kernel/NFTables", swiftSettings: strict),
        // IPVS: virtual and real servers through generic netlink (libnl-genl), like ipvsadm.
        .target(name: "IPVS", dependencies: ["CNetlink", "IPVSModel", "Netlink", "NetAddress"],
                path: "Sources/Kernel/IPVS", swiftSettings: strict),
        .target(name: "IPSet", dependencies: ["CIPSet", "CNetplaneShim", "NetAddress", "NetNamespace"],
                path: "Sources/Kernel/IPSet", swiftSettings: strict),

        // MARK: Cluster (Sources/Cluster): the API, its store, the client and the daemon runtime.

        // JSON: the one JSON value type, with a parser and printer that need no Foundation.
        .target(name: "JSON", path: "Sources/Cluster/JSON", swiftSettings: strict),
        // APIMachinery: Kubernetes API semantics on JSON trees (resources, metadata,
        // selectors, validation, defaults, patches, tables), pure and testable.
        // ProtobufWire: protocol buffers' wire format (varints, length-delimited fields), for
        // the Kubernetes protobuf encoding and etcd's messages. Pure.
        .target(name: "ProtobufWire", path: "Sources/Cluster/ProtobufWire", swiftSettings: strict),
        .target(name: "APIMachinery", dependencies: ["JSON", "NetAddress", "ProtobufWire"], path: "Sources/Cluster/APIMachinery",
                swiftSettings: strict),
        // Cron: cron schedules as Kubernetes reads them (robfig/cron's standard form) and their
        // times in an IANA time zone, for the API server's checks and the CronJob controller.
        // Pure; the one layer with Foundation (FoundationInternationalization on Linux), for
        // the time-zone database.
        .target(name: "Cron", path: "Sources/Cluster/Cron", swiftSettings: strict),
        // APITypes: typed views over API objects (Node, Service, EndpointSlice, Pod, …), pure,
        // so role cores read objects the way the daemons do.
        .target(name: "APITypes", dependencies: ["APIMachinery", "JSON"], path: "Sources/Cluster/APITypes",
                swiftSettings: strict),
        // Storage: the API store's key-value layer (revisions, optimistic concurrency, watch),
        // SQLite through GRDB by default, etcd over its gRPC API (HTTP/2 from swift-nio-http2,
        // messages by the ProtobufWire codec).
        .target(name: "Storage", dependencies: [
            "JSON", "ProtobufWire",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOHPACK", package: "swift-nio-http2"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Sources/Cluster/Storage", swiftSettings: strict),
        // APIServer: the Kubernetes REST API over a Store, carried by Hummingbird over TLS.
        // Authorization: RBAC's rules, bindings, coverage and aggregation, the default roles and
        // the Node authorizer's rules, pure: the API server feeds it objects and asks.
        .target(name: "Authorization", dependencies: ["APIMachinery", "JSON"], path: "Sources/Cluster/Authorization",
                swiftSettings: strict),
        .target(name: "APIServer", dependencies: [
            "APIMachinery", "Authorization", "Cron", "JSON", "ProtobufWire", "Storage", "NetAddress",
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Yams", package: "Yams"),
        ], path: "Sources/Cluster/APIServer", swiftSettings: strict),
        // Client: the Kubernetes API client every daemon uses (kubeconfig, typed verbs,
        // watch, informer with indexers), over AsyncHTTPClient.
        .target(name: "Client", dependencies: [
            "APIMachinery", "APITypes", "JSON",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Yams", package: "Yams"),
        ], path: "Sources/Cluster/Client", swiftSettings: strict),
        // DaemonRuntime: what every daemon runs on: informers feeding a work queue, one sync
        // loop with resync and back-off, swift-log, swift-metrics exported as Prometheus text,
        // /metrics, /healthz and /readyz, and a clean stop on SIGTERM/SIGINT.
        .target(name: "DaemonRuntime", dependencies: [
            "Client", "APITypes", "APIMachinery", "JSON",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Cluster/DaemonRuntime", swiftSettings: strict),

        // MARK: Roles (Sources/Roles/<role>): each role's pure core (models, APIMachinery/JSON,
        // NetAddress only: the build rejects a core that opens a socket) and its daemon.

        // Proxy: Services + EndpointSlices -> service ports -> a ruleset value or IPVS virtual
        // servers, and the transactions between two rulesets (ProxyTable).
        .target(name: "ProxyCore", dependencies: ["APITypes", "JSON", "NetAddress", "NFTablesModel", "IPVSModel"],
                path: "Sources/Roles/Proxy/Core", swiftSettings: strict),
        .target(name: "Proxy", dependencies: ["ProxyCore", "DaemonRuntime", "Client", "JSON", "NetAddress", "NFTables", "Netlink", "IPVS"],
                path: "Sources/Roles/Proxy/Daemon", swiftSettings: strict),
        // Policy: NetworkPolicy enforcer. Core: the parsed policies, the semantics (trace) and the
        // incremental compiler to nftables sets and chains. Daemon: informers, the applier, the
        // kernel view for `trace --kernel`.
        .target(name: "PolicyCore", dependencies: ["APITypes", "APIMachinery", "JSON", "NetAddress", "NFTablesModel"],
                path: "Sources/Roles/Policy/Core", swiftSettings: strict),
        .target(name: "Policy", dependencies: ["PolicyCore", "DaemonRuntime", "Client", "APITypes", "JSON", "NetAddress", "NFTables", "Netlink"],
                path: "Sources/Roles/Policy/Daemon", swiftSettings: strict),
        // Overlay: flannel-like subnet overlay. Core: a Node's annotations, the compiler (Nodes ->
        // routes, neighbours, FDB), the masquerade rules. Daemon: its applier, the VXLAN/TUN
        // devices and flanneld's loop.
        .target(name: "OverlayCore", dependencies: ["APITypes", "JSON", "NetAddress", "NetlinkModel", "NFTablesModel"],
                path: "Sources/Roles/Overlay/Core", swiftSettings: strict),
        .target(name: "Overlay", dependencies: [
            "OverlayCore", "DaemonRuntime", "Client", "JSON", "NetAddress", "Netlink", "NFTables",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Sources/Roles/Overlay/Daemon", swiftSettings: strict),
        // Controllers: the control-plane loops of `netplane controllers`. Core: their decisions
        // over snapshots (pod CIDRs, garbage collection, endpoint slices, replica counts).
        .target(name: "ControllersCore", dependencies: ["APITypes", "APIMachinery", "Cron", "JSON", "NetAddress", "SchedulerCore"],
                path: "Sources/Roles/Controllers/Core",
                swiftSettings: strict),
        .target(name: "Controllers", dependencies: ["ControllersCore", "DaemonRuntime", "Client", "APIMachinery", "JSON", "NetAddress"],
                path: "Sources/Roles/Controllers/Daemon", swiftSettings: strict),

        // Scheduler: Core decides a pod's node over a snapshot (filters, scores); Daemon is
        // `netplane scheduler`'s queue, cache and binding.
        .target(name: "SchedulerCore", dependencies: ["APITypes", "APIMachinery", "JSON", .product(name: "HeapModule", package: "swift-collections")], path: "Sources/Roles/Scheduler/Core",
                swiftSettings: strict),
        .target(name: "Scheduler", dependencies: ["SchedulerCore", "DaemonRuntime", "Client", "APIMachinery", "JSON"],
                path: "Sources/Roles/Scheduler/Daemon", swiftSettings: strict),

        // NodeAgent: `netplane kubelet`. Core: a pod's containers as OCI runtime specs, their
        // environment, volume files and the pod's status (pure). Daemon: runc, CNI, the image
        // store, a worker per pod, the agent's API for logs and exec. CNodeAgent: the process,
        // mount and terminal calls Swift's Glibc cannot make; netplane-pause: the sandbox's
        // namespace holder.
        .target(name: "NodeAgentCore", dependencies: ["APIMachinery", "JSON"], path: "Sources/Roles/NodeAgent/Core",
                swiftSettings: strict),
        .target(name: "CNodeAgent", path: "Sources/Roles/NodeAgent/CNodeAgent"),
        .executableTarget(name: "netplane-pause", path: "Sources/Roles/NodeAgent/Pause"),
        .target(name: "NodeAgent", dependencies: [
            "NodeAgentCore", "CNodeAgent", "DaemonRuntime", "Client", "APIMachinery", "JSON", "NetNamespace",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Roles/NodeAgent/Daemon", swiftSettings: strict),

        // MARK: Plugins (Sources/Plugins): the CNI executables and what only they use.

        // CNI: spec types and plugin entry point, without Foundation (JSON through the JSON module).
        .target(name: "CNI", dependencies: ["NetAddress", "JSON"], path: "Sources/Plugins/CNI", swiftSettings: strict),
        // IPAM: the host-local allocator and its on-disk store (no CNI dependency).
        .target(name: "IPAM", dependencies: ["JSON", "NetAddress"], path: "Sources/Plugins/IPAM", swiftSettings: strict),
        // The CNI plugins (Tools/install links them statically: see there).
        .executableTarget(name: "loopback", dependencies: ["CNI", "Netlink"], path: "Sources/Plugins/loopback",
                          swiftSettings: strict),
        .executableTarget(name: "host-local", dependencies: ["CNI", "IPAM"], path: "Sources/Plugins/host-local",
                          swiftSettings: strict),
        .executableTarget(name: "bridge", dependencies: ["CNI", "Netlink", "NFTables"], path: "Sources/Plugins/bridge",
                          swiftSettings: strict),
        .executableTarget(name: "flannel", dependencies: ["CNI"], path: "Sources/Plugins/flannel", swiftSettings: strict),

        // MARK: Executables and test support.

        // The daemon binary: one subcommand per role.
        .executableTarget(name: "netplane", dependencies: [
            "APIServer", "APIMachinery", "Authorization", "JSON", "Storage", "NetAddress", "Client", "DaemonRuntime", "Proxy", "Policy", "PolicyCore", "Controllers", "Overlay", "Scheduler",
            "SchedulerCore", "NodeAgent", "NodeAgentCore", "CNodeAgent",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Test helpers: throwaway namespaces, command runner for independent witnesses.
        .target(name: "NetplaneTestSupport", dependencies: ["NetNamespace"], path: "Sources/TestSupport", swiftSettings: strict),
        .executableTarget(name: "netplane-bench",
                          dependencies: ["Netlink", "NFTables", "Client", "JSON", "APITypes", "NetplaneTestSupport", "Proxy", "Overlay", "IPVS", "PolicyCore", "Authorization", "Storage", "APIServer", "NetAddress",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                         .product(name: "NIOCore", package: "swift-nio"),
                                         .product(name: "NIOHTTP1", package: "swift-nio"),
                                         .product(name: "NIOPosix", package: "swift-nio"),
                                         .product(name: "NIOSSL", package: "swift-nio-ssl")],
                          path: "Benchmarks/netplane-bench", swiftSettings: strict),
        .executableTarget(name: "netplane-testbed",
                          dependencies: ["Netlink",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/testbed", swiftSettings: strict),

        // MARK: Tests (the *Root* suites need root and create their own namespaces; the
        // *Core* suites link no C library).
        .testTarget(name: "NetAddressTests", dependencies: ["NetAddress"], swiftSettings: strict),
        .testTarget(name: "NetNamespaceTests", dependencies: ["NetNamespace", "NetplaneTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "NFTablesTests", dependencies: ["NFTables", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "IPVSTests", dependencies: ["IPVS", "Netlink", "NetAddress", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "IPSetTests", dependencies: ["IPSet", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "IPAMTests", dependencies: ["IPAM", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "CNITests", dependencies: ["CNI", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "BridgeTests", dependencies: ["CNI", "NetplaneTestSupport"], swiftSettings: strict),
        // The proxy's golden cases, for the pure golden tests and the root test that loads them with nft.
        .target(name: "ProxyTestCases", dependencies: ["ProxyCore", "NFTablesModel", "NetAddress"], path: "Tests/ProxyTestCases",
                swiftSettings: strict),
        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore", "ProxyTestCases", "APITypes", "JSON", "NFTablesModel", "IPVSModel", "NetAddress"],
                    exclude: ["Golden"], swiftSettings: strict),
        .testTarget(name: "ProxyTests", dependencies: ["Proxy", "ProxyTestCases", "IPVS", "JSON", "NFTables", "NetAddress", "NetplaneTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "PolicyCoreTests", dependencies: ["PolicyCore", "APITypes", "APIMachinery", "JSON", "NFTablesModel", "NetAddress"],
                    swiftSettings: strict),
        .testTarget(name: "PolicyTests", dependencies: ["NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "OverlayCoreTests", dependencies: ["OverlayCore", "ControllersCore", "APITypes", "JSON", "NetlinkModel", "NetAddress"],
                    swiftSettings: strict),
        .testTarget(name: "OverlayTests", dependencies: ["Overlay", "Controllers", "Client", "JSON", "Netlink", "NetAddress",
                                                        "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "DaemonRuntimeTests", dependencies: ["DaemonRuntime", "Client", "NetplaneTestSupport",
                                                             .product(name: "Logging", package: "swift-log")], swiftSettings: strict),
        .testTarget(name: "ControllersCoreTests", dependencies: ["ControllersCore", "APITypes", "APIMachinery", "Cron", "JSON"],
                    swiftSettings: strict),
        .testTarget(name: "NodeAgentCoreTests", dependencies: ["NodeAgentCore", "APIMachinery", "JSON"], swiftSettings: strict),
        .testTarget(name: "NodeAgentTests", dependencies: ["NodeAgent", "NodeAgentCore", "JSON", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "SchedulerCoreTests", dependencies: ["SchedulerCore", "APITypes", "APIMachinery", "JSON"], swiftSettings: strict),
        .testTarget(name: "ControllersTests", dependencies: ["NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "NetplaneTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
                    swiftSettings: strict),
        .testTarget(name: "APIMachineryTests", dependencies: ["APIMachinery", "JSON", "ProtobufWire"], swiftSettings: strict),
        .testTarget(name: "AuthorizationTests", dependencies: ["Authorization", "APIMachinery", "JSON"], swiftSettings: strict),
        .testTarget(name: "APIServerTests", dependencies: ["APIServer", "Client", "APIMachinery", "JSON", "Storage", "NetplaneTestSupport",
                                                         "NetAddress", .product(name: "Logging", package: "swift-log"),
                                                         .product(name: "NIOCore", package: "swift-nio"),
                                                         .product(name: "NIOEmbedded", package: "swift-nio")],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
