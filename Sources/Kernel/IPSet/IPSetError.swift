import NetNamespace

/// A failed ipset operation: what kind of failure, which command, set and entry, and the
/// message libipset gave.
public struct IPSetError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The named set (or the second set of a swap) does not exist.
        case setNotFound
        /// A set with that name already exists (create, rename).
        case exists
        /// The entry is already in the set (add).
        case elementExists
        /// The entry is not in the set (delete).
        case elementMissing
        /// libipset or the kernel refused the entry for this set (syntax, wrong family, bad
        /// CIDR, missing protocol...).
        case invalidEntry
        /// A set name, type or option was refused before reaching the kernel.
        case invalidArgument
        /// The network namespace could not be entered.
        case namespace(String)
        /// Any other failure, with libipset's message.
        case kernel(String)
    }

    public var code: Code
    /// The ipset command: "create", "add", "del", "test", "list", "destroy", ...
    public var operation: String
    public var set: String?
    public var entry: String?
    /// libipset's own text (or the system error), without a trailing newline.
    public var message: String

    public init(code: Code, operation: String, set: String? = nil, entry: String? = nil, message: String) {
        self.code = code
        self.operation = operation
        self.set = set
        self.entry = entry
        self.message = message
    }

    public var description: String {
        var what = "ipset \(operation)"
        if let set { what += " set \"\(set)\"" }
        if let entry { what += " entry \"\(entry)\"" }
        return "\(what): \(message)"
    }

    /// Recognises libipset's fixed messages (lib/errcode.c, lib/session.c); these are the only
    /// form in which the kernel's error code reaches a libipset caller.
    static func classify(_ message: String) -> Code? {
        let table: [(String, Code)] = [
            ("The set with the given name does not exist", .setNotFound),
            ("the second set does not exist", .setNotFound),
            ("set with the same name already exists", .exists),
            ("a set with the new name already exists", .exists),
            ("Element cannot be added to the set: it's already added", .elementExists),
            ("Element cannot be deleted from the set: it's not added", .elementMissing),
            ("An IPv4 address is expected", .invalidEntry),
            ("An IPv6 address is expected", .invalidEntry),
            ("The value of the CIDR parameter of the IP address is invalid", .invalidEntry),
            ("Invalid protocol specified", .invalidEntry),
            ("Protocol missing, but must be specified", .invalidEntry),
            ("Null-valued element", .invalidEntry),
            ("Range is not supported in the \"net\" component", .invalidEntry),
            ("Invalid range, covers the whole address space", .invalidEntry),
            ("unknown settype", .invalidArgument),
            ("set type not supported", .invalidArgument),
            ("Protocol family not supported by the set type", .invalidArgument),
        ]
        return table.first { message.contains($0.0) }?.1
    }
}

extension IPSetError {
    /// A failure to open or enter the handle's network namespace; the text names it.
    init(namespace error: NamespaceError) {
        let text = error.description
        self.init(code: .namespace(text), operation: "open", message: text)
    }
}
