public import JSON

/// `kubectl exec` over WebSocket: the remote command subprotocol both hops of Netplane speak
/// (kubectl to the API server, the API server to the node agent), as Kubernetes defines it in
/// k8s.io/apimachinery/pkg/util/remotecommand/constants.go and
/// k8s.io/apimachinery/pkg/util/httpstream/wsstream/conn.go:
///
/// - the client offers subprotocols in Sec-WebSocket-Protocol (kubectl 1.30+ offers
///   `v5.channel.k8s.io` alone) and the server names the one it chose in its 101 answer;
///   client-go refuses an answer that names none of those it offered;
/// - every binary message starts with its stream: 0 stdin, 1 stdout, 2 stderr, 3 error (one
///   metav1.Status as JSON, written once at the end; client-go reads it until the connection
///   closes), 4 resize (`{"Width":W,"Height":H}`, one per message);
/// - in v5 only, the message [255, id] half-closes stream `id`: kubectl sends [255, 0] when its
///   stdin ends, so `echo hi | kubectl exec -i POD -- cat` ends.
///
/// Pure (JSON only), shared by the API server and the node agent.
public enum RemoteCommand {
    public static let protocolV5 = "v5.channel.k8s.io"
    public static let protocolV4 = "v4.channel.k8s.io"
    /// What Netplane speaks, most preferred first. v4 lacks only the CLOSE signal.
    public static let protocols = [protocolV5, protocolV4]

    /// Stream ids: the first byte of every message.
    public enum Stream {
        public static let stdin: UInt8 = 0
        public static let stdout: UInt8 = 1
        public static let stderr: UInt8 = 2
        public static let error: UInt8 = 3
        public static let resize: UInt8 = 4
        /// v5: [255, id] closes stream id.
        public static let close: UInt8 = 255
    }

    /// The largest WebSocket frame and message accepted. client-go writes up to 32 KiB of data
    /// plus the stream byte as one frame (its gorilla buffers are DataBufferSize + 1024), twice
    /// WSCore's default limit of 16 KiB, which would close the connection with 1009.
    public static let maxFrameSize = 1 << 20

    /// The subprotocol to answer with: the most preferred of those offered, nil when none is
    /// spoken here. `offered` are the Sec-WebSocket-Protocol header values, each possibly a
    /// comma-separated list.
    public static func negotiate(_ offered: [String]) -> String? {
        let names = Set(offered.flatMap { $0.split(separator: ",") }.map { String($0).trimmingBlanks })
        return protocols.first { names.contains($0) }
    }

    /// A message of `stream`: its id, then the payload.
    public static func message(_ stream: UInt8, _ payload: some Collection<UInt8>) -> [UInt8] {
        var bytes: [UInt8] = [stream]
        bytes.reserveCapacity(payload.count + 1)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// The sizes a resize payload carries (client-go's json.Encoder writes one object and a
    /// newline per message; several are taken in order). Malformed ones are skipped.
    public static func terminalSizes(_ payload: some Collection<UInt8>) -> [(width: UInt16, height: UInt16)] {
        payload.split(separator: UInt8(ascii: "\n")).compactMap { line in
            guard let value = try? JSONValue.parse(Array(line)),
                  let width = value["Width"]?.intValue, let height = value["Height"]?.intValue,
                  (0...Int(UInt16.max)).contains(width), (0...Int(UInt16.max)).contains(height) else { return nil }
            return (UInt16(width), UInt16(height))
        }
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters (for query values and
    /// path segments of the node agent's exec URL: commands hold spaces, quotes, `&`, `+`).
    public static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xf)])
            }
        }
        return out
    }
}

extension RemoteCommand {
    /// PodExecOptions as a query carries them (`command` repeats, one argument each).
    public struct Options: Sendable, Equatable {
        public var command: [String]
        /// Empty: the pod's only container.
        public var container: String
        public var stdin: Bool
        public var stdout: Bool
        public var stderr: Bool
        public var tty: Bool

        public init(command: [String], container: String = "", stdin: Bool = false, stdout: Bool = true, stderr: Bool = true,
                    tty: Bool = false) {
            self.command = command
            self.container = container
            self.stdin = stdin
            self.stdout = stdout
            self.stderr = stderr && !tty
            self.tty = tty
        }

        /// From the query's (key, value) pairs in order. A flag is set unless absent, "false"
        /// or "0" (apimachinery's string-to-bool conversion: kubectl writes "true", kube-apiserver
        /// writes "1" for the kubelet).
        public init(query: [(String, String)]) {
            func flag(_ key: String) -> Bool {
                guard let value = query.last(where: { $0.0 == key })?.1 else { return false }
                return !["false", "0"].contains(value.lowercased())
            }
            // With a terminal there is one output: the kubelet drops stderr ("Access to exec with
            // tty and stderr is not supported, bypassing stderr") and client-go opens no stderr
            // stream, so everything the process writes comes on stdout.
            self.init(command: query.filter { $0.0 == "command" }.map(\.1), container: query.last { $0.0 == "container" }?.1 ?? "",
                      stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr"), tty: flag("tty"))
        }

        /// Why these options cannot run (the kubelet's and kube-apiserver's wording), nil if they can.
        public var problem: String? {
            if command.isEmpty { return "you must specify at least one command for the container" }
            if !stdin && !stdout && !stderr { return "you must specify at least 1 of stdin, stdout, stderr" }
            return nil
        }

        /// The query of the node agent's exec URL: flags as "1", as kube-apiserver writes them
        /// for the kubelet.
        public var agentQuery: String {
            var items = command.map { "command=" + RemoteCommand.percentEncoded($0) }
            for (key, on) in [("stdin", stdin), ("stdout", stdout), ("stderr", stderr), ("tty", tty)] where on {
                items.append("\(key)=1")
            }
            return items.joined(separator: "&")
        }
    }

    /// How an exec ended, as the error stream (3) reports it.
    public enum Outcome: Sendable, Equatable {
        case success
        /// The command ran and exited with a code other than 0 (128 + n when signal n killed it).
        case exited(code: Int32, command: [String])
        /// The command could not be run (or the session broke): kubectl prints "error: MESSAGE".
        case failed(String)

        /// The metav1.Status the kubelet writes: client-go's v4 decoder turns NonZeroExitCode
        /// with an ExitCode cause into the exit code kubectl exits with, any other Failure into
        /// an error showing its message.
        public var status: JSONValue {
            switch self {
            case .success:
                return ["metadata": .emptyObject, "status": "Success"]
            case .exited(let code, let command):
                return ["metadata": .emptyObject, "status": "Failure", "reason": "NonZeroExitCode",
                        "message": .string("command terminated with non-zero exit code: error executing command [\(command.joined(separator: " "))], exit code \(code)"),
                        "details": ["causes": [["reason": "ExitCode", "message": .string(String(code))]]]]
            case .failed(let message):
                return ["metadata": .emptyObject, "status": "Failure", "reason": "InternalError", "code": 500,
                        "message": .string("Internal error occurred: \(message)"),
                        "details": ["causes": [["message": .string(message)]]]]
            }
        }

        /// The whole error-stream message: stream 3, then the Status.
        public var message: [UInt8] { RemoteCommand.message(Stream.error, status.jsonBytes()) }

        /// From a process's exit code.
        public init(exitCode: Int32, command: [String]) {
            self = exitCode == 0 ? .success : .exited(code: exitCode, command: command)
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (no Foundation here).
    fileprivate var trimmingBlanks: String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
