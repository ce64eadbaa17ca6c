internal import CIPSet
internal import CNetplaneShim
import Glibc
/// `NetNS` (from NetNamespace, shared with Netlink and NFTables) is part of this module's API:
/// re-exported so `import IPSet` is enough to open a handle in another namespace.
@_exported public import NetNamespace
import Synchronization

/// Serialises every call into libipset, from every handle.
///
/// libipset keeps process-wide mutable state: the registry of set types (loaded once, then
/// annotated with what the kernel supports), a cache from set name to set type, and a static
/// `jmp_buf` used while printing listings. None of it is locked.
private let libipset = Mutex<Void>(())

/// A libipset session (`struct ipset *` from `ipset_init()`) bound to one network namespace.
///
/// Every method is a synchronous netlink exchange with the kernel. Sets are per network
/// namespace: a handle opened with `init(namespace:)` or `init(namespacePath:)` sees and
/// changes only that namespace's sets, whichever thread calls it.
///
/// Thread safety: all access to the session happens under a process-wide lock (libipset's
/// global state needs one anyway), so a handle may be shared between threads and tasks.
public final class IPSetHandle: @unchecked Sendable {
    /// `struct ipset *`; its session's netlink socket was opened in the handle's namespace.
    /// Replaced (under the lock) when libipset loses track of the kernel's replies.
    private var ipset: OpaquePointer
    /// Where libipset's print/error callbacks put their text (see CNetplaneShim).
    private let capture: UnsafeMutablePointer<netplane_ipset_capture>
    /// The handle's network namespace, to open a fresh session there.
    private let namespace: NetNS
    /// The namespace path the handle was opened in; nil for the opening thread's own.
    public let namespacePath: String?

    /// Opens a session in the calling thread's network namespace.
    public convenience init() throws(IPSetError) {
        try self.init(namespacePath: nil)
    }

    /// Opens a session in the network namespace at `namespacePath` (a path such as
    /// `/run/netns/pod1` or `/proc/1234/ns/net`, or a bare name looked up in `/run/netns`), or in
    /// the calling thread's own namespace when nil. See `init(namespace:)`.
    public convenience init(namespacePath: String?) throws(IPSetError) {
        let path = namespacePath.map { $0.contains("/") ? $0 : "\(NetNS.runDirectory)/\($0)" }
        let namespace: NetNS
        do {
            if let path {
                namespace = try NetNS.open(path: path)
            } else {
                namespace = try NetNS.current()
            }
        } catch {
            throw IPSetError(namespace: error)
        }
        try self.init(namespace: namespace, path: path)
    }

    /// Opens a session in `namespace`. The calling thread never changes namespace: for another
    /// namespace the session's socket is opened inside `namespace.run`, on a short-lived thread
    /// that has entered it. The handle keeps `namespace` until it is released (its socket pins
    /// the namespace anyway), to open a replacement session there if libipset needs one.
    public convenience init(namespace: NetNS) throws(IPSetError) {
        try self.init(namespace: namespace, path: namespace.path)
    }

    private init(namespace: NetNS, path: String?) throws(IPSetError) {
        let capture = UnsafeMutablePointer<netplane_ipset_capture>.allocate(capacity: 1)
        capture.initialize(to: netplane_ipset_capture())
        let opened = libipset.withLock { _ in Self.openSession(in: namespace, capture) }
        switch opened {
        case .success(let session):
            ipset = session.ipset
            self.capture = capture
            self.namespace = namespace
            namespacePath = path
        case .failure(let error):
            capture.deinitialize(count: 1)
            capture.deallocate()
            throw error
        }
    }

    deinit {
        libipset.withLock { _ in _ = ipset_fini(ipset) }
        netplane_ipset_capture_free(capture)
        capture.deinitialize(count: 1)
        capture.deallocate()
    }

