import Glibc
import IPAM
import NetAddress

func ip(_ s: String) -> IPAddress { IPAddress(s)! }
func prefix(_ s: String) -> IPPrefix { try! IPPrefix(s) }

func config(_ sets: [[IPRange]], requested: [IPAddress] = [], dataDir: String? = nil) throws -> HostLocalConfig {
    try HostLocalConfig(name: "testnet", rangeSets: sets, dataDir: dataDir, requestedIPs: requested)
}

/// A fresh directory under /tmp, removed (with its network directories) by `remove()`.
struct TempDir {
    let path: String
    init() {
        var template = Array("/tmp/ipam-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(p != nil, "mkdtemp failed")
        path = String(cString: p!)
    }
    func remove() { removeTree(path) }
}

func removeTree(_ path: String) {
    if let dir = opendir(path) {
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." { continue }
            let child = path + "/" + name
            if unlink(child) != 0 { removeTree(child) }
        }
        closedir(dir)
    }
    rmdir(path)
}

func readText(_ path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    while true {
        let c = fgetc(f)
        if c == EOF { break }
        out.append(UInt8(c))
    }
    return String(decoding: out, as: UTF8.self)
}

func writeText(_ path: String, _ text: String) {
    let f = fopen(path, "wb")!
    _ = text.utf8CString.withUnsafeBufferPointer { fputs($0.baseAddress!, f) }
    fclose(f)
}

func listDir(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var out: [String] = []
    while let e = readdir(dir) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { out.append(name) }
    }
    return out.sorted()
}

/// Runs each body on its own pthread, all started before any is joined.
func onThreads(_ bodies: [@Sendable () -> Void]) {
    final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    var threads: [pthread_t] = []
    for body in bodies {
        var t = pthread_t()
        let arg = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&t, nil, { p in
            Unmanaged<Box>.fromOpaque(p!).takeRetainedValue().body()
            return nil
        }, arg)
        precondition(rc == 0, "pthread_create failed")
        threads.append(t)
    }
    for t in threads { pthread_join(t, nil) }
}
