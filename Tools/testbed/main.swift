// netplane-testbed: a few network namespaces joined by a bridge, built through the Netlink
// module only (no `ip` commands), for trying Netplane by hand and as the README's first step.
//
//   <prefix>-fabric   br0 (bridge, up), veth-node1 … veth-nodeN enslaved to it
//   <prefix>-nodeK    lo, eth0 (the veth peer) with 198.18.0.(10+K)/24
//
// Nothing is ever created in the root namespace.

import ArgumentParser
import Glibc

struct Testbed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netplane-testbed",
        abstract: "Build, show and remove a bridge-and-veth test network in network namespaces.",
        subcommands: [Up.self, Down.self, Status.self])
}

struct PrefixOption: ParsableArguments {
    @Option(help: "Name prefix of the namespaces (<prefix>-fabric, <prefix>-node1 …).")
    var prefix = "np"

    func validate() throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")
        guard !prefix.isEmpty, prefix.count <= 32, prefix.allSatisfy({ allowed.contains($0) }) else {
            throw ValidationError("--prefix must be 1 to 32 letters, digits, '_' or '.'")
        }
    }
}

extension Testbed {
    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the fabric and node namespaces, or repair them; a no-op when already up.")

        @Option(help: "How many node namespaces to join to the bridge (1…\(Layout.maxNodes)).")
        var nodes = 2

        @OptionGroup var options: PrefixOption

        func validate() throws {
            guard (1...Layout.maxNodes).contains(nodes) else {
                throw ValidationError("--nodes must be between 1 and \(Layout.maxNodes)")
            }
        }

        func run() throws {
            try requireRoot()
            try Builder(layout: Layout(prefix: options.prefix, nodes: nodes)).up()
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the testbed's namespaces (nothing to do is not an error).")

        @OptionGroup var options: PrefixOption

        func run() throws {
            try requireRoot()
            try Builder(layout: Layout(prefix: options.prefix, nodes: 0)).down()
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the links and addresses the kernel holds in each testbed namespace.")

        @OptionGroup var options: PrefixOption

        func run() throws {
            try requireRoot()
            try StatusReport(layout: Layout(prefix: options.prefix, nodes: 0)).print()
        }
    }
}

/// A failure worth one clear line on stderr and a non-zero exit.
struct TestbedError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func requireRoot() throws {
    guard geteuid() == 0 else {
        throw TestbedError("netplane-testbed needs root: it creates network namespaces and links (run it with sudo)")
    }
}

Testbed.main()