    /// Opens a session whose socket lives in `namespace`: on the calling thread when it is
    /// already there, else inside `namespace.run`. The caller holds the libipset lock (the
    /// namespace thread runs while the caller waits for it, so it is covered too).
    ///
    /// The shortcut is not just a saved thread: `setns` needs `CAP_SYS_ADMIN` even to enter
    /// the namespace one is already in, while ipset itself only needs `CAP_NET_ADMIN`, so a
    /// process with just the latter can still use a handle on its own namespace.
    private static func openSession(in namespace: NetNS, _ capture: UnsafeMutablePointer<netplane_ipset_capture>)
        -> Result<OpenedSession, IPSetError> {
        if let here = try? NetNS.current(), here.isSame(as: namespace) { return openSessionHere(capture) }
        do {
            return try namespace.run({ () throws(IPSetError) in openSessionHere(capture) },
                                     mapError: IPSetError.init(namespace:))
        } catch {
            return .failure(error)
        }
    }

    /// Creates the libipset structure and opens its netlink socket on the current thread.
    private static func openSessionHere(_ capture: UnsafeMutablePointer<netplane_ipset_capture>)
        -> Result<OpenedSession, IPSetError> {
        if !typesLoaded {
            ipset_load_types()
            typesLoaded = true
        }
        guard let ipset = ipset_init() else {
            let text = "cannot allocate a libipset session"
            return .failure(IPSetError(code: .kernel(text), operation: "open", message: text))
        }
        _ = netplane_ipset_capture_install(ipset, capture)
        let session = ipset_session(ipset)!
        // ipset_init() does not talk to the kernel: the first command opens the netlink
        // socket. Send the protocol-version probe now, on this thread, so the socket binds
        // to this thread's namespace and a kernel without ip_set is reported here.
        if ipset_cmd(session, IPSET_CMD_NONE, 0) < 0 {
            let text = reportText(session, capture) ?? "cannot open a session to the kernel"
            _ = ipset_fini(ipset)
            return .failure(IPSetError(code: .kernel(text), operation: "open", message: text))
        }
        ipset_session_report_reset(session)
        return .success(OpenedSession(ipset: ipset))
    }

    /// Whether `ipset_load_types()` has run; only read and written under the libipset lock.
    nonisolated(unsafe) private static var typesLoaded = false

    /// A just-created `struct ipset *` on its way off the namespace thread and out of the
    /// lock; nothing else refers to it yet.
    private struct OpenedSession: @unchecked Sendable {
        let ipset: OpaquePointer
    }

    /// Replaces the session with a fresh one in the same namespace (caller holds the lock).
    ///
    /// libipset reads exactly one reply per request and trusts it to be the reply to that
    /// request. When the kernel fails a dump (LIST of a missing set) it sends two error
    /// messages; libipset consumes one, and from then on every command of that session reads
    /// the previous command's reply ("Internal protocol error", wrong results). A new socket is
    /// the only way back in sync through libipset's API.
    private func reopenLocked() {
        guard case .success(let fresh) = Self.openSession(in: namespace, capture) else { return }
        _ = ipset_fini(ipset)
        ipset = fresh.ipset
    }

    // MARK: - Sets

    /// Creates a set. `timeout` (seconds) gives the set timeout support and a default entry
    /// lifetime (0: entries stay unless added with their own timeout); `maxElements` and
    /// `hashSize` tune hash sets. With `ifNotExists`, an existing set with the same type and
    /// parameters is not an error (one with different parameters still is: `.exists`).
    public func create(name: String, type: IPSetType, family: IPSetFamily = .inet,
                       timeout: UInt32? = nil, maxElements: UInt32? = nil, hashSize: UInt32? = nil,
                       ifNotExists: Bool = false) throws(IPSetError) {
        try perform("create", set: name) { call throws(IPSetError) in
            try call.setName(IPSET_SETNAME, name)
            try call.check(ipset_parse_typename(call.session, IPSET_OPT_TYPENAME, type.rawValue),
                           otherwise: .invalidArgument)
            try call.check(ipset_parse_family(call.session, IPSET_OPT_FAMILY, family.rawValue),
                           otherwise: .invalidArgument)
            // Resolves the type against the kernel's supported revisions.
            guard ipset_type_get(call.session, IPSET_CMD_CREATE) != nil else {
                throw call.failure(otherwise: .invalidArgument)
            }
            if let timeout { try call.setUInt32(IPSET_OPT_TIMEOUT, timeout) }
            if let maxElements { try call.setUInt32(IPSET_OPT_MAXELEM, maxElements) }
            if let hashSize { try call.setUInt32(IPSET_OPT_HASHSIZE, hashSize) }
            if ifNotExists { ipset_envopt_set(call.session, IPSET_ENV_EXIST) }
            try call.command(IPSET_CMD_CREATE)
        }
    }

