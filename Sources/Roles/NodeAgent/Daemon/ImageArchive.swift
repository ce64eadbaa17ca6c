// The node agent's local image store: unpacking `docker save` and OCI image-layout tarballs
// into one root filesystem per image.
//
// GNU tar does the reading and writing of archives. Each layer is extracted alone into an
// empty scratch directory, then moved into the rootfs by `LayerMerge` with renames. This is
// because extracting layer after layer into one directory lets a lower layer's symlink
// (`etc -> /etc`) carry a later layer's `etc/passwd` onto the host: tar follows symlinks in
// the parent directories of what it writes. Within one run into an empty directory, tar's own
// guards hold (it delays symlinks that point outside the tree until the end of the run).
// The merge also applies the whiteouts, so no `.wh.` file ever reaches a rootfs.

import Foundation
import Glibc   // lstat, unlink, rename, mkdir, lchown, chmod, utimensat, realpath: no symlink following
import JSON

/// One image unpacked from an archive: its names and its config.
struct UnpackedImage: Sendable, Equatable {
    /// The names the archive gives the image, exactly as found and without repeats: docker's
    /// RepoTags ("busybox:1.36", "docker.io/library/nginx:1.25"), or for an OCI layout the
    /// `org.opencontainers.image.ref.name` annotation (possibly a bare tag such as "1.36") and
    /// then the `io.containerd.image.name` annotation.
    var names: [String]
    /// The image's root filesystem, every layer applied in order.
    var rootfs: String
    /// From the image config's `config` object (OCI image spec / docker): Entrypoint, Cmd, Env,
    /// WorkingDir, User. Missing ones are nil or empty; an empty WorkingDir or User is nil.
    var entrypoint: [String]?
    var cmd: [String]?
    var env: [String]
    var workingDir: String?
    var user: String?
}

struct ImageArchiveError: Error, CustomStringConvertible, Sendable {
    var message: String
    var description: String { message }
}

extension ImageArchiveError {
    // In an extension, so the memberwise `init(message:)` stays available.
    init(_ message: String) { self.init(message: message) }
}

