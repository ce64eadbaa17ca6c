import Foundation
import JSON
public import NodeAgentCore

/// The node's local images: each a root filesystem and its config under `directory`, found by
/// the names it was imported with. `busybox` (any tag) is always there: it is made on first
/// use from the host's static busybox (Debian's busybox-static), so a node needs no registry
/// and no import step for it. Pulling from a registry is not done.
public final class ImageStore: Sendable {
    public let directory: String
    let busybox: String

    public struct Image: Sendable, Equatable {
        public var id: String
        public var names: [String]
        public var rootfs: String
        public var config: ImageConfig
    }

    public struct ImageError: Error, CustomStringConvertible, Sendable {
        /// ErrImagePull for a missing image (the pod status a user expects), or the reason.
        public var reason: String
        public var description: String
    }

    public init(directory: String, busybox: String = "/bin/busybox") {
        self.directory = directory
        self.busybox = busybox
    }

    /// "busybox" → "docker.io/library/busybox:latest"; "nginx:1.25" → "docker.io/library/nginx:1.25";
    /// "example.com/app@sha256:…" unchanged: every spelling of a name compares equal.
    public static func normalize(_ reference: String) -> String {
        var ref = reference
        let firstSlash = ref.firstIndex(of: "/")
        let first = firstSlash.map { String(ref[..<$0]) }
        if first == nil || !(first!.contains(".") || first!.contains(":") || first == "localhost") {
            ref = "docker.io/" + (firstSlash == nil ? "library/" : "") + ref
        }
        let lastComponent = ref.split(separator: "/").last ?? ""
        if !lastComponent.contains(":") && !ref.contains("@") { ref += ":latest" }
        return ref
    }

    /// Whether `reference` names the built-in busybox image (any tag).
    public static func isBusybox(_ reference: String) -> Bool {
        let normalized = normalize(reference)
        return normalized.hasPrefix("docker.io/library/busybox:") || normalized.hasPrefix("docker.io/library/busybox@")
    }

    /// The image `reference` names, made first when it is busybox.
    public func resolve(_ reference: String) async throws(ImageError) -> Image {
        if Self.isBusybox(reference) { return try await builtinBusybox() }
        let wanted = Self.normalize(reference)
        if let image = list().first(where: { $0.names.map(Self.normalize).contains(wanted) }) { return image }
        throw ImageError(reason: "ErrImagePull",
                         description: "image \(reference) is not in this node's image store (\(directory)); import it with `netplane image import FILE.tar` (pulling from registries is not supported)")
    }

    /// Every image in the store.
    public func list() -> [Image] {
        let root = directory + "/images"
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return ids.sorted().compactMap { id in
            guard let data = FileManager.default.contents(atPath: "\(root)/\(id)/image.json"),
                  let json = try? JSONValue.parse(Array(data)) else { return nil }
            let strings = { (key: String) in json[key]?.arrayValue?.compactMap(\.stringValue) ?? [] }
            return Image(id: id, names: strings("names"), rootfs: "\(root)/\(id)/rootfs",
                         config: ImageConfig(entrypoint: strings("entrypoint"), cmd: strings("cmd"), env: strings("env"),
                                             workingDir: json["workingDir"]?.stringValue, user: json["user"]?.stringValue))
        }
    }

    /// Imports every image of a `docker save` or OCI-layout tarball; returns their names.
    public func importArchive(_ path: String) throws(ImageError) -> [String] {
        let staging = "\(directory)/tmp/import-\(UInt64.random(in: 0..<UInt64.max))"
        try? FileManager.default.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let unpacked: [UnpackedImage]
        do { unpacked = try ImageArchive.unpack(archive: path, into: staging) } catch {
            throw ImageError(reason: "InvalidImage", description: "\(path): \(error)")
        }
        var names: [String] = []
        for image in unpacked {
            // An image replaces any earlier one of the same name.
            let wanted = Set(image.names.map(Self.normalize))
            for old in list() where !Set(old.names.map(Self.normalize)).isDisjoint(with: wanted) {
                try? FileManager.default.removeItem(atPath: "\(directory)/images/\(old.id)")
            }
            let id = "sha-\(UInt64.random(in: 0..<UInt64.max))"
            let config = ImageConfig(entrypoint: image.entrypoint ?? [], cmd: image.cmd ?? [], env: image.env,
                                     workingDir: image.workingDir, user: image.user)
            try install(id: id, names: image.names, config: config, rootfs: image.rootfs)
            names += image.names
        }
        return names
    }

