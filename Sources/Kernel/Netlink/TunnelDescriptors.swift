import Glibc
public import NetNamespace

/// The file descriptors a user-space tunnel (flannel's UDP backend) works on, opened inside
/// a namespace, where they stay bound: a TUN device and a UDP socket. Kept here, with the
/// other code that talks to the kernel, so the overlay's daemon holds no ioctl or socket call.
public enum TunnelDescriptors {
    /// Opens /dev/net/tun as a new TUN device `tun` (IFF_TUN without packet info: each read
    /// and write is one bare IP packet) and a UDP socket bound to `udpPort` on every address,
    /// both non-blocking and close-on-exec, inside `namespace` (nil: this process's).
    public static func open(tun name: String, udpPort port: UInt16,
                            namespace: NetNS?) throws(NetlinkError) -> (tun: Int32, udp: Int32) {
        let open = { () throws(NetlinkError) -> (tun: Int32, udp: Int32) in
            let tun = try openTUN(name: name)
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard udp >= 0 else {
                let failure = NetlinkError.system(errno, "socket(AF_INET, SOCK_DGRAM)")
                close(tun)
                throw failure
            }
            var one: Int32 = 1
            setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                let failure = NetlinkError.system(errno, "bind UDP port \(port)")
                close(tun)
                close(udp)
                throw failure
            }
            return (tun, udp)
        }
        guard let namespace else { return try open() }
        return try namespace.run(open, mapError: NetlinkError.init(namespace:))
    }

    /// Opens /dev/net/tun and attaches it to a new TUN device `name`.
    static func openTUN(name: String) throws(NetlinkError) -> Int32 {
        let fd = Glibc.open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw NetlinkError.system(errno, "open /dev/net/tun") }
        // struct ifreq: the name (IFNAMSIZ = 16 bytes), then ifr_flags (a short) in the union.
        var request = [UInt8](repeating: 0, count: 40)
        for (i, byte) in name.utf8.prefix(15).enumerated() { request[i] = byte }
        let flags: UInt16 = 0x0001 | 0x1000  // IFF_TUN | IFF_NO_PI
        request[16] = UInt8(flags & 0xff)
        request[17] = UInt8(flags >> 8)
        let tunsetiff: UInt = 0x4004_54ca  // _IOW('T', 202, int)
        let status = request.withUnsafeMutableBytes { ioctl(fd, tunsetiff, $0.baseAddress!) }
        guard status == 0 else {
            let failure = NetlinkError.system(errno, "create TUN device \(name)", link: name)
            close(fd)
            throw failure
        }
        return fd
    }
}