enum ImageArchive {
    /// Unpacks `archive` (a `docker save` tarball, or an OCI image-layout tarball, either possibly
    /// gzip-compressed as a whole) into `directory` (created; must not exist or be empty): for
    /// each image in it, `directory/<n>/rootfs` (n = 0, 1, …) with the layers applied in order.
    /// On failure `directory` is removed, so no half-unpacked image is ever left behind.
    static func unpack(archive: String, into directory: String) throws(ImageArchiveError) -> [UnpackedImage] {
        // Absolute paths: tar runs with -C, and the rootfs paths returned must not depend on the
        // current directory.
        let archive = FileSystem.absolute(archive)
        let directory = FileSystem.absolute(directory)
        switch FileSystem.kind(directory) {
        case .missing:
            try FileSystem.makeDirectory(directory, what: "image directory")
        case .directory:
            guard (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true else {
                throw ImageArchiveError("\(directory) is not empty: images are unpacked into a new or empty directory")
            }
        case .other:
            throw ImageArchiveError("\(directory) exists and is not a directory")
        }
        // From here on `directory` is ours, so a failure removes it whole.
        do throws(ImageArchiveError) {
            let unpacker = try Unpacker(archive: archive, directory: directory)
            let images = try unpacker.run()
            unpacker.cleanUp()
            return images
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// The entry picked from a multi-platform image (an image index or docker manifest list):
    /// linux on this node's architecture, else the index's first entry.
    #if arch(arm64)
    static let architecture = "arm64"
    #else
    static let architecture = "amd64"
    #endif
}

// MARK: - Archive formats

/// The work of one `unpack` call, into `directory`.
private struct Unpacker {
    /// One image as the archive describes it, by paths inside the archive.
    struct Source {
        var names: [String]
        var config: String
        var layers: [Layer]
    }

    struct Layer {
        var path: String
        /// Only OCI descriptors have one; docker's manifest.json does not.
        var mediaType: String?
    }

    let archive: String
    let directory: String
    /// The outer archive, extracted. Dot names cannot clash with the numbered image directories.
    let extracted: String
    /// One layer, extracted alone before it is merged into a rootfs.
    let scratch: String
    let tar: Tar

    init(archive: String, directory: String) throws(ImageArchiveError) {
        self.archive = archive
        self.directory = directory
        extracted = directory + "/.archive"
        scratch = directory + "/.layer"
        tar = try Tar(outputIn: directory)
    }

    func run() throws(ImageArchiveError) -> [UnpackedImage] {
        let what = "archive \(archive)"
        let compression = try Tar.compression(of: archive, mediaType: nil, what: what)
        _ = try tar.list(archive, compression, what: what)   // refuses absolute and ".." names
        try FileSystem.makeDirectory(extracted, what: what)
        try tar.extract(archive, compression, into: extracted, what: what)

        let sources: [Source]
        if FileSystem.kind(extracted + "/manifest.json") != .missing {
            // docker save. Docker 25+ also writes an OCI index.json, but manifest.json carries
            // the RepoTags users know the image by.
            sources = try dockerSources(readJSON("manifest.json", what: what))
        } else if FileSystem.kind(extracted + "/index.json") != .missing {
            sources = try ociSources(readJSON("index.json", what: what))
        } else {
            throw ImageArchiveError("\(what) is neither a docker save archive (no manifest.json) nor an OCI image layout (no index.json)")
        }
        guard !sources.isEmpty else { throw ImageArchiveError("\(what) holds no images") }

        var images: [UnpackedImage] = []
        for (number, source) in sources.enumerated() {
            images.append(try unpackImage(source, number: number))
        }
        return images
    }

    /// Removes the working files; the images stay.
    func cleanUp() {
        for path in [extracted, scratch, tar.outputPath, tar.errorPath] {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    // `manifest.json`: [{"Config": "<path>", "RepoTags": [...], "Layers": ["<path>", ...]}].
    func dockerSources(_ manifest: JSONValue) throws(ImageArchiveError) -> [Source] {
        guard let entries = manifest.arrayValue else { throw ImageArchiveError("manifest.json is not a JSON array") }
        var sources: [Source] = []
        for (index, entry) in entries.enumerated() {
            let what = "manifest.json entry \(index)"
            guard let config = entry["Config"]?.stringValue else { throw ImageArchiveError("\(what) has no Config") }
            guard let paths = entry["Layers"]?.arrayValue else { throw ImageArchiveError("\(what) has no Layers") }
            var layers: [Layer] = []
            for path in paths {
                guard let path = path.stringValue else { throw ImageArchiveError("\(what): a Layers item is not a string") }
                layers.append(Layer(path: path, mediaType: nil))
            }
            let names = entry["RepoTags"]?.arrayValue?.compactMap(\.stringValue) ?? []   // null when untagged
            sources.append(Source(names: unique(names), config: config, layers: layers))
        }
        return sources
    }

    // `index.json`: {"manifests": [descriptor, ...]}, each leading to an image manifest
    // {"config": descriptor, "layers": [descriptor, ...]}.
    func ociSources(_ index: JSONValue) throws(ImageArchiveError) -> [Source] {
        guard let descriptors = index["manifests"]?.arrayValue else {
            throw ImageArchiveError("index.json has no manifests array")
        }
        var sources: [Source] = []
        for (number, descriptor) in descriptors.enumerated() {
            let what = "index.json manifest \(number)"
            // A ref.name that is only a tag ("1.36") is kept as given: the layout does not say
            // which repository it belongs to.
            var names: [String] = []
            for key in ["org.opencontainers.image.ref.name", "io.containerd.image.name"] {
                if let name = descriptor[path: ["annotations", key]]?.stringValue { names.append(name) }
            }
            let manifest = try imageManifest(descriptor, what: what, depth: 0)
            guard let configDescriptor = manifest["config"] else {
                throw ImageArchiveError("\(what): the image manifest has no config")
            }
            let config = try blobPath(configDescriptor, what: "\(what) config")
            var layers: [Layer] = []
            for (layerNumber, layer) in (manifest["layers"]?.arrayValue ?? []).enumerated() {
                let path = try blobPath(layer, what: "\(what) layer \(layerNumber + 1)")
                layers.append(Layer(path: path, mediaType: layer["mediaType"]?.stringValue))
            }
            sources.append(Source(names: unique(names), config: config, layers: layers))
        }
        return sources
    }

    /// The image manifest `descriptor` leads to. A multi-platform image leads first to an image
    /// index (or docker manifest list): recognised by its `manifests` array, whatever media type
    /// the descriptor claims, and followed to the entry for this node's platform.
    func imageManifest(_ descriptor: JSONValue, what: String, depth: Int) throws(ImageArchiveError) -> JSONValue {
        let path = try blobPath(descriptor, what: what)
        let manifest = try readJSON(path, what: what)
        guard let entries = manifest["manifests"]?.arrayValue else { return manifest }
        guard depth < 4 else { throw ImageArchiveError("\(what): image indexes nested more than 4 deep at \(path)") }
        let native = entries.first(where: { entry in
            entry[path: ["platform", "os"]]?.stringValue == "linux"
                && entry[path: ["platform", "architecture"]]?.stringValue == ImageArchive.architecture
        })
        guard let chosen = native ?? entries.first else {
            throw ImageArchiveError("\(what): image index \(path) lists no manifests")
        }
        return try imageManifest(chosen, what: "\(what) (via \(path))", depth: depth + 1)
    }

    /// `blobs/<algorithm>/<encoded>` for a descriptor's digest. Checked against the OCI digest
    /// grammar, which also keeps "/" and ".." out of the path.
    func blobPath(_ descriptor: JSONValue, what: String) throws(ImageArchiveError) -> String {
        guard let digest = descriptor["digest"]?.stringValue, let colon = digest.firstIndex(of: ":") else {
            throw ImageArchiveError("\(what): the descriptor has no digest")
        }
        let algorithm = digest[..<colon]
        let encoded = digest[digest.index(after: colon)...]
        func valid(_ part: Substring, punctuation: String) -> Bool {
            guard let first = part.first, first.isASCII, first.isLetter || first.isNumber else { return false }
            return part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || punctuation.contains($0)) }
        }
        guard valid(algorithm, punctuation: "+._-"), valid(encoded, punctuation: "=_-") else {
            throw ImageArchiveError("\(what): malformed digest \"\(digest)\"")
        }
        return "blobs/\(algorithm)/\(encoded)"
    }

    func unpackImage(_ source: Source, number: Int) throws(ImageArchiveError) -> UnpackedImage {
        let what = "image \(number)"
        // The config first: a broken one fails before any layer is extracted.
        let config = try readJSON(source.config, what: "\(what) config")
        guard config.objectValue != nil else {
            throw ImageArchiveError("\(what) config: \(source.config) is not a JSON object")
        }
        let rootfs = directory + "/\(number)/rootfs"
        try FileSystem.makeDirectory(rootfs, what: what)
        for (index, layer) in source.layers.enumerated() {
            let layerWhat = "\(what) layer \(index + 1) of \(source.layers.count) (\(layer.path))"
            try applyLayer(layer, to: rootfs, what: layerWhat)
        }

        // The runtime settings are in the config's `config` object, which the OCI spec makes optional.
        let settings = config["config"]
        func strings(_ key: String) -> [String]? { settings?[key]?.arrayValue?.compactMap(\.stringValue) }
        func text(_ key: String) -> String? {
            guard let value = settings?[key]?.stringValue, !value.isEmpty else { return nil }
            return value
        }
        return UnpackedImage(names: source.names, rootfs: rootfs,
                             entrypoint: strings("Entrypoint"), cmd: strings("Cmd"), env: strings("Env") ?? [],
                             workingDir: text("WorkingDir"), user: text("User"))
    }

    func applyLayer(_ layer: Layer, to rootfs: String, what: String) throws(ImageArchiveError) {
        let path = try file(layer.path, what: what)
        let compression = try Tar.compression(of: path, mediaType: layer.mediaType, what: what)
        let entries = try tar.list(path, compression, what: what)
        try? FileManager.default.removeItem(atPath: scratch)
        try FileSystem.makeDirectory(scratch, what: what)
        try tar.extract(path, compression, into: scratch, what: what)
        try LayerMerge(rootfs: rootfs, entries: entries, what: what).merge(scratch, into: rootfs, relative: "")
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// The path of `name` in the extracted archive. Names come from the archive's own JSON, so
    /// they are checked like tar entries; and as old docker save links shared layers with
    /// symlinks, what `name` resolves to must still be inside the archive.
    func file(_ name: String, what: String) throws(ImageArchiveError) -> String {
        let relative = try Tar.relativePath(name, what: what)
        guard let root = FileSystem.realPath(extracted),
              let path = FileSystem.realPath(extracted + "/" + relative) else {
            throw ImageArchiveError("\(what): \(name) is not in the archive")
        }
        guard path.hasPrefix(root + "/") else { throw ImageArchiveError("\(what): \(name) leads outside the archive") }
        return path
    }

    /// Parses the archive's JSON file `name`.
    func readJSON(_ name: String, what: String) throws(ImageArchiveError) -> JSONValue {
        let path = try file(name, what: what)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ImageArchiveError("\(what): cannot read \(name)")
        }
        do {
            return try JSONValue.parse(data)
        } catch {
            throw ImageArchiveError("\(what): \(name) is not valid JSON: \(error)")
        }
    }
}

/// `names` without repeats, first occurrences kept.
private func unique(_ names: [String]) -> [String] {
    var seen = Set<String>()
    return names.filter { seen.insert($0).inserted }
}

// MARK: - tar

/// GNU tar, run as a child process. Its stdout and stderr go to files in the image directory
/// rather than pipes: a long listing can then never fill a pipe and block tar, and no second
/// thread is needed to drain stderr.
private struct Tar {
    enum Compression { case none, gzip }

    let executable: String
    let outputPath: String
    let errorPath: String

    init(outputIn directory: String) throws(ImageArchiveError) {
        let candidates = ["/usr/bin/tar", "/bin/tar"]
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw ImageArchiveError("tar not found (looked for \(candidates.joined(separator: " and ")))")
        }
        self.executable = executable
        outputPath = directory + "/.tar-stdout"
        errorPath = directory + "/.tar-stderr"
    }

    /// What `path` is compressed with, judged by its first bytes: they are what tar will see,
    /// docker labels uncompressed layers with gzip media types, and manifest.json gives no media
    /// type at all. zstd (by media type or magic) is refused rather than depending on a zstd
    /// binary on the node.
    static func compression(of path: String, mediaType: String?, what: String) throws(ImageArchiveError) -> Compression {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ImageArchiveError("\(what): cannot open \(path)")
        }
        let magic = [UInt8]((try? handle.read(upToCount: 4)) ?? Data())
        try? handle.close()
        if magic.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) || mediaType?.contains("zstd") == true {
            let how = mediaType.map { "media type \($0)" } ?? "zstd magic bytes"
            throw ImageArchiveError("\(what) is zstd-compressed (\(how)), which is not supported: use gzip or uncompressed layers")
        }
        return magic.starts(with: [0x1F, 0x8B]) ? .gzip : .none
    }

