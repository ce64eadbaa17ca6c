import Client
public import DaemonRuntime
import JSON
import Logging
public import NetAddress
import Netlink
import NFTables
import NIOPosix
import Glibc

/// `netplane flanneld`: joins this node to the overlay and keeps its kernel in step with the
/// other Nodes.
///
/// Start-up: find the underlay interface and its address; wait for the node-IPAM controller
/// to give the Node a pod CIDR; set up the backend (the VXLAN device, or the TUN device and
/// UDP loop); publish the public IP and VTEP MAC as flannel's Node annotations; install the
/// masquerade rules; write subnet.env for the CNI plugin. Then every Node change recompiles
/// the desired state (`OverlayCompiler`, pure) and the applier converges the kernel to it;
/// a periodic full sync repairs anything changed behind its back.
public final class FlannelDaemon: Sendable {
    public struct Settings: Sendable {
        public var nodeName: String
        public var network: IPPrefix
        public var backend: OverlayBackend
        public var interface: String?
        public var ipMasq: Bool
        public var subnetFile: String
        public var namespacePath: String?
        public var resyncPeriod: Duration

        public init(nodeName: String, network: IPPrefix, backend: OverlayBackend, interface: String? = nil,
                    ipMasq: Bool = true, subnetFile: String = "/run/flannel/subnet.env",
                    namespacePath: String? = nil, resyncPeriod: Duration = .seconds(30)) {
            self.nodeName = nodeName
            self.network = network
            self.backend = backend
            self.interface = interface
            self.ipMasq = ipMasq
            self.subnetFile = subnetFile
            self.namespacePath = namespacePath
            self.resyncPeriod = resyncPeriod
        }
    }

    let daemon: Daemon
    let settings: Settings
    let nodes: Informer<Node>
    let work = WorkQueue()
    let loop: SyncLoop

    var client: APIClient { daemon.client }
    var logger: Logger { daemon.logger }

    public init(daemon: Daemon, settings: Settings) {
        self.daemon = daemon
        self.settings = settings
        let work = work
        nodes = daemon.informer(Node.self) { event in work.mark(event.object.name) }
        loop = daemon.syncLoop(work, .init(resyncPeriod: settings.resyncPeriod))
    }

    /// Runs until cancelled; throws when the node cannot join (bad interface, overlapping
    /// network, a pod CIDR outside the network, a device it cannot create).
    public func run() async throws {
        let namespace = try settings.namespacePath.map { try NetNS.open(path: $0) }
        let handle = try namespace.map { try NetlinkHandle(namespace: $0) } ?? NetlinkHandle()
        let underlay = try Underlay.find(settings.interface, handle)
        let network = settings.network
        if network.overlaps(underlay.address.network) {
            throw OverlayError("network \(network) overlaps \(underlay.interface)'s subnet \(underlay.address.network): pod and node addresses would collide")
        }
        guard await daemon.cachesSynced() else { return }
        let podCIDR = try await waitForPodCIDR()
        guard network.contains(podCIDR) else {
            throw OverlayError("node \(settings.nodeName)'s pod CIDR \(podCIDR) is not inside the network \(network) (check --network and the controllers' --cluster-cidr)")
        }
        let local = LocalNode(name: settings.nodeName, interface: underlay.interface, address: underlay.address, podCIDR: podCIDR)
        let mtu = underlay.mtu - settings.backend.overhead
        logger.info("joining the overlay", metadata: ["node": "\(settings.nodeName)", "subnet": "\(podCIDR)",
                                                      "public_ip": "\(underlay.publicIP)", "interface": "\(underlay.interface)",
                                                      "backend": "\(settings.backend.typeName)", "mtu": "\(mtu)"])

        // The backend's device; devices of another backend go.
        try OverlayDevice.removeOthers(handle, keep: settings.backend.deviceName)
        var backendData: JSONValue = .null
        var tunnel: UDPTunnel?
        var loops: MultiThreadedEventLoopGroup?
        switch settings.backend {
        case .vxlan(let vni, let port, _):
            let mac = try OverlayDevice.ensureVXLAN(handle, vni: vni, port: port, underlay: underlay, podCIDR: podCIDR)
            backendData = ["VNI": .int(Int64(vni)), "VtepMAC": .string(mac.description)]
        case .hostGW:
            break
        case .udp(let port):
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            loops = group
            do {
                tunnel = try await UDPTunnel.start(
                    namespace: namespace, handle: handle, port: port, mtu: mtu,
                    address: try IPPrefix(address: OverlayCompiler.vtepAddress(of: podCIDR), length: network.length), group: group)
            } catch {
                try? await group.shutdownGracefully()
                throw error
            }
        }
        do {
            // Masquerade, then tell the others (and the CNI plugin) about this node.
            let nft = try namespace.map { try NFTSocket(namespace: $0) } ?? NFTSocket()
            try nft.commit(settings.ipMasq ? FlannelMasquerade.transaction(network: network, subnet: podCIDR)
                                           : FlannelMasquerade.removal())
            try await publish(publicIP: underlay.publicIP, backendData: backendData)
            try SubnetEnv(network: network, subnet: podCIDR, mtu: mtu, ipMasq: settings.ipMasq).write(to: settings.subnetFile)
            logger.info("wrote \(settings.subnetFile)")
            try await syncLoop(local: local, handle: handle, tunnel: tunnel)
        } catch {
            await tunnel?.stop()
            try? await loops?.shutdownGracefully()
            throw error
        }
        await tunnel?.stop()
        try? await loops?.shutdownGracefully()
    }