    /// Writes an image directory atomically (`rootfs` moved in under a temporary name, then
    /// renamed into place).
    func install(id: String, names: [String], config: ImageConfig, rootfs: String) throws(ImageError) {
        let final = "\(directory)/images/\(id)"
        let temporary = "\(directory)/tmp/\(id)-\(UInt64.random(in: 0..<UInt64.max))"
        do {
            try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: rootfs, toPath: temporary + "/rootfs")
        } catch { throw ImageError(reason: "InvalidImage", description: "\(error)") }
        let json: JSONValue = [
            "names": .array(names.map { .string($0) }), "entrypoint": .array(config.entrypoint.map { .string($0) }),
            "cmd": .array(config.cmd.map { .string($0) }), "env": .array(config.env.map { .string($0) }),
            "workingDir": config.workingDir.map { .string($0) } ?? .null, "user": config.user.map { .string($0) } ?? .null,
        ]
        guard FileManager.default.createFile(atPath: temporary + "/image.json", contents: Data(json.jsonBytes())),
              rename(temporary, final) == 0 else {
            try? FileManager.default.removeItem(atPath: temporary)
            // Two pods made the same built-in image at once: the other one's is as good.
            if FileManager.default.fileExists(atPath: final + "/image.json") { return }
            throw ImageError(reason: "InvalidImage", description: "cannot write \(final): \(String(cString: strerror(errno)))")
        }
    }

    /// The busybox image: a root filesystem of the static busybox with a link per applet.
    func builtinBusybox() async throws(ImageError) -> Image {
        let id = "busybox"
        let config = ImageConfig(cmd: ["sh"], env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        let image = Image(id: id, names: ["docker.io/library/busybox:latest"], rootfs: "\(directory)/images/\(id)/rootfs", config: config)
        if FileManager.default.fileExists(atPath: "\(directory)/images/\(id)/image.json") { return image }
        guard access(busybox, X_OK) == 0 else {
            throw ImageError(reason: "ErrImagePull", description: "the busybox image is made from \(busybox), which is missing (install Debian's busybox-static)")
        }
        let applets: String
        do {
            applets = try await ProcessRunner.shared.run([busybox, "--list-full"], timeout: 10).stdoutText
        } catch { throw ImageError(reason: "ErrImagePull", description: "\(busybox) --list-full: \(error)") }
        let rootfs = "\(directory)/tmp/busybox-rootfs-\(UInt64.random(in: 0..<UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        do {
            let fm = FileManager.default
            do {
                try fm.createDirectory(atPath: directory + "/tmp", withIntermediateDirectories: true)
                for sub in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var/www", "proc", "sys", "dev", "home"] {
                    try fm.createDirectory(atPath: "\(rootfs)/\(sub)", withIntermediateDirectories: true)
                }
                chmod(rootfs + "/tmp", 0o1777)
                try fm.copyItem(atPath: busybox, toPath: rootfs + "/bin/busybox")
                try "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
                    .write(toFile: rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
                try "root:x:0:\nnobody:x:65534:\n".write(toFile: rootfs + "/etc/group", atomically: true, encoding: .utf8)
            } catch { throw ImageError(reason: "ErrImagePull", description: "making the busybox image: \(error)") }
            // `busybox --list-full` names every applet with its directory (bin/sh, usr/bin/wget, …).
            // Absolute links: they resolve inside the container's root.
            for applet in applets.split(separator: "\n") where applet != "bin/busybox" {
                _ = symlink("/bin/busybox", "\(rootfs)/\(applet)")
            }
        }
        try install(id: id, names: image.names, config: config, rootfs: rootfs)
        return image
    }
}