    /// Lists `archive` and checks every entry; returns the entries relative to the root.
    func list(_ archive: String, _ compression: Compression, what: String) throws(ImageArchiveError) -> Set<String> {
        // -P prints names as stored: without it tar strips a leading "/" before we can refuse it.
        // Names are escaped (C locale: every non-ASCII byte as \ooo), so a newline in a name
        // cannot split it in two.
        var arguments = ["-t", "-P", "--quoting-style=escape", "-f", archive]
        if compression == .gzip { arguments.append("-z") }
        var entries = Set<String>()
        for line in try run(arguments, what: what).split(separator: UInt8(ascii: "\n")) {
            entries.insert(try Self.relativePath(Self.unescape(line), what: what))
        }
        return entries
    }

    /// Extracts `archive` into `directory`. Running as root, tar keeps owners and modes by
    /// default (no --no-same-owner); --numeric-owner keeps the image's ids rather than mapping
    /// names through the node's /etc/passwd. File capabilities (ping's cap_net_raw) are the one
    /// extended attribute kept: others (SELinux labels) mean nothing on this node.
    func extract(_ archive: String, _ compression: Compression, into directory: String, what: String) throws(ImageArchiveError) {
        var arguments = ["-x", "-f", archive, "-C", directory, "--numeric-owner",
                         "--xattrs", "--xattrs-include=security.capability"]
        if compression == .gzip { arguments.append("-z") }
        _ = try run(arguments, what: what)
    }

