import Foundation
import JSON

/// What the agent knows of one pod on disk (`<root>/pods/<uid>/state.json`), so that a
/// restarted agent finds its sandboxes and containers again and tears down what was deleted
/// while it was away.
struct PodRecord: Codable, Sendable {
    var uid: String
    var namespace: String
    var name: String
    /// The pod's network namespace name (/run/netns/<name>), made and pinned by the agent.
    var netns: String
    var sandboxPID: Int32 = 0
    /// The network configuration ADD ran with (DEL uses the same, whatever the conf dir
    /// holds by then), as JSON text, and ADD's result.
    var network: String?
    var cniResult: String?
    var podIPs: [String] = []
    var startTime: Int
    var containers: [String: ContainerRecord] = [:]
    /// Set once the pod ended and its sandbox (and IP) were released.
    var released = false

    struct Exit: Codable, Sendable, Equatable {
        var code: Int
        var reason: String
        var message: String?
        var startedAt: Int?
        var finishedAt: Int
    }

    struct ContainerRecord: Codable, Sendable {
        /// The runc container of the current instance (nil before the first start).
        var id: String?
        var pid: Int32 = 0
        var image: String
        var restartCount = 0
        var startedAt: Int?
        /// How the current instance ended (nil while it runs).
        var exit: Exit?
        /// How the previous instance ended (lastState).
        var lastExit: Exit?
        /// Why there is no running instance (CreateContainerConfigError, ErrImagePull,
        /// CrashLoopBackOff, …) and when it may be tried again.
        var waitingReason: String?
        var waitingMessage: String?
        var retryAt: Double?
        /// Instances started so far (names the next one's bundle and log file).
        var attempts = 0
    }

    static func load(_ path: String) -> PodRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(PodRecord.self, from: data)
    }

    /// Written to a temporary file and renamed, so a crash never leaves half a record.
    func save(_ path: String) throws {
        let data = try JSONEncoder().encode(self)
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data), rename(temporary, path) == 0 else {
            throw CocoaError(.fileWriteUnknown)
        }
    }
}
