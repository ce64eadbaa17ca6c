import Foundation
public import NetNamespace

/// A test refused to go on because a namespace handle would have acted on the host.
public struct EscapedTestNamespace: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

extension TestNamespace {
    /// This namespace as a `NetNS`, after checking that `NetNS.run` really lands in it and
    /// that it is not the host's namespace: a bug there must fail the test, not reconfigure
    /// the machine running it.
    public func netns() throws -> NetNS {
        let ns = try NetNS.open(name: name)
        let host = try NetNS.open(pid: getpid())  // the test process runs in the host namespace
        let landed = try ns.run { try NetNS.current() }
        guard landed.isSame(as: ns), !ns.isSame(as: host) else {
            throw EscapedTestNamespace(description: "NetNS.run did not enter \(name); refusing to touch the host")
        }
        return ns
    }
}

/// The `readlink` of a thread's namespace file, e.g. `net:[4026531840]`.
public func threadNamespaceLink() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")) ?? "?"
}