    /// Destroys a set. Throws `.setNotFound` when there is none by that name.
    public func destroy(name: String) throws(IPSetError) {
        try perform("destroy", set: name) { call throws(IPSetError) in
            try call.setName(IPSET_SETNAME, name)
            try call.command(IPSET_CMD_DESTROY)
        }
    }

    /// Removes every entry of a set.
    public func flush(set name: String) throws(IPSetError) {
        try perform("flush", set: name) { call throws(IPSetError) in
            try call.setName(IPSET_SETNAME, name)
            try call.command(IPSET_CMD_FLUSH)
        }
    }

    /// Exchanges the contents (and types) of two existing sets atomically: the way to replace a
    /// set that rules refer to (fill a temporary set, swap, destroy the temporary).
    public func swap(_ first: String, _ second: String) throws(IPSetError) {
        try perform("swap", set: first, entry: nil) { call throws(IPSetError) in
            try call.setName(IPSET_SETNAME, first)
            try call.setName(IPSET_OPT_SETNAME2, second)
            try call.command(IPSET_CMD_SWAP)
        }
    }

    /// Renames a set. Throws `.exists` when `newName` is taken.
    public func rename(_ name: String, to newName: String) throws(IPSetError) {
        try perform("rename", set: name, entry: nil) { call throws(IPSetError) in
            try call.setName(IPSET_SETNAME, name)
            try call.setName(IPSET_OPT_SETNAME2, newName)
            try call.command(IPSET_CMD_RENAME)
        }
    }

    // MARK: - Entries

    /// Adds an entry. `timeout` (seconds) overrides the set's default for this entry (the set
    /// must have been created with a timeout). With `ifNotExists`, an entry already present is
    /// not an error (its timeout is refreshed).
    public func add(set name: String, entry: IPSetEntry, timeout: UInt32? = nil,
                    ifNotExists: Bool = false) throws(IPSetError) {
        _ = try elementCommands(IPSET_CMD_ADD, "add", set: name, entries: [entry], timeout: timeout,
                                exist: ifNotExists)
    }

    /// Adds several entries, looking the set up once. Stops at the first failure (the error
    /// names that entry); the entries before it stay added.
    public func add(set name: String, entries: [IPSetEntry], timeout: UInt32? = nil,
                    ifNotExists: Bool = false) throws(IPSetError) {
        guard !entries.isEmpty else { return }
        _ = try elementCommands(IPSET_CMD_ADD, "add", set: name, entries: entries, timeout: timeout,
                                exist: ifNotExists)
    }

    /// Deletes an entry. Throws `.elementMissing` when it is not in the set, unless `ifExists`.
    public func delete(set name: String, entry: IPSetEntry, ifExists: Bool = false) throws(IPSetError) {
        _ = try elementCommands(IPSET_CMD_DEL, "del", set: name, entries: [entry], timeout: nil, exist: ifExists)
    }

    /// Whether the set matches the entry (for `hash:net`, an address inside a stored block).
    public func test(set name: String, entry: IPSetEntry) throws(IPSetError) -> Bool {
        try elementCommands(IPSET_CMD_TEST, "test", set: name, entries: [entry], timeout: nil, exist: false)
    }

