// Configs, results and errors are JSON trees of the `JSON` module (re-exported, so plugins and
// tests see `JSONValue` through `CNI`): its parser needs no Foundation, which keeps
// FoundationEssentials out of a plugin's start-up.
@_exported public import JSON

extension JSONValue {
    /// Parses a CNI document (config on stdin, a plugin's output); a malformed one is spec error 6.
    static func parseCNI(_ bytes: [UInt8]) throws(CNIError) -> JSONValue {
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw CNIError(code: .decodingFailure, msg: "failed to decode JSON", details: "\(error)")
        }
    }
}
