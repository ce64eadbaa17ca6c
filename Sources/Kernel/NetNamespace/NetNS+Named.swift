internal import CNetNS
import Glibc

extension NetNS {
    /// Creates a named namespace the way `ip netns add NAME` does, without running `ip`.
    ///
    /// `/run/netns` is made a shared mount point (bind-mounted on itself if needed) so the
    /// namespace's bind mount propagates to other mount namespaces and an unmount anywhere
    /// frees it everywhere. A fresh thread then `unshare`s a new network namespace and
    /// bind-mounts its own `ns/net` onto `/run/netns/NAME`; the thread switches back and exits,
    /// so the caller never enters the new namespace. Fails with `.exists` if the name is taken.
    @discardableResult
    public static func create(name: String) throws(NamespaceError) -> NetNS {
        let operation = "create network namespace \(name)"
        let path = try path(forName: name, operation)
        try prepareRunDirectory(operation)

        let placeholder = try systemCall("open", operation) {
            Glibc.open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0)
        }
        close(placeholder)

        var failure: NamespaceError?
        try onDedicatedThread(operation) {
            do throws(NamespaceError) {
                let home = try systemCall("open", "\(operation): open this thread's network namespace") {
                    Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                }
                defer { close(home) }
                try systemCall("unshare", operation) { netplane_unshare_net() }
                defer { _ = netplane_setns_net(home) }
                try systemCall("mount", "bind-mount the new namespace on \(path)") {
                    mount("/proc/thread-self/ns/net", path, "none", UInt(MS_BIND), nil)
                }
            } catch {
                failure = error
            }
        }
        if let failure {
            unlink(path)
            throw failure
        }
        return try open(path: path)
    }

    /// Removes a named namespace like `ip netns delete NAME`: detaches the bind mount and
    /// removes the file. The namespace itself lives on while any process or handle uses it.
    public static func delete(name: String) throws(NamespaceError) {
        let operation = "delete network namespace \(name)"
        let path = try path(forName: name, operation)
        // EINVAL: not a mount point (a stale file left by a failed create); still unlink it.
        if umount2(path, Int32(MNT_DETACH)) != 0, errno != EINVAL {
            throw .system(errno, operation, call: "umount2")
        }
        try systemCall("unlink", operation) { unlink(path) }
    }

    /// The names under `/run/netns`, sorted (empty when the directory does not exist).
    public static func names() -> [String] {
        guard let dir = opendir(runDirectory) else { return [] }
        defer { closedir(dir) }
        var result: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { result.append(name) }
        }
        return result.sorted()
    }

    /// Makes `/run/netns` exist and be a shared mount point, as iproute2 does.
    private static func prepareRunDirectory(_ operation: String) throws(NamespaceError) {
        if mkdir(runDirectory, 0o755) != 0, errno != EEXIST {
            throw .system(errno, "\(operation): mkdir \(runDirectory)", call: "mkdir")
        }
        var madeMountPoint = false
        while mount("", runDirectory, "none", UInt(MS_SHARED | MS_REC), nil) != 0 {
            // EINVAL: not a mount point yet. Make it one by bind-mounting it on itself, once.
            guard errno == EINVAL, !madeMountPoint else {
                throw .system(errno, "\(operation): make \(runDirectory) a shared mount", call: "mount")
            }
            try systemCall("mount", "\(operation): bind-mount \(runDirectory)") {
                mount(runDirectory, runDirectory, "none", UInt(MS_BIND | MS_REC), nil)
            }
            madeMountPoint = true
        }
    }
}
