import Foundation
import Testing
@testable import NodeAgent

/// ImageArchive against archives built on the spot with the real `tar`: small files, no network.
@Suite struct ImageArchiveTests {
    @Test func dockerSaveAppliesLayersWhiteoutsAndConfig() throws {
        try withTemporaryDirectory { dir in
            let lower = dir + "/lower", upper = dir + "/upper", outer = dir + "/outer"
            try writeText("hello", to: lower + "/etc/hello")
            try writeText("doomed", to: lower + "/etc/gone")
            try writeText("old", to: lower + "/data/old")
            try writeText("deep", to: lower + "/data/sub/deep")
            try FileManager.default.createSymbolicLink(atPath: lower + "/etc/link", withDestinationPath: "hello")
            try writeText("", to: upper + "/etc/.wh.gone")         // deletes etc/gone
            try writeText("", to: upper + "/data/.wh..wh..opq")    // empties data/ of the lower layer's files
            try writeText("new", to: upper + "/data/new")          // but keeps this layer's own
            try writeText("added", to: upper + "/etc/added")
            // The old docker save layout: <id>/layer.tar, and the config beside manifest.json.
            try FileManager.default.createDirectory(atPath: outer + "/1111", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: outer + "/2222", withIntermediateDirectories: true)
            try shell("tar", "-cf", outer + "/1111/layer.tar", "-C", lower, ".")
            try shell("tar", "-cf", outer + "/2222/layer.tar", "-C", upper, ".")
            try writeText("""
                {"architecture": "amd64", "os": "linux",
                 "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "Env": ["PATH=/bin", "MODE=test"],
                            "WorkingDir": "/srv"}}
                """, to: outer + "/abcd.json")
            try writeText("""
                [{"Config": "abcd.json", "RepoTags": ["example/app:1"], "Layers": ["1111/layer.tar", "2222/layer.tar"]}]
                """, to: outer + "/manifest.json")
            try shell("tar", "-cf", dir + "/image.tar", "-C", outer, ".")

            let target = dir + "/store"
            let images = try ImageArchive.unpack(archive: dir + "/image.tar", into: target)

            let rootfs = target + "/0/rootfs"
            #expect(images == [UnpackedImage(names: ["example/app:1"], rootfs: rootfs,
                                             entrypoint: ["/bin/app"], cmd: ["--serve"], env: ["PATH=/bin", "MODE=test"],
                                             workingDir: "/srv", user: nil)])
            #expect(try readText(rootfs + "/etc/hello") == "hello")
            #expect(try readText(rootfs + "/etc/added") == "added")
            #expect(try readText(rootfs + "/data/new") == "new")
            #expect(!exists(rootfs + "/etc/gone"))
            #expect(!exists(rootfs + "/data/old"))
            #expect(!exists(rootfs + "/data/sub"))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: rootfs + "/etc/link") == "hello")
            let all = try FileManager.default.subpathsOfDirectory(atPath: rootfs)
            #expect(!all.contains(where: { $0.split(separator: "/").last?.hasPrefix(".wh.") == true }))
            // The extracted archive and tar's output files are gone.
            #expect(try FileManager.default.contentsOfDirectory(atPath: target) == ["0"])
        }
    }

    @Test func ociLayoutFollowsIndexToGzipLayer() throws {
        try withTemporaryDirectory { dir in
            let layout = dir + "/layout", blobs = layout + "/blobs/sha256"
            try writeText("from oci", to: dir + "/layer/hello.txt")
            try shell("tar", "-czf", dir + "/layer.tar.gz", "-C", dir + "/layer", ".")
            let layer = try addBlob(file: dir + "/layer.tar.gz", to: blobs)
            let config = try addBlob(text: """
                {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"], "User": "1000:1000"}}
                """, to: blobs, scratch: dir)
            let manifest = try addBlob(text: """
                {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "config": {"mediaType": "application/vnd.oci.image.config.v1+json", \(config.descriptor)},
                 "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", \(layer.descriptor)}]}
                """, to: blobs, scratch: dir)
            // Another platform's manifest, whose layer is missing: picking it fails the test.
            let missing = String(repeating: "0", count: 64)
            let other = try addBlob(text: """
                {"schemaVersion": 2, "config": {\(config.descriptor)},
                 "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:\(missing)", "size": 1}]}
                """, to: blobs, scratch: dir)
            let index = try addBlob(text: """
                {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
                  {"mediaType": "application/vnd.oci.image.manifest.v1+json", \(other.descriptor),
                   "platform": {"os": "linux", "architecture": "s390x"}},
                  {"mediaType": "application/vnd.oci.image.manifest.v1+json", \(manifest.descriptor),
                   "platform": {"os": "linux", "architecture": "amd64"}},
                  {"mediaType": "application/vnd.oci.image.manifest.v1+json", \(manifest.descriptor),
                   "platform": {"os": "linux", "architecture": "arm64"}}]}
                """, to: blobs, scratch: dir)
            try writeText(#"{"imageLayoutVersion": "1.0.0"}"#, to: layout + "/oci-layout")
            try writeText("""
                {"schemaVersion": 2, "manifests": [
                  {"mediaType": "application/vnd.oci.image.index.v1+json", \(index.descriptor),
                   "annotations": {"org.opencontainers.image.ref.name": "1.36"}}]}
                """, to: layout + "/index.json")
            // The whole archive gzip-compressed too.
            try shell("tar", "-czf", dir + "/image.tar.gz", "-C", layout, ".")

            let target = dir + "/store"
            let images = try ImageArchive.unpack(archive: dir + "/image.tar.gz", into: target)

            #expect(images == [UnpackedImage(names: ["1.36"], rootfs: target + "/0/rootfs",
                                             entrypoint: nil, cmd: ["sh"], env: [], workingDir: nil, user: "1000:1000")])
            #expect(try readText(target + "/0/rootfs/hello.txt") == "from oci")
        }
    }

    @Test func entryEscapingTheRootIsRefused() throws {
        try withTemporaryDirectory { dir in
            let outer = dir + "/outer"
            try writeText("evil", to: dir + "/escape")
            try FileManager.default.createDirectory(atPath: dir + "/inner", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: outer, withIntermediateDirectories: true)
            // -P stores "../escape" as given; GNU tar would strip the "../" otherwise.
            try shell("tar", "-cPf", outer + "/layer.tar", "-C", dir + "/inner", "../escape")
            try writeText(#"{"config": {}}"#, to: outer + "/config.json")
            try writeText(#"[{"Config": "config.json", "RepoTags": ["evil:1"], "Layers": ["layer.tar"]}]"#,
                      to: outer + "/manifest.json")
            try shell("tar", "-cf", dir + "/image.tar", "-C", outer, ".")

            let target = dir + "/store"
            let error = #expect(throws: ImageArchiveError.self) {
                try ImageArchive.unpack(archive: dir + "/image.tar", into: target)
            }
            #expect(error?.message.contains("../escape") == true)
            #expect(error?.message.contains("layer.tar") == true)
            #expect(!exists(target))
        }
    }

    /// A lower layer's symlink must not carry a later layer's files out of the rootfs, while a
    /// symlink inside it (merged /usr) is followed as the container would see it.
    @Test func symlinksOfLowerLayersStayInsideTheRootfs() throws {
        try withTemporaryDirectory { dir in
            let lower = dir + "/lower", upper = dir + "/upper", outer = dir + "/outer", host = dir + "/host"
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: lower + "/usr/lib", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: lower + "/lib", withDestinationPath: "usr/lib")
            try FileManager.default.createSymbolicLink(atPath: lower + "/etc", withDestinationPath: host)
            try writeText("library", to: upper + "/lib/libx.so")
            try writeText("root::0:0", to: upper + "/etc/passwd")
            try FileManager.default.createDirectory(atPath: outer, withIntermediateDirectories: true)
            try shell("tar", "-cf", outer + "/lower.tar", "-C", lower, ".")
            // Files only, no directory entries: a plain tar run would write through both links.
            try shell("tar", "--no-recursion", "-cf", outer + "/upper.tar", "-C", upper, "lib/libx.so", "etc/passwd")
            try writeText(#"{"config": {}}"#, to: outer + "/config.json")
            try writeText(#"[{"Config": "config.json", "RepoTags": null, "Layers": ["lower.tar", "upper.tar"]}]"#,
                      to: outer + "/manifest.json")
            try shell("tar", "-cf", dir + "/image.tar", "-C", outer, ".")

            let images = try ImageArchive.unpack(archive: dir + "/image.tar", into: dir + "/store")

            let rootfs = dir + "/store/0/rootfs"
            #expect(images.map(\.names) == [[]])
            #expect(try FileManager.default.contentsOfDirectory(atPath: host).isEmpty)
            #expect(try readText(rootfs + "/etc/passwd") == "root::0:0")
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: rootfs + "/lib") == "usr/lib")
            #expect(try readText(rootfs + "/usr/lib/libx.so") == "library")
        }
    }

    @Test func zstdLayerIsRefused() throws {
        try withTemporaryDirectory { dir in
            let outer = dir + "/outer"
            try FileManager.default.createDirectory(atPath: outer, withIntermediateDirectories: true)
            try Data([0x28, 0xB5, 0x2F, 0xFD, 0, 0, 0, 0]).write(to: URL(fileURLWithPath: outer + "/layer.tar.zst"))
            try writeText(#"{"config": {}}"#, to: outer + "/config.json")
            try writeText(#"[{"Config": "config.json", "RepoTags": ["z:1"], "Layers": ["layer.tar.zst"]}]"#,
                      to: outer + "/manifest.json")
            try shell("tar", "-cf", dir + "/image.tar", "-C", outer, ".")

            let target = dir + "/store"
            let error = #expect(throws: ImageArchiveError.self) {
                try ImageArchive.unpack(archive: dir + "/image.tar", into: target)
            }
            #expect(error?.message.contains("zstd") == true)
            #expect(!exists(target))
        }
    }
}

