import Foundation

/// A throwaway network namespace made with `ip netns add` for one test, and always removed.
///
/// Tests use `TestNamespace.with { ns in ... }` so the namespace goes away even when the body
/// throws or an expectation fails.
public struct TestNamespace: Sendable {
    public let name: String
    /// The bind-mount path product code opens (`/run/netns/<name>`).
    public var path: String { "/run/netns/\(name)" }

    /// Creates a namespace named `np-<label>-<random>` with its loopback up.
    public static func create(_ label: String = "t") throws -> TestNamespace {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let ns = TestNamespace(name: "np-\(label.prefix(6))-\(suffix)")
        try Command.check(["ip", "netns", "add", ns.name])
        try Command.check(["ip", "-n", ns.name, "link", "set", "lo", "up"])
        return ns
    }

    public func remove() {
        _ = try? Command.run(["ip", "netns", "delete", name])
    }

    /// Runs `args` inside the namespace (`ip netns exec`).
    @discardableResult
    public func run(_ args: [String]) throws -> CommandResult {
        try Command.run(["ip", "netns", "exec", name] + args)
    }

    /// Runs `args` inside the namespace and requires success.
    @discardableResult
    public func check(_ args: [String]) throws -> String {
        try Command.check(["ip", "netns", "exec", name] + args)
    }

    /// `ip -j -n <ns> <args>` parsed as an array of objects.
    public func ipJSON(_ args: [String]) throws -> [[String: Any]] {
        try Command.jsonObjects(["ip", "-j", "-d", "-n", name] + args)
    }

    /// Makes `count` namespaces, runs `body`, and removes them all afterwards.
    public static func with<T>(_ count: Int = 1, label: String = "t",
                               _ body: ([TestNamespace]) throws -> T) throws -> T {
        var made: [TestNamespace] = []
        defer { made.forEach { $0.remove() } }
        for _ in 0..<count { made.append(try create(label)) }
        return try body(made)
    }

    /// Single-namespace convenience.
    public static func with<T>(label: String = "t", _ body: (TestNamespace) throws -> T) throws -> T {
        try with(1, label: label) { try body($0[0]) }
    }
}
