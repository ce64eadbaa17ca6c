import ArgumentParser
import Foundation
import JSON

/// The JSON value type every API request and watch event goes through: parsing and printing
/// a ConfigMap as the API server stores it (managedFields, 1 KiB of data), against
/// Foundation's JSONSerialization (sorted keys, as ours prints) in the same run. Each figure is
/// the best of 15 rounds, so a busy neighbour on this shared machine does not decide it.
struct JSONBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "json",
        abstract: "Parse and print a stored ConfigMap: Netplane's JSON vs Foundation's JSONSerialization.")

    @Option(help: "Parses and prints of each, over all rounds.") var count = 300_000

    func run() throws {
        let document = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"made-r0-12345","namespace":"default","uid":"3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60","resourceVersion":"123456","creationTimestamp":"2026-12-07T22:50:46Z","labels":{"app":"web","tier":"frontend"},"managedFields":[{"manager":"netplane-bench","operation":"Update","apiVersion":"v1","time":"2026-12-07T22:50:46Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:payload":{}}}}]},"data":{"payload":""# + String(repeating: "x", count: 1024) + #""}}"#
        let bytes = Array(document.utf8), data = Data(document.utf8)
        let rounds = 15, perRound = max(1, count / rounds)
        func best(_ body: () throws -> Void) rethrows -> Double {
            var fastest = Double.infinity
            for _ in 0..<rounds {
                let start = Date()
                for _ in 0..<perRound { try body() }
                fastest = min(fastest, Date().timeIntervalSince(start) / Double(perRound) * 1e6)
            }
            return fastest
        }
        var value = try JSONValue.parse(bytes)
        var object = try JSONSerialization.jsonObject(with: data)
        var printed = 0
        let parse = try best { value = try JSONValue.parse(bytes) }
        let anchorParse = try best { object = try JSONSerialization.jsonObject(with: data) }
        let print = best { printed &+= value.jsonBytes().count }
        let anchorPrint = try best { printed &+= try JSONSerialization.data(withJSONObject: object, options: .sortedKeys).count }
        guard try JSONValue.parse(value.jsonBytes()) == JSONValue.parse(JSONSerialization.data(withJSONObject: object, options: .sortedKeys))
        else { throw ValidationError("the two printers disagree on the document") }
        Swift.print(String(format: "JSON, a stored ConfigMap of %d bytes: parse %.2f µs (Foundation %.2f), print %.2f µs (Foundation %.2f)",
                           bytes.count, parse, anchorParse, print, anchorPrint))
        Swift.print(String(format: "RESULT json-parse netplane=%.2f anchor=%.2f ratio=%.2f unit=us", parse, anchorParse, anchorParse / parse))
        Swift.print(String(format: "RESULT json-print netplane=%.2f anchor=%.2f ratio=%.2f unit=us", print, anchorPrint, anchorPrint / print))
    }
}
