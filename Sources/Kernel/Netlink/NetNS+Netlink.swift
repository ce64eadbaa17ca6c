/// `NetNS` lives in the NetNamespace module, shared with NFTables and IPSet; re-exporting it
/// keeps `import Netlink` enough for code that opens handles in other namespaces.
@_exported public import NetNamespace

extension NetNS {
    /// `NetNS.run` for bodies whose only error is a `NetlinkError`, keeping the error typed:
    /// failures to enter the namespace come back as `NetlinkError`s too.
    func runTyped<T>(_ body: () throws(NetlinkError) -> T) throws(NetlinkError) -> T {
        try run(body, mapError: NetlinkError.init(namespace:))
    }
}

extension NetlinkError {
    /// A namespace failure (opening or entering one) in Netlink's terms: same operation,
    /// errno and reason, with the code derived from the errno as for any system error.
    init(namespace error: NamespaceError) {
        self.init(code: .from(errno: error.errno), operation: error.operation, errno: error.errno,
                  reason: error.reason)
    }
}