    /// Runs an add/del/test command per entry; returns the last test result (true otherwise).
    private func elementCommands(_ command: ipset_cmd, _ operation: String, set name: String,
                                 entries: [IPSetEntry], timeout: UInt32?, exist: Bool) throws(IPSetError) -> Bool {
        try perform(operation, set: name, entry: entries.first?.description) { call throws(IPSetError) in
            try call.setName(IPSET_SETNAME, name)
            // Asks the kernel for the set's type and family (also how a missing set shows up).
            guard let type = ipset_type_get(call.session, command) else {
                throw call.failure(otherwise: nil)
            }
            var setFamily = ipset_data_family(call.data)
            var matched = true
            for (index, entry) in entries.enumerated() {
                var call = call
                call.entry = entry.description
                if index > 0 {
                    // ipset_cmd() clears the session data: restore what the lookup found.
                    try call.setName(IPSET_SETNAME, name)
                    _ = ipset_data_set(call.data, IPSET_OPT_FAMILY, &setFamily)
                    _ = ipset_data_set(call.data, IPSET_OPT_TYPE, type)
                }
                // A typed entry of the wrong family is refused here: libipset would otherwise
                // try to resolve the text as a host name of the set's family before giving up.
                if let family = entry.family,
                   (family == .inet && setFamily == UInt8(NFPROTO_IPV6))
                    || (family == .inet6 && setFamily == UInt8(NFPROTO_IPV4)) {
                    let expected = setFamily == UInt8(NFPROTO_IPV4) ? "inet" : "inet6"
                    throw call.error(.invalidEntry, "the set has family \(expected), the entry is \(family)")
                }
                try call.check(ipset_parse_elem(call.session, type.pointee.last_elem_optional, entry.description),
                               otherwise: .invalidEntry)
                if let timeout { try call.setUInt32(IPSET_OPT_TIMEOUT, timeout) }
                if exist { ipset_envopt_set(call.session, IPSET_ENV_EXIST) }
                if command == IPSET_CMD_TEST {
                    if ipset_cmd(call.session, command, 0) == 0 {
                        matched = true
                        ipset_session_report_reset(call.session)  // the "is in set" warning
                        continue
                    }
                    // "… is NOT in set" is reported as a notice; anything else is a failure.
                    guard ipset_session_report_type(call.session) == IPSET_NOTICE else {
                        throw call.failure(otherwise: nil)
                    }
                    matched = false
                    ipset_session_report_reset(call.session)
                    continue
                }
                try call.command(command)
            }
            return matched
        }
    }

    // MARK: - Listing

    /// The set's header and members.
    public func list(set name: String) throws(IPSetError) -> IPSetInfo {
        try list(set: name, checkHeaderFirst: true)
    }

    /// `checkHeaderFirst: false` is for tests: it lets a missing set fail the dump itself.
    func list(set name: String, checkHeaderFirst: Bool) throws(IPSetError) -> IPSetInfo {
        try perform("list", set: name, dumps: true) { call throws(IPSetError) in
            if checkHeaderFirst {
                // Ask for the header first (a plain request): a missing set fails here cleanly
                // instead of failing the dump, which would cost a new session.
                try call.setName(IPSET_SETNAME, name)
                try call.check(ipset_cmd(call.session, IPSET_CMD_HEADER, 0), otherwise: nil)
                ipset_data_reset(call.data)
            }
            try call.setName(IPSET_SETNAME, name)
            let text = try call.listing(mode: IPSET_LIST_SAVE)
            guard let info = SaveFormat.parse(text, knownName: name).first(where: { $0.name == name }) else {
                throw call.error(.kernel("unreadable listing"), "unreadable listing: \(text)")
            }
            return info
        }
    }

    /// Every set in the namespace, with members.
    public func listAll() throws(IPSetError) -> [IPSetInfo] {
        try perform("list", set: nil, dumps: true) { call throws(IPSetError) in
            SaveFormat.parse(try call.listing(mode: IPSET_LIST_SAVE))
        }
    }

    /// The names of the sets in the namespace.
    public func listNames() throws(IPSetError) -> [String] {
        try perform("list", set: nil, dumps: true) { call throws(IPSetError) in
            ipset_envopt_set(call.session, IPSET_ENV_LIST_SETNAME)
            let text = try call.listing(mode: IPSET_LIST_PLAIN)
            return text.split(separator: "\n").map(String.init)
        }
    }

    // MARK: - Plumbing

