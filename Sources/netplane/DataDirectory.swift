import Foundation

/// The API server's data directory kept to its owner: the directory and every directory in it
/// 0700, every file 0600 (symbolic links are left alone: their modes mean nothing).
enum DataDirectory {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    static func secure(_ path: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try restrict(path, directory: true)
        guard let walker = fm.enumerator(atPath: path) else { throw Problem(description: "\(path): cannot be read") }
        while let relative = walker.nextObject() as? String {
            let full = path + "/" + relative
            let type = walker.fileAttributes?[.type] as? FileAttributeType
            switch type {
            case .typeDirectory?: try restrict(full, directory: true)
            case .typeRegular?: try restrict(full, directory: false)
            default: continue
            }
        }
    }

    static func restrict(_ path: String, directory: Bool) throws {
        let mode: mode_t = directory ? 0o700 : 0o600
        var info = stat()
        guard lstat(path, &info) == 0 else { throw Problem(description: "\(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & 0o7777 != mode else { return }
        guard chmod(path, mode) == 0 else { throw Problem(description: "chmod \(String(mode, radix: 8)) \(path): \(String(cString: strerror(errno)))") }
    }
}