    /// Runs tar; returns its stdout, or throws with its stderr.
    func run(_ arguments: [String], what: String) throws(ImageArchiveError) -> [UInt8] {
        let files = FileManager.default
        guard files.createFile(atPath: outputPath, contents: nil), files.createFile(atPath: errorPath, contents: nil),
              let output = FileHandle(forWritingAtPath: outputPath), let errors = FileHandle(forWritingAtPath: errorPath)
        else {
            throw ImageArchiveError("\(what): cannot create \(outputPath) for tar's output")
        }
        defer {
            try? output.close()
            try? errors.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"   // the escaping `list` undoes, and messages in English
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            throw ImageArchiveError("\(what): cannot run \(executable): \(error)")
        }
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let message = files.contents(atPath: errorPath).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let command = ([executable] + arguments).joined(separator: " ")
            throw ImageArchiveError("\(what): `\(command)` failed (status \(process.terminationStatus)): "
                                    + message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return files.contents(atPath: outputPath).map { [UInt8]($0) } ?? []
    }

    /// `name` relative to the root, with empty and "." components dropped ("./etc/" is "etc").
    /// An absolute name, or one with a ".." component, is refused: GNU tar would skip such an
    /// entry with a warning, but an image that has one is broken or hostile.
    static func relativePath(_ name: String, what: String) throws(ImageArchiveError) -> String {
        if name.hasPrefix("/") {
            throw ImageArchiveError("\(what): entry \"\(name)\" has an absolute path")
        }
        let components = name.split(separator: "/").filter { $0 != "." }
        if components.contains("..") {
            throw ImageArchiveError("\(what): entry \"\(name)\" escapes the root through \"..\"")
        }
        return components.joined(separator: "/")
    }

    /// Undoes tar's `escape` quoting: `\\`, `\n`, `\t` and the other C escapes, and `\ooo` for
    /// any other byte. Names then compare equal to the names on disk.
    static func unescape(_ line: some Collection<UInt8>) -> String {
        let bytes = Array(line)
        var result: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < bytes.count else {
                result.append(byte)
                continue
            }
            let octal = bytes[index..<min(index + 3, bytes.count)]
            if octal.count == 3, octal.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                var value: UInt8 = 0
                for digit in octal { value = value &* 8 &+ (digit &- UInt8(ascii: "0")) }
                result.append(value)
                index += 3
                continue
            }
            switch bytes[index] {
            case UInt8(ascii: "a"): result.append(0x07)
            case UInt8(ascii: "b"): result.append(0x08)
            case UInt8(ascii: "f"): result.append(0x0C)
            case UInt8(ascii: "n"): result.append(0x0A)
            case UInt8(ascii: "r"): result.append(0x0D)
            case UInt8(ascii: "t"): result.append(0x09)
            case UInt8(ascii: "v"): result.append(0x0B)
            default: result.append(bytes[index])   // `\\`, and anything else, stands for itself
            }
            index += 1
        }
        return String(decoding: result, as: UTF8.self)
    }
}