// MARK: - Helpers

private struct ShellFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs a command found on PATH; throws unless it exits 0.
private func shell(_ arguments: String...) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ShellFailure(description: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
    }
}

/// Runs `body` with a new temporary directory, removed afterwards.
private func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("image-archive-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try body(dir)
}

/// Writes `text` to `path`, creating its directory.
private func writeText(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
}

private func readText(_ path: String) throws -> String {
    String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
}

private func exists(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path)
}

/// A blob stored in an OCI layout under its sha256.
private struct Blob {
    var digest: String
    var size: Int
    /// The `"digest": …, "size": …` members of a descriptor for it.
    var descriptor: String { #""digest": "\#(digest)", "size": \#(size)"# }
}

private func addBlob(file: String, to blobs: String) throws -> Blob {
    let data = try Data(contentsOf: URL(fileURLWithPath: file))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sha256sum", file]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let hex = String(printed.prefix(64))
    try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
    try data.write(to: URL(fileURLWithPath: blobs + "/" + hex))
    return Blob(digest: "sha256:" + hex, size: data.count)
}

private func addBlob(text: String, to blobs: String, scratch: String) throws -> Blob {
    let file = scratch + "/blob-\(UUID().uuidString)"
    try writeText(text, to: file)
    defer { try? FileManager.default.removeItem(atPath: file) }
    return try addBlob(file: file, to: blobs)
}
