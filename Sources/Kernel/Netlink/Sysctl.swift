import Glibc

/// Reads and writes kernel parameters under `/proc/sys`.
///
/// The `net/` keys belong to a network namespace: the kernel answers for the namespace of the
/// thread that opens the file. Passing `in: namespace` therefore does the file I/O on a
/// thread inside that namespace (`NetNS.run`); without it, the calling thread's namespace is
/// meant.
public enum Sysctl {
    /// The value of `key`, without its trailing newline. Keys use slashes
    /// (`net/ipv4/ip_forward`); a key without slashes is read the `sysctl(8)` way, dots as
    /// separators (avoid that form for interface names containing dots, like `eth0.100`).
    public static func get(_ key: String, in namespace: NetNS? = nil) throws(NetlinkError) -> String {
        let path = path(of: key)
        let text = try inside(namespace) { () throws(NetlinkError) in try read(path) }
        return String(text.reversed().drop { $0 == "\n" }.reversed())
    }

    /// Sets `key` to `value` (`sysctl -w`).
    public static func set(_ key: String, _ value: String, in namespace: NetNS? = nil) throws(NetlinkError) {
        let path = path(of: key)
        try inside(namespace) { () throws(NetlinkError) in try write(path, value) }
    }

    /// `net.ipv4.ip_forward` or `net.ipv6.conf.all.forwarding`: route between interfaces.
    public static func setIPForwarding(_ on: Bool, ipv6: Bool = false, in namespace: NetNS? = nil) throws(NetlinkError) {
        try set(ipv6 ? "net/ipv6/conf/all/forwarding" : "net/ipv4/ip_forward", on ? "1" : "0", in: namespace)
    }

    /// `net.ipv4.conf.INTERFACE.proxy_arp`: answer ARP for addresses routed elsewhere
    /// (Calico's host side of a pod veth answers for the pod's gateway this way).
    public static func setProxyARP(_ on: Bool, interface: String, in namespace: NetNS? = nil) throws(NetlinkError) {
        try set("net/ipv4/conf/\(interface)/proxy_arp", on ? "1" : "0", in: namespace)
    }

    /// `net.ipv4.conf.INTERFACE.rp_filter`. The kernel uses the larger of `all` and the
    /// interface's value, so loosening one interface may need `all` too.
    public static func setReversePathFilter(_ mode: ReversePathFilter, interface: String,
                                            in namespace: NetNS? = nil) throws(NetlinkError) {
        try set("net/ipv4/conf/\(interface)/rp_filter", "\(mode.rawValue)", in: namespace)
    }

    /// `net.ipv6.conf.INTERFACE.accept_dad`: 0 skips duplicate address detection, so an
    /// IPv6 address is usable at once (CNI plugins turn it off inside pods).
    public static func setAcceptDAD(_ value: Int, interface: String, in namespace: NetNS? = nil) throws(NetlinkError) {
        try set("net/ipv6/conf/\(interface)/accept_dad", "\(value)", in: namespace)
    }

    /// `rp_filter` values.
    public enum ReversePathFilter: Int, Sendable {
        case off = 0
        case strict = 1
        case loose = 2
    }

    static func path(of key: String) -> String {
        let relative = key.contains("/") ? key : key.replacingDots()
        return "/proc/sys/" + relative.drop { $0 == "/" }
    }

    private static func inside<T>(_ namespace: NetNS?, _ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        guard let namespace else { return try body() }
        return try namespace.runTyped(body)
    }

    private static func read(_ path: String) throws(NetlinkError) -> String {
        let fd = try systemCall("read \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system(errno, "read \(path)")
            }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func write(_ path: String, _ value: String) throws(NetlinkError) {
        let operation = "set \(path) to \(value)"
        let fd = try systemCall(operation) { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        // A sysctl takes the whole value in one write.
        let written = try systemCall(operation) { Int32(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }) }
        if written != bytes.count { throw .system(EIO, operation, kernelMessage: "short write") }
    }
}

private extension String {
    func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}