// MARK: - Layers

/// Moves one layer, extracted alone into a scratch directory, into a rootfs, applying its
/// whiteouts (OCI image spec, "Whiteouts"). Everything is done by lstat, unlink and rename on
/// paths whose directories were checked to be real directories, so no symlink is ever
/// followed out of the rootfs.
private struct LayerMerge {
    static let whiteoutPrefix = ".wh."
    /// `DIR/.wh..wh..opq`: what lower layers put in DIR is gone.
    static let opaque = ".wh..wh..opq"

    let rootfs: String
    /// Every entry the layer's tar lists, relative to its root. Only a listed directory gives
    /// its owner, mode and times to the rootfs: tar creates unlisted parents with defaults,
    /// which must not overwrite what lower layers set.
    let entries: Set<String>
    let what: String

    /// Merges the layer's directory `source` (at `relative` in the layer) into `target`.
    func merge(_ source: String, into target: String, relative: String) throws(ImageArchiveError) {
        let names = try FileSystem.contents(of: source, what: what)

        // Whiteouts first: they remove what lower layers left, never this layer's own entries.
        if names.contains(Self.opaque) {
            for name in try FileSystem.contents(of: target, what: what) {
                try FileSystem.delete(target + "/" + name, what: what)
            }
        }
        // Other `.wh..wh.*` names are reserved (aufs bookkeeping) and only dropped.
        for name in names where name.hasPrefix(Self.whiteoutPrefix) && !name.hasPrefix(".wh..wh.") {
            let hidden = String(name.dropFirst(Self.whiteoutPrefix.count))
            guard !hidden.isEmpty, hidden != ".", hidden != ".." else {
                throw ImageArchiveError("\(what): invalid whiteout \"\(relative.isEmpty ? name : relative + "/" + name)\"")
            }
            try FileSystem.delete(target + "/" + hidden, what: what)   // the link itself if it is one
        }

        for name in names where !name.hasPrefix(Self.whiteoutPrefix) {
            let from = source + "/" + name
            let path = relative.isEmpty ? name : relative + "/" + name
            var to = target + "/" + name
            guard FileSystem.kind(from) == .directory else {
                // A file, symlink or device replaces whatever the lower layers had there. The
                // rename moves a symlink as a symlink, and keeps this layer's hard links linked.
                try FileSystem.delete(to, what: what)
                try FileSystem.move(from, to: to, what: what)
                continue
            }
            let listed = entries.contains(path)
            var created = false
            switch FileSystem.kind(to) {
            case .directory:
                break
            case .other where !listed:
                // Only a parent of this layer's entries, and a symlink in lower layers (merged
                // /usr: `lib -> usr/lib`): the entries go where the link leads, as the container
                // will see it, if that is a directory inside the rootfs.
                if let resolved = FileSystem.resolve(path, in: rootfs), FileSystem.kind(resolved) == .directory {
                    to = resolved
                } else {
                    try replaceWithDirectory(to)
                    created = true
                }
            case .other, .missing:
                // A listed directory replaces a lower file or symlink, as in docker and containerd.
                try replaceWithDirectory(to)
                created = true
            }
            try merge(from, into: to, relative: path)
            // After the children, as moving them in changed the directory's times.
            if created || listed { try FileSystem.copyMetadata(from: from, to: to, what: what) }
        }
    }

