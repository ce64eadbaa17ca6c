public import NetAddress
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The reference host-local plugin's on-disk store, file for file, so a node can switch
/// between it and this one without losing reservations:
///
///     <dataDir>/<network>/                     directory, 0755
///     <dataDir>/<network>/<ip>                 "<containerID>\r\n<ifname>", 0600, created O_EXCL
///     <dataDir>/<network>/last_reserved_ip.<i> the last address reserved in range set i
///     <dataDir>/<network>/lock                 flock(LOCK_EX) for the whole allocation
///
/// Files written by old versions of the reference (the container ID alone) are still found
/// and released by container ID.
public final class DiskStore: Store {
    public static let lastIPFilePrefix = "last_reserved_ip."
    public static let lineBreak = "\r\n"

    /// `<dataDir>/<network>`.
    public let directory: String
    private let lockFD: Int32
    private var lockDepth = 0

    public init(network: String, dataDir: String = HostLocalConfig.defaultDataDir) throws(IPAMError) {
        let base = dataDir.isEmpty ? HostLocalConfig.defaultDataDir : dataDir
        directory = base.hasSuffix("/") ? base + network : base + "/" + network
        try Self.makeDirectories(directory)
        let fd = open(directory + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.ioError("open \(directory)/lock") }
        lockFD = fd
    }

    deinit { close(lockFD) }

    public func withLock<T>(_ body: () throws(IPAMError) -> T) throws(IPAMError) -> T {
        if lockDepth == 0 {
            while flock(lockFD, LOCK_EX) != 0 {
                guard errno == EINTR else { throw Self.ioError("flock \(directory)/lock") }
            }
        }
        lockDepth += 1
        defer {
            lockDepth -= 1
            if lockDepth == 0 { _ = flock(lockFD, LOCK_UN) }
        }
        return try body()
    }

    public func reserve(_ ip: IPAddress, containerID: String, ifname: String, rangeID: String) throws(IPAMError) -> Bool {
        let path = self.path(ip.description)
        let fd = open(path, O_RDWR | O_EXCL | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw Self.ioError("create \(path)")
        }
        let content = trimmed(containerID) + Self.lineBreak + ifname
        let ok = writeAll(fd, Array(content.utf8))
        let closed = close(fd) == 0
        guard ok, closed else {
            let e = Self.ioError("write \(path)")
            unlink(path)
            throw e
        }
        try writeFile(self.path(Self.lastIPFilePrefix + rangeID), Array(ip.description.utf8))
        return true
    }

    public func lastReservedIP(rangeID: String) throws(IPAMError) -> IPAddress? {
        guard let data = readFile(path(Self.lastIPFilePrefix + rangeID)) else { return nil }
        return IPAddress(trimmed(String(decoding: data, as: UTF8.self)))
    }

    public func release(_ ip: IPAddress) throws(IPAMError) {
        let p = path(ip.description)
        if unlink(p) != 0 && errno != ENOENT { throw Self.ioError("remove \(p)") }
    }

    public func releaseByID(containerID: String, ifname: String) throws(IPAMError) {
        let (current, legacy) = try matching(containerID: containerID, ifname: ifname)
        for ip in current.isEmpty ? legacy : current { try release(ip) }
    }

    public func getByID(containerID: String, ifname: String) throws(IPAMError) -> [IPAddress] {
        let (current, legacy) = try matching(containerID: containerID, ifname: ifname)
        return (current + legacy).sorted()
    }

    /// Every address file; a file in the old format (container ID only) has an empty ifname.
    public func reservations() throws(IPAMError) -> [Reservation] {
        var out: [Reservation] = []
        for (ip, content) in try addressFiles() {
            let parts = content.split(separator: Self.lineBreak, maxSplits: 1, omittingEmptySubsequences: false)
            out.append(Reservation(ip: ip, containerID: String(parts[0]),
                                   ifname: parts.count > 1 ? trimmed(String(parts[1])) : ""))
        }
        return out.sorted { $0.ip < $1.ip }
    }

    // MARK: - Files

    private func path(_ name: String) -> String { directory + "/" + name }

    /// The attachment's addresses in one pass over the directory: files in the current
    /// format (container ID and ifname) and in the old one (container ID only).
    private func matching(containerID: String, ifname: String) throws(IPAMError) -> (current: [IPAddress], legacy: [IPAddress]) {
        let legacyKey = trimmed(containerID)
        let key = legacyKey + Self.lineBreak + ifname
        var current: [IPAddress] = [], legacy: [IPAddress] = []
        for file in try addressFiles() {
            if file.content == key { current.append(file.ip) } else if file.content == legacyKey { legacy.append(file.ip) }
        }
        return (current, legacy)
    }

    /// (address, trimmed content) of every file named by an IP address.
    private func addressFiles() throws(IPAMError) -> [(ip: IPAddress, content: String)] {
        guard let dir = opendir(directory) else { throw Self.ioError("open directory \(directory)") }
        defer { closedir(dir) }
        var out: [(IPAddress, String)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let ip = IPAddress(name), ip.description == name,
                  let data = readFile(path(name)) else { continue }
            out.append((ip, trimmed(String(decoding: data, as: UTF8.self))))
        }
        return out
    }

    private func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { return out }
            out += buffer[0..<n]
        }
    }

    private func writeFile(_ path: String, _ bytes: [UInt8]) throws(IPAMError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Self.ioError("open \(path)") }
        let ok = writeAll(fd, bytes)
        guard close(fd) == 0, ok else { throw Self.ioError("write \(path)") }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 { if errno == EINTR { continue }; return false }
            offset += n
        }
        return true
    }

    private static func makeDirectories(_ path: String) throws(IPAMError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw ioError("mkdir \(current)") }
        }
    }

    private static func ioError(_ what: String) -> IPAMError {
        IPAMError(.io, "\(what): \(String(cString: strerror(errno)))")
    }
}

/// `strings.TrimSpace` for the ASCII whitespace the reference's files can hold.
func trimmed(_ s: String) -> String {
    let ws: Set<Character> = [" ", "\t", "\n", "\r", "\r\n", "\u{0B}", "\u{0C}"]
    var sub = Substring(s)
    while let f = sub.first, ws.contains(f) { sub.removeFirst() }
    while let l = sub.last, ws.contains(l) { sub.removeLast() }
    return String(sub)
}