    /// The node's IPv4 pod CIDR, waiting (and saying so) until the controller assigns one.
    func waitForPodCIDR() async throws -> IPPrefix {
        var said = false
        while !Task.isCancelled {
            if let node = nodes.get(name: settings.nodeName), let cidr = OverlayNode(node).podCIDR { return cidr }
            if !said {
                logger.info(nodes.get(name: settings.nodeName) == nil
                             ? "waiting for Node \(settings.nodeName) to exist"
                             : "waiting for Node \(settings.nodeName) to get a pod CIDR (is `netplane controllers` running?)")
                said = true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CancellationError()
    }

    /// Writes flannel's annotations on this Node (only when they differ).
    func publish(publicIP: IPv4Address, backendData: JSONValue) async throws {
        let wanted: [String: String] = [
            FlannelAnnotation.backendType: settings.backend.typeName,
            FlannelAnnotation.backendData: backendData.jsonString,
            FlannelAnnotation.publicIP: publicIP.description,
            FlannelAnnotation.kubeSubnetManager: "true",
        ]
        if let node = nodes.get(name: settings.nodeName), wanted.allSatisfy({ node.annotations[$0.key] == $0.value }) { return }
        let patch: JSONValue = ["metadata": ["annotations": .object(wanted.mapValues { .string($0) })]]
        // Through nodes/status, as upstream flannel: its role then writes no Node's spec.
        _ = try await client.patch(Node.resource, namespace: nil, name: settings.nodeName, patch, subresource: "status")
    }

    /// What a pass needs from the one before: the applier (what it last applied) and the
    /// Nodes as last read.
    struct LoopState {
        let applier: OverlayApplier
        var known: [String: OverlayNode] = [:]
        var lastSkipped: [SkippedNode] = []
    }

    func syncLoop(local: LocalNode, handle: NetlinkHandle, tunnel: UDPTunnel?) async throws {
        // Only VXLAN has per-node neighbours and FDB entries on its device.
        let device: String? = if case .vxlan = settings.backend { settings.backend.deviceName } else { nil }
        try await loop.run(setup: { LoopState(applier: OverlayApplier(handle: handle, device: device)) }) { state, pass in
            // Nodes are read from their objects only when they changed.
            if pass.full {
                state.known = Dictionary(nodes.list().map { ($0.name, OverlayNode($0)) }, uniquingKeysWith: { a, _ in a })
            } else {
                for name in pass.dirty { state.known[name] = nodes.get(name: name).map(OverlayNode.init) }
            }
            let (desired, skipped) = OverlayCompiler.desiredState(local: local, nodes: Array(state.known.values),
                                                                  backend: settings.backend)
            if skipped != state.lastSkipped {
                for node in skipped where !state.lastSkipped.contains(node) { logger.warning("left out \(node)") }
                state.lastSkipped = skipped
            }
            tunnel?.setPeers(desired.peers)
            // A failure is retried by the loop as a full pass, with a fresh read of the kernel.
            let changes = try state.applier.sync(desired, full: pass.full)
            if !changes.isEmpty {
                logger.info("overlay: \(changes)", metadata: ["nodes_routed": "\(desired.nodes.count)"])
            }
        }
    }
}

extension SubnetEnv {
    /// Writes the file atomically (a temporary file renamed over it), creating its directory.
    public func write(to path: String) throws {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            var partial = ""
            for component in path[..<slash].split(separator: "/") {
                partial += "/" + component
                _ = mkdir(partial, 0o755)
            }
        }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw OverlayError("writing \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count, rename(temporary, path) == 0 else {
            throw OverlayError("writing \(path): \(String(cString: strerror(errno)))")
        }
    }
}
