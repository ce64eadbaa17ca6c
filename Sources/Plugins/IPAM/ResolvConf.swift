/// The DNS settings host-local reads from its `resolvConf` file, parsed as the reference
/// does: `nameserver`, `domain`, `search` and `options` lines; `#` and `;` start comments.
public struct ResolvConf: Sendable, Equatable {
    public var nameservers: [String] = []
    public var domain: String?
    public var search: [String] = []
    public var options: [String] = []

    public init(nameservers: [String] = [], domain: String? = nil, search: [String] = [], options: [String] = []) {
        self.nameservers = nameservers; self.domain = domain; self.search = search; self.options = options
    }

    public init(parsing text: String) {
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let key = fields.first, !key.hasPrefix("#"), !key.hasPrefix(";") else { continue }
            switch key {
            case "nameserver" where fields.count > 1: nameservers.append(fields[1])
            case "domain" where fields.count > 1: domain = fields[1]
            case "search": search += fields.dropFirst()
            case "options": options += fields.dropFirst()
            default: continue
            }
        }
    }
}
