public import NetAddress
public import Netlink
public import NIOCore
import NIOPosix
import Glibc
import Synchronization

/// flannel's original UDP backend: a TUN device (flannel0) routes the whole cluster network
/// into this process, which wraps each IP packet in a UDP datagram to the node owning the
/// destination subnet (port 8285); datagrams received are written back into the TUN device
/// for the kernel to deliver. Everything runs on one SwiftNIO event loop: the TUN device as a
/// pipe channel (one read is one packet), the UDP socket as a datagram channel.
///
/// Slower than the kernel's VXLAN (every packet crosses into user space twice), but it needs
/// nothing from the underlay or the kernel beyond TUN.
public final class UDPTunnel: Sendable {
    public static let deviceName = "flannel0"

    let peers: PeerTable
    let udp: any Channel
    let tun: any Channel
    let writeFD: Int32
    /// Packets dropped for want of a peer or a writable device, for tests and logs.
    public var dropped: Int { peers.dropped.load(ordering: .relaxed) }

    init(peers: PeerTable, udp: any Channel, tun: any Channel, writeFD: Int32) {
        self.peers = peers
        self.udp = udp
        self.tun = tun
        self.writeFD = writeFD
    }

    /// Creates flannel0 in `namespace` (nil: this process's), gives it `address` (the
    /// subnet's network address with the cluster network's length, so the kernel routes the
    /// whole network into it) and `mtu`, and starts the loop on `group`.
    public static func start(namespace: NetNS?, handle: NetlinkHandle, port: UInt16, mtu: UInt32,
                             address: IPPrefix, group: any EventLoopGroup) async throws -> UDPTunnel {
        let (tunFD, udpFD) = try TunnelDescriptors.open(tun: deviceName, udpPort: port, namespace: namespace)
        do {
            try OverlayDevice.configure(handle, deviceName, mtu: mtu, address: address)
        } catch {
            close(tunFD); close(udpFD)
            throw error
        }
        let writeFD = dup(tunFD)
        let peers = PeerTable(port: Int(port))
        let loop = group.next()
        let udp: any Channel
        do {
            udp = try await DatagramBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Decapsulator(tunFD: writeFD, peers: peers))
                    }
                }
                .withBoundSocket(udpFD).get()
        } catch {
            close(tunFD); close(udpFD); close(writeFD)
            throw error
        }
        let tun: any Channel
        do {
            tun = try await NIOPipeBootstrap(group: loop)
                // A read shorter than the packet would truncate it: always offer a whole MTU.
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Encapsulator(udp: udp, peers: peers))
                    }
                }
                .takingOwnershipOfDescriptor(input: tunFD).get()
        } catch {
            close(tunFD); close(writeFD)
            try? await udp.close()
            throw error
        }
        return UDPTunnel(peers: peers, udp: udp, tun: tun, writeFD: writeFD)
    }

    /// Where packets for each remote subnet go from now on.
    public func setPeers(_ table: [IPPrefix: IPv4Address]) {
        peers.replace(table)
    }

    public func stop() async {
        try? await tun.close()
        try? await udp.close()
        close(writeFD)
    }
}

/// Remote subnets and where their packets go, read on every packet: the node's socket
/// address is built once per sync, not per packet.
final class PeerTable: Sendable {
    struct Table {
        /// Prefix lengths present, longest first, and node address by (network address, length).
        var lengths: [Int] = []
        var nodes: [UInt64: SocketAddress] = [:]
    }
    let port: Int
    let table = Mutex(Table())
    let dropped = Atomic<Int>(0)

    /// `port`: the UDP port the other nodes' tunnels listen on.
    init(port: Int) { self.port = port }

    static func key(_ network: UInt32, _ length: Int) -> UInt64 { UInt64(network) << 8 | UInt64(length) }

    func replace(_ peers: [IPPrefix: IPv4Address]) {
        var fresh = Table()
        for (prefix, node) in peers {
            guard case .v4(let network) = prefix.network.address,
                  let address = try? SocketAddress(ipAddress: node.description, port: port) else { continue }
            fresh.nodes[Self.key(network.value, prefix.length)] = address
            if !fresh.lengths.contains(prefix.length) { fresh.lengths.append(prefix.length) }
        }
        fresh.lengths.sort(by: >)
        table.withLock { $0 = fresh }
    }

    func lookup(_ destination: UInt32) -> SocketAddress? {
        table.withLock { table in
            for length in table.lengths {
                let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
                if let node = table.nodes[Self.key(destination & mask, length)] { return node }
            }
            return nil
        }
    }
}

/// TUN → UDP: each packet read from flannel0 goes to the node owning its destination.
final class Encapsulator: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let udp: any Channel
    let peers: PeerTable

    init(udp: any Channel, peers: PeerTable) {
        self.udp = udp
        self.peers = peers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data)
        guard packet.readableBytes >= 20, let first = packet.getInteger(at: packet.readerIndex, as: UInt8.self),
              first >> 4 == 4, let destination = packet.getInteger(at: packet.readerIndex + 16, as: UInt32.self),
              let address = peers.lookup(destination) else {
            peers.dropped.add(1, ordering: .relaxed)
            return
        }
        udp.write(AddressedEnvelope(remoteAddress: address, data: packet), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        udp.flush()
    }
}

/// UDP → TUN: each datagram's payload is an IP packet for this node's pods.
final class Decapsulator: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let tunFD: Int32
    let peers: PeerTable

    init(tunFD: Int32, peers: PeerTable) {
        self.tunFD = tunFD
        self.peers = peers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let packet = unwrapInboundIn(data).data
        // One write is one packet; a full device queue drops it, as a congested link would.
        let written = packet.withUnsafeReadableBytes { write(tunFD, $0.baseAddress, $0.count) }
        if written < 0 { peers.dropped.add(1, ordering: .relaxed) }
    }
}
