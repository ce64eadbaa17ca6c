import Foundation
import Netlink
import NetplaneTestSupport

extension TestNamespace {
    /// A Netplane handle on this namespace (see `netns()` in NetplaneTestSupport), checked to
    /// be inside it.
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