    private func replaceWithDirectory(_ path: String) throws(ImageArchiveError) {
        try FileSystem.delete(path, what: what)
        guard mkdir(path, 0o755) == 0 else { throw FileSystem.failure("create directory", path, what) }
    }
}

// MARK: - File system

private enum FileSystem {
    enum Kind { case missing, directory, other }

    /// What is at `path` itself (lstat): a symlink is `.other`, even one to a directory.
    static func kind(_ path: String) -> Kind {
        var status = stat()
        guard lstat(path, &status) == 0 else { return .missing }
        return status.st_mode & 0o170000 == 0o040000 ? .directory : .other
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// `path` with every symlink resolved, nil if it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Where `relative` leads inside `root` with symlinks resolved as if `root` were "/", as the
    /// container will see it: an absolute target starts again at `root`, ".." stops at `root`.
    /// Every component of the result but the last is a real directory. nil on a symlink loop.
    static func resolve(_ relative: String, in root: String) -> String? {
        var pending = relative.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let path = root + "/" + (resolved + [component]).joined(separator: "/")
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) else {
                resolved.append(component)
                continue
            }
            links += 1
            guard links <= 40 else { return nil }   // Linux's own limit
            if target.hasPrefix("/") { resolved = [] }
            pending = target.split(separator: "/").map(String.init) + pending
        }
        return resolved.isEmpty ? root : root + "/" + resolved.joined(separator: "/")
    }

    static func makeDirectory(_ path: String, what: String) throws(ImageArchiveError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ImageArchiveError("\(what): cannot create directory \(path): \(error)")
        }
    }

    static func contents(of directory: String, what: String) throws(ImageArchiveError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ImageArchiveError("\(what): cannot list \(directory): \(error)")
        }
    }

    /// Removes `path` itself if it exists: a symlink is unlinked, not followed; a directory goes
    /// with its contents (FileManager walks it without following symlinks).
    static func delete(_ path: String, what: String) throws(ImageArchiveError) {
        switch kind(path) {
        case .missing:
            return
        case .other:
            guard unlink(path) == 0 else { throw failure("remove", path, what) }
        case .directory:
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                throw ImageArchiveError("\(what): cannot remove \(path): \(error)")
            }
        }
    }

    static func move(_ source: String, to destination: String, what: String) throws(ImageArchiveError) {
        guard rename(source, destination) == 0 else { throw failure("move \(source) to", destination, what) }
    }

    /// Gives the directory `destination` the owner, mode and times of the directory `source`.
    static func copyMetadata(from source: String, to destination: String, what: String) throws(ImageArchiveError) {
        var wanted = stat()
        var current = stat()
        guard lstat(source, &wanted) == 0, lstat(destination, &current) == 0 else {
            throw failure("stat", destination, what)
        }
        // chown only on a difference, so an unprivileged run (tests) needs no privilege; and
        // before chmod, as chown may clear set-id bits.
        if wanted.st_uid != current.st_uid || wanted.st_gid != current.st_gid {
            guard lchown(destination, wanted.st_uid, wanted.st_gid) == 0 else { throw failure("chown", destination, what) }
        }
        guard chmod(destination, wanted.st_mode & 0o7777) == 0 else { throw failure("chmod", destination, what) }
        let times = [wanted.st_atim, wanted.st_mtim]
        guard utimensat(AT_FDCWD, destination, times, 0) == 0 else { throw failure("set the times of", destination, what) }
    }

    /// An error for a failed system call, from errno.
    static func failure(_ action: String, _ path: String, _ what: String) -> ImageArchiveError {
        let reason = String(cString: strerror(errno))   // first, before anything can change errno
        return ImageArchiveError("\(what): cannot \(action) \(path): \(reason)")
    }
}
