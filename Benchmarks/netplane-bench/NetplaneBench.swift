import ArgumentParser

/// Benchmarks that time Netplane and its anchor side by side in one run and print
/// `RESULT <name> netplane=<x> anchor=<y> ratio=<anchor/netplane>`.
@main
struct NetplaneBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netplane-bench",
        abstract: "Time Netplane against its anchor (iproute2, nft, the reference CNI plugins, etcd) in the same run.",
        subcommands: [RoutesBench.self, NFTBench.self, CNIBench.self, StoreBench.self, ProxyBench.self, OverlayBench.self, SchedulerBench.self, EndpointsBench.self, PodStartBench.self, PodStartDriver.self, PolicyBench.self, JSONBench.self])
}