    /// Runs one command's worth of libipset calls under the global lock, from a clean session.
    /// `dumps` marks operations that send a LIST (a netlink dump), after whose failure the
    /// session must be replaced (see `reopenLocked`).
    private func perform<R: Sendable>(_ operation: String, set: String?, entry: String? = nil, dumps: Bool = false,
                                      _ body: (Call) throws(IPSetError) -> R) throws(IPSetError) -> R {
        try libipset.withLock { _ throws(IPSetError) -> R in
            let session = ipset_session(ipset)!
            ipset_session_report_reset(session)
            ipset_data_reset(ipset_session_data(session))
            // libipset caches set name -> type process-wide when it creates a set, and trusts
            // the cache for later adds. That is wrong as soon as two namespaces hold sets with
            // the same name, or another program recreates a set: drop it so each command asks
            // the kernel.
            _ = ipset_cache_del(nil)
            for option in [IPSET_ENV_EXIST, IPSET_ENV_SORTED, IPSET_ENV_LIST_SETNAME, IPSET_ENV_LIST_HEADER] {
                ipset_envopt_unset(session, option)
            }
            _ = ipset_session_output(session, IPSET_LIST_NONE)
            netplane_ipset_capture_reset(capture)
            do throws(IPSetError) {
                return try body(Call(session: session, capture: capture, operation: operation, set: set, entry: entry))
            } catch {
                if dumps || error.message.contains("Internal protocol error") { reopenLocked() }
                throw error
            }
        }
    }

    /// The session and context of one command, with helpers that turn libipset failures into
    /// `IPSetError`s.
    private struct Call {
        let session: OpaquePointer
        let capture: UnsafeMutablePointer<netplane_ipset_capture>
        let operation: String
        let set: String?
        var entry: String?

        var data: OpaquePointer { ipset_session_data(session) }

        func error(_ code: IPSetError.Code, _ message: String) -> IPSetError {
            IPSetError(code: code, operation: operation, set: set, entry: entry, message: message)
        }

        /// The error libipset just reported; `otherwise` classifies messages the fixed table
        /// does not know (nil: `.kernel(message)`).
        func failure(otherwise: IPSetError.Code?) -> IPSetError {
            let message = reportText(session, capture) ?? "libipset failed without a message"
            ipset_session_report_reset(session)
            return error(IPSetError.classify(message) ?? otherwise ?? .kernel(message), message)
        }

        func check(_ result: Int32, otherwise: IPSetError.Code?) throws(IPSetError) {
            if result < 0 { throw failure(otherwise: otherwise) }
        }

        func setName(_ option: ipset_opt, _ name: String) throws(IPSetError) {
            // An absent name means "all sets" to destroy and flush; never let "" get that far.
            guard !name.isEmpty else { throw error(.invalidArgument, "empty set name") }
            try check(ipset_parse_setname(session, option, name), otherwise: .invalidArgument)
        }

        func setUInt32(_ option: ipset_opt, _ value: UInt32) throws(IPSetError) {
            var value = value
            try check(ipset_data_set(data, option, &value), otherwise: .invalidArgument)
        }

        func command(_ command: ipset_cmd) throws(IPSetError) {
            try check(ipset_cmd(session, command, 0), otherwise: nil)
            // Success may still leave a warning (e.g. the kernel's protocol is newer); drop it.
            ipset_session_report_reset(session)
        }

        /// Runs a LIST and returns what libipset printed.
        func listing(mode: ipset_output_mode) throws(IPSetError) -> String {
            _ = ipset_session_output(session, mode)
            ipset_envopt_set(session, IPSET_ENV_SORTED)
            try command(IPSET_CMD_LIST)
            guard capture.pointee.truncated == 0 else {
                throw error(.kernel("out of memory"), "out of memory while reading the listing")
            }
            guard let text = capture.pointee.text, capture.pointee.length > 0 else { return "" }
            return String(cString: text)
        }
    }
}

/// libipset's pending report (or the custom error callback's message), trimmed; nil if none.
private func reportText(_ session: OpaquePointer, _ capture: UnsafeMutablePointer<netplane_ipset_capture>) -> String? {
    var text = ipset_session_report_msg(session).map { String(cString: $0) } ?? ""
    if text.allSatisfy(\.isWhitespace) {
        text = withUnsafeBytes(of: capture.pointee.error) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
    let trimmed = text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
    return trimmed.isEmpty ? nil : String(trimmed)
}
