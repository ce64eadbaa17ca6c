/// Reads libipset's `save` listing format:
///
///     create web hash:ip,port family inet hashsize 1024 maxelem 65536 timeout 100 bucketsize 12 initval 0x…
///     add web 10.0.0.1,tcp:80 timeout 99
///
/// It is the most regular of libipset's outputs (one line per set header or member, options as
/// `keyword value` pairs or bare flags), and what `ipset restore` reads back.
enum SaveFormat {
    /// Create-line keywords that take a value; every other keyword there is a bare flag
    /// (`counters`, `comment`, `skbinfo`, `forceadd`, ...).
    private static let valued: Set<Substring> = [
        "family", "hashsize", "maxelem", "timeout", "bucketsize", "initval", "netmask", "bitmask",
        "range", "markmask", "size", "probes", "resize", "gc",
    ]

    /// The sets in `text`, in order. `knownName` lets a name containing spaces be read exactly.
    static func parse(_ text: String, knownName: String? = nil) -> [IPSetInfo] {
        var sets: [IPSetInfo] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            if let rest = line.dropPrefix("create ") {
                let (name, tail) = splitName(rest, knownName)
                var tokens = tail.split(separator: " ")[...]
                guard let type = tokens.popFirst() else { continue }
                var info = IPSetInfo(name: name, type: IPSetType(rawValue: String(type)), family: nil)
                while let key = tokens.popFirst() {
                    guard valued.contains(key) else { continue }
                    let value = tokens.popFirst().map(String.init)
                    switch key {
                    case "family": info.family = value.flatMap(IPSetFamily.init(rawValue:))
                    case "hashsize": info.hashSize = value.flatMap { UInt32($0) }
                    case "maxelem": info.maxElements = value.flatMap { UInt32($0) }
                    case "timeout": info.timeout = value.flatMap { UInt32($0) }
                    default: break
                    }
                }
                sets.append(info)
            } else if let rest = line.dropPrefix("add ") {
                let (name, tail) = splitName(rest, knownName)
                guard let element = tail.split(separator: " ").first,
                      let index = sets.lastIndex(where: { $0.name == name }) else { continue }
                sets[index].entries.append(String(element))
            }
        }
        return sets
    }

    private static func splitName(_ rest: Substring, _ knownName: String?) -> (String, Substring) {
        if let knownName, let tail = rest.dropPrefix(knownName + " ") { return (knownName, tail) }
        guard let space = rest.firstIndex(of: " ") else { return (String(rest), "") }
        return (String(rest[..<space]), rest[rest.index(after: space)...])
    }
}

extension Substring {
    func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
