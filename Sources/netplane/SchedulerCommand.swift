import ArgumentParser
import DaemonRuntime
import Foundation
import Scheduler
import SchedulerCore
import Yams

/// `netplane scheduler`: places pending pods on nodes and binds them.
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Place pending pods on nodes (filters and scores as kube-scheduler's defaults) and bind them.")

    @OptionGroup var daemonFlags: DaemonFlags
    @Option(help: "A KubeSchedulerConfiguration file: percentageOfNodesToScore, the profile's schedulerName, NodeResourcesFit's scoringStrategy, score plugin weights.")
    var config: String?
    @Option(help: "Seconds between full passes.") var resyncPeriod: Double = 30

    /// The parts of KubeSchedulerConfiguration that Netplane honours; anything else is refused.
    static func settings(from text: String) throws -> (Scheduling.Settings, String) {
        guard let root = try Yams.load(yaml: text) as? [String: Any] else { throw ValidationError("--config: not a YAML mapping") }
        var settings = Scheduling.Settings()
        var name = SchedulerDaemon.defaultName
        for key in root.keys where !["apiVersion", "kind", "profiles", "percentageOfNodesToScore"].contains(key) {
            throw ValidationError("--config: \(key) is not supported by netplane scheduler")
        }
        guard (root["kind"] as? String) == "KubeSchedulerConfiguration" else {
            throw ValidationError("--config: kind must be KubeSchedulerConfiguration")
        }
        func percentage(_ value: Any?, _ field: String) throws -> Int? {
            guard let value else { return nil }
            guard let n = value as? Int, (0...100).contains(n) else {
                throw ValidationError("--config: \(field) must be a whole number from 0 to 100 (0: adapt to the cluster's size)")
            }
            return n == 0 ? nil : n
        }
        settings.percentageOfNodesToScore = try percentage(root["percentageOfNodesToScore"], "percentageOfNodesToScore")
        let profiles = root["profiles"] as? [[String: Any]] ?? []
        guard profiles.count <= 1 else { throw ValidationError("--config: one profile is supported, got \(profiles.count)") }
        guard let profile = profiles.first else { return (settings, name) }
        for key in profile.keys where !["schedulerName", "plugins", "pluginConfig", "percentageOfNodesToScore"].contains(key) {
            throw ValidationError("--config: profiles[0].\(key) is not supported")
        }
        if let p = try percentage(profile["percentageOfNodesToScore"], "profiles[0].percentageOfNodesToScore") {
            settings.percentageOfNodesToScore = p
        }
        if let n = profile["schedulerName"] as? String { name = n }
        if let plugins = profile["plugins"] as? [String: Any] {
            for key in plugins.keys where key != "score" {
                throw ValidationError("--config: profiles[0].plugins.\(key) is not supported (only score weights)")
            }
            let score = plugins["score"] as? [String: Any] ?? [:]
            for entry in score["enabled"] as? [[String: Any]] ?? [] {
                guard let plugin = entry["name"] as? String, settings.weights[plugin] != nil else {
                    throw ValidationError("--config: score plugin \(entry["name"] ?? "?") is not one of \(settings.weights.keys.sorted())")
                }
                settings.weights[plugin] = entry["weight"] as? Int ?? 1
            }
            for entry in score["disabled"] as? [[String: Any]] ?? [] {
                guard let plugin = entry["name"] as? String else { continue }
                if plugin == "*" { settings.weights = settings.weights.mapValues { _ in 0 } } else { settings.weights[plugin] = 0 }
            }
        }
        for entry in profile["pluginConfig"] as? [[String: Any]] ?? [] {
            guard entry["name"] as? String == "NodeResourcesFit" else {
                throw ValidationError("--config: pluginConfig for \(entry["name"] ?? "?") is not supported")
            }
            let strategy = ((entry["args"] as? [String: Any])?["scoringStrategy"] as? [String: Any])?["type"] as? String ?? "LeastAllocated"
            guard let parsed = Scheduling.ScoringStrategy(rawValue: strategy) else {
                throw ValidationError("--config: scoringStrategy \(strategy): expected LeastAllocated or MostAllocated")
            }
            settings.strategy = parsed
        }
        return (settings, name)
    }

    func run() async throws {
        var settings = Scheduling.Settings()
        var name = SchedulerDaemon.defaultName
        if let config {
            (settings, name) = try Self.settings(from: try String(contentsOfFile: config, encoding: .utf8))
        }
        guard resyncPeriod > 0 else { throw ValidationError("--resync-period: must be positive") }
        // kube-scheduler's port.
        let daemon = try daemonFlags.daemon("scheduler", defaultBind: "127.0.0.1:10259")
        let scheduler = SchedulerDaemon(daemon: daemon, settings: settings, schedulerName: name,
                                        resyncPeriod: .milliseconds(Int(resyncPeriod * 1000)))
        daemon.logger.info("scheduler", metadata: ["name": "\(name)", "strategy": "\(settings.strategy.rawValue)"])
        try await daemon.run { try await scheduler.run() }
    }
}
