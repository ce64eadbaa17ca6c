import Foundation
import Netlink
import NetplaneTestSupport

struct EscapedTestNamespace: Error, CustomStringConvertible {
    var description: String
}

extension TestNamespace {
    /// This namespace as a `NetNS`, after checking that `NetNS.run` really lands in it and
    /// that it is not the host's namespace: a bug there must fail the test, not reconfigure
    /// the machine running it.
    func netns() throws -> NetNS {
        let ns = try NetNS.open(name: name)
        let host = try NetNS.open(pid: getpid())  // the test process runs in the host namespace
        let landed = try ns.run { try NetNS.current() }
        guard landed.isSame(as: ns), !ns.isSame(as: host) else {
            throw EscapedTestNamespace(description: "NetNS.run did not enter \(name); refusing to touch the host")
        }
        return ns
    }

    /// A Netplane handle on this namespace, checked to be inside it.
    func handle() throws -> NetlinkHandle {
        let handle = try NetlinkHandle(namespace: try netns())
        guard try !handle.links().contains(where: { $0.name == "eth0" }) else {
            throw EscapedTestNamespace(description: "handle for \(name) sees the host's links")
        }
        return handle
    }

    /// `ip -j -d -n NS link show` as a dictionary by interface name.
    func linksByName() throws -> [String: [String: Any]] {
        var result: [String: [String: Any]] = [:]
        for link in try ipJSON(["link", "show"]) {
            if let name = link["ifname"] as? String { result[name] = link }
        }
        return result
    }
}

extension Dictionary where Key == String, Value == Any {
    subscript(path path: String...) -> Any? {
        var current: Any? = self
        for key in path { current = (current as? [String: Any])?[key] }
        return current
    }
}

/// The `readlink` of a thread's namespace file, e.g. `net:[4026531840]`.
func threadNamespaceLink() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")) ?? "?"
}
