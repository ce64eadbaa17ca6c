import Foundation
import Testing
import CNI
import NetplaneTestSupport

/// A fresh path under the temporary directory (not created), for IPAM data and plugin dirs.
func scratchPath(_ label: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("np-\(label)-\(UUID().uuidString)").path
}

/// Runs the CNI plugin `binary` as a runtime would, on the host side (`node`) for `pod`.
func runPlugin(_ binary: String, _ command: String, node: TestNamespace, pod: TestNamespace?, id: String,
               ifname: String = "eth0", cniPath: String = productsDirectory(), args: String? = nil,
               config: String) throws -> CommandResult {
    var env = ["CNI_COMMAND=\(command)", "CNI_CONTAINERID=\(id)", "CNI_NETNS=\(pod?.path ?? "")",
               "CNI_IFNAME=\(ifname)", "CNI_PATH=\(cniPath)"]
    if let args { env.append("CNI_ARGS=\(args)") }
    return try Command.run(["ip", "netns", "exec", node.name, "env"] + env + [binary], stdin: config)
}

/// The host ends of pod veths in `node`.
func nodeVeths(_ node: TestNamespace) throws -> [String] {
    try Command.jsonObjects(["ip", "-j", "-n", node.name, "link", "show"])
        .compactMap { $0["ifname"] as? String }.filter { $0.hasPrefix("veth") }
}

/// The global addresses of `ifname` in `ns` as `address/length`, of one family (`-4`, `-6`).
func interfaceAddresses(_ ns: TestNamespace, _ ifname: String = "eth0", family: String = "-4") throws -> [String] {
    let links = try Command.jsonObjects(["ip", "-j", family, "-n", ns.name, "addr", "show", "dev", ifname, "scope", "global"])
    return links.flatMap { ($0["addr_info"] as? [[String: Any]] ?? []).compactMap {
        guard let a = $0["local"] as? String, let l = $0["prefixlen"] as? Int else { return nil }
        return "\(a)/\(l)"
    } }
}

/// Whether `ifname` exists in `ns`.
func hasLink(_ ns: TestNamespace, _ ifname: String) throws -> Bool {
    try Command.jsonObjects(["ip", "-j", "-n", ns.name, "link", "show"]).contains { $0["ifname"] as? String == ifname }
}
