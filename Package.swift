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
        .executable(name: "netplane-testbed", targets: ["netplane-testbed"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C bindings: system libraries found through pkg-config.
        .systemLibrary(name: "CNetlink", pkgConfig: "libnl-route-3.0",
                       providers: [.apt(["libnl-3-dev", "libnl-route-3-dev", "libnl-genl-3-dev"])]),
        .systemLibrary(name: "CNftnl", pkgConfig: "libnftnl",
                       providers: [.apt(["libnftnl-dev", "libmnl-dev"])]),
        .systemLibrary(name: "CIPSet", pkgConfig: "libipset",
                       providers: [.apt(["libipset-dev"])]),
        // Tiny C helpers for what Swift cannot express: setns/unshare, which Swift's Glibc
        // does not export (CNetNS, no dependencies), and libipset's variadic C callbacks
        // (CNetplaneShim). Kept apart so entering a namespace does not drag in libipset.
        .target(name: "CNetNS"),
        .target(name: "CNetplaneShim", dependencies: ["CIPSet"]),

        // Network namespaces (NetNS): the one implementation of "run this on a thread inside
        // namespace X" that every kernel layer uses to open its sockets there.
        .target(name: "NetNamespace", dependencies: ["CNetNS"], swiftSettings: strict),

        // Kernel layers (each re-exports NetNamespace).
        .target(name: "NetAddress", swiftSettings: strict),
        .target(name: "Netlink", dependencies: ["CNetlink", "NetAddress", "NetNamespace"], swiftSettings: strict),
        .target(name: "NFTables", dependencies: ["CNftnl", "NetAddress", "NetNamespace"], swiftSettings: strict),
        // IPVS: virtual and real servers through generic netlink (libnl-genl), like ipvsadm.
        .target(name: "IPVS", dependencies: ["CNetlink", "Netlink", "NetAddress"], swiftSettings: strict),
        .target(name: "IPSet", dependencies: ["CIPSet", "CNetplaneShim", "NetAddress", "NetNamespace"],
                swiftSettings: strict),
        // IPAM: the host-local allocator and its on-disk store (no CNI dependency).
        .target(name: "IPAM", dependencies: ["JSON", "NetAddress"], swiftSettings: strict),

        // JSON: the one JSON value type, with a parser and printer that need no Foundation.
        .target(name: "JSON", swiftSettings: strict),

        // APIMachinery: Kubernetes API semantics on JSON trees (resources, metadata,
        // selectors, validation, defaults, patches, tables), pure and testable.
        .target(name: "APIMachinery", dependencies: ["JSON", "NetAddress"], swiftSettings: strict),

        // APIServer: the Kubernetes REST API over a Store, carried by Hummingbird over TLS.
        .target(name: "APIServer", dependencies: [
            "APIMachinery", "JSON", "Storage", "NetAddress",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], swiftSettings: strict),

        // Client: the Kubernetes API client every daemon uses (kubeconfig, typed verbs,
        // watch, informer with indexers), over AsyncHTTPClient.
        .target(name: "Client", dependencies: [
            "APIMachinery", "JSON",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: strict),

        // Proxy: the service proxy's pure compiler (Services + EndpointSlices -> a ruleset
        // value) and the applier that turns two rulesets into one nftables transaction.
        .target(name: "Proxy", dependencies: ["Client", "JSON", "NetAddress", "NFTables", "Netlink", "IPVS"], swiftSettings: strict),

        // Controllers: the control-plane loops of `netplane controllers` (node IPAM so far).
        .target(name: "Controllers", dependencies: ["Client", "JSON", "NetAddress"], swiftSettings: strict),

        // Overlay: flannel-like subnet overlay: the pure compiler (Nodes -> routes, neighbours,
        // FDB), its applier, the VXLAN/TUN devices, masquerade rules and flanneld's loop.
        .target(name: "Overlay", dependencies: [
            "Client", "JSON", "NetAddress", "Netlink", "NFTables",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),

        // CNI: spec types and plugin entry point, without Foundation (JSON through the JSON module).
        .target(name: "CNI", dependencies: ["NetAddress", "JSON"], swiftSettings: strict),

        // Storage: the API store's key-value layer (revisions, optimistic concurrency, watch),
        // SQLite through GRDB by default, etcd through its JSON gateway.
        .target(name: "Storage", dependencies: [
            "JSON",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: strict),

        // Test helpers: throwaway namespaces, command runner for independent witnesses.
        .target(name: "NetplaneTestSupport", dependencies: ["NetNamespace"], swiftSettings: strict),

        // Executables.
        .executableTarget(name: "netplane-bench",
                          dependencies: ["Netlink", "NFTables", "Client", "JSON", "NetplaneTestSupport", "Proxy", "Overlay", "IPVS",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                         .product(name: "NIOCore", package: "swift-nio"),
                                         .product(name: "NIOPosix", package: "swift-nio"),
                                         .product(name: "NIOSSL", package: "swift-nio-ssl")],
                          path: "Benchmarks/netplane-bench", swiftSettings: strict),
        .executableTarget(name: "netplane-testbed",
                          dependencies: ["Netlink",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          path: "Tools/testbed", swiftSettings: strict),

        // The daemon binary: one subcommand per role.
        .executableTarget(name: "netplane", dependencies: [
            "APIServer", "APIMachinery", "Storage", "NetAddress", "Client", "Proxy", "Controllers", "Overlay",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // The CNI plugins (Tools/install links them statically: see there).
        .executableTarget(name: "loopback", dependencies: ["CNI", "Netlink"], swiftSettings: strict),
        .executableTarget(name: "host-local", dependencies: ["CNI", "IPAM"], swiftSettings: strict),
        .executableTarget(name: "bridge", dependencies: ["CNI", "Netlink", "NFTables"], swiftSettings: strict),
        .executableTarget(name: "flannel", dependencies: ["CNI"], swiftSettings: strict),

        // Tests (the *Root* suites need root and create their own namespaces).
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
        .testTarget(name: "ProxyTests", dependencies: ["Proxy", "IPVS", "JSON", "NFTables", "NetAddress", "NetplaneTestSupport"],
                    swiftSettings: strict),
        .testTarget(name: "OverlayTests", dependencies: ["Overlay", "Controllers", "Client", "JSON", "Netlink", "NetAddress",
                                                        "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "NetplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "APIMachineryTests", dependencies: ["APIMachinery", "JSON"], swiftSettings: strict),
        .testTarget(name: "APIServerTests", dependencies: ["APIServer", "Client", "APIMachinery", "JSON", "Storage", "NetplaneTestSupport"],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
