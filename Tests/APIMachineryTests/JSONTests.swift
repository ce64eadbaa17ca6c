import Foundation
import Testing
import JSON

@Suite struct JSONTests {
    @Test func roundTripsEveryKind() throws {
        let text = #"{"a":[1,-2,3.5,1e-7,true,false,null],"b":{"c":"x\"y\\z\n\u00e9\ud83d\ude00"},"d":""}"#
        let value = try JSONValue.parse(text)
        #expect(value["a"]?.arrayValue?.count == 7)
        #expect(value["a"]?.arrayValue?[0] == .int(1))
        #expect(value["a"]?.arrayValue?[2] == .double(3.5))
        #expect(value["b"]?["c"]?.stringValue == "x\"y\\z\né😀")
        #expect(try JSONValue.parse(value.jsonString) == value)
        #expect(value.jsonString.hasPrefix(#"{"a":[1,-2,3.5,1e-07,true,false,null],"b":{"c":"x\"y\\z\né😀"}"#))
    }

    @Test func escapesWhatJSONRequiresAndCopiesTheRest() throws {
        let cases: [(String, String)] = [
            ("", #""""#), ("plain", #""plain""#), ("\"", #""\"""#), ("a\\", #""a\\""#),
            ("\u{1}x\u{1f}", #""\u0001x\u001f""#), ("\ttab\r\n", #""\ttab\r\n""#),
            ("é😀/<>", "\"é😀/<>\""), (String(repeating: "x", count: 1024) + "\"", "\"" + String(repeating: "x", count: 1024) + "\\\"\""),
        ]
        for (value, printed) in cases {
            #expect(JSONValue.string(value).jsonString == printed)
            #expect(try JSONValue.parse(printed) == .string(value))
        }
    }

    /// The writer skips clean runs eight bytes at a time: a byte to escape at any offset of a
    /// word, after clean words, and the bytes just outside the escaped ranges (space, DEL,
    /// `!`, `#`, `[`, `]`, multibyte UTF-8), all come out as a byte-by-byte escaper prints them.
    @Test func escapingIsTheSameAtEveryOffsetOfAWord() throws {
        func reference(_ s: String) -> String {
            var out = "\""
            for byte in s.utf8 {
                switch byte {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case ..<0x20: out += String(format: "\\u%04x", byte)
                default: out += String(decoding: [byte], as: UTF8.self)
                }
            }
            return out + "\""
        }
        let specials = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "\u{0}"]
        let neighbours = [" ", "\u{7f}", "!", "#", "[", "]", "é", "😀"]
        for offset in 0..<24 {
            for inserted in specials + neighbours {
                let text = String(repeating: "a", count: offset) + inserted + String(repeating: "b", count: 24 - offset)
                let printed = JSONValue.string(text).jsonString
                if inserted.unicodeScalars.allSatisfy({ $0.isASCII }) {
                    #expect(printed == reference(text), "offset \(offset), \(inserted.debugDescription)")
                }
                #expect(try JSONValue.parse(printed) == .string(text), "offset \(offset), \(inserted.debugDescription)")
            }
        }
    }

    /// The parser also skips clean runs eight bytes at a time: a raw control character at
    /// any offset of a word is still refused, and a closing quote at any offset still ends
    /// the string there.
    @Test func parsingFindsEveryByteThatEndsARunAtEveryOffset() throws {
        for offset in 0..<24 {
            let head = String(repeating: "a", count: offset)
            for control in ["\u{0}", "\u{1}", "\n", "\u{1f}"] {
                #expect(throws: JSONError.self, "offset \(offset)") { try JSONValue.parse("\"" + head + control + "bbbbbbbbbb\"") }
            }
            let value = try JSONValue.parse(#"{"k":""# + head + #"","l":"bbbbbbbbbbbbbbbbbbbb"}"#)
            #expect(value == .object(["k": .string(head), "l": .string("bbbbbbbbbbbbbbbbbbbb")]), "offset \(offset)")
        }
    }

    /// Objects are made whole at their end from the members read: nested objects keep their
    /// own members, and a repeated key keeps its last value (as Go's encoding/json does).
    @Test func nestedObjectsKeepTheirOwnMembersAndTheLastOfARepeatedKey() throws {
        let value = try JSONValue.parse(#"{"a":{"b":{"c":1,"c":2},"d":[{"e":3},{},{"e":4,"f":{}}]},"a2":5,"a2":6,"g":{}}"#)
        let expected: JSONValue = .object([
            "a": .object(["b": .object(["c": .int(2)]),
                          "d": .array([.object(["e": .int(3)]), .object([:]), .object(["e": .int(4), "f": .object([:])])])]),
            "a2": .int(6), "g": .object([:]),
        ])
        #expect(value == expected)
        #expect(value.jsonString == #"{"a":{"b":{"c":2},"d":[{"e":3},{},{"e":4,"f":{}}]},"a2":6,"g":{}}"#)
    }

    @Test func rejectsMalformedDocuments() {
        for bad in ["", "{", #"{"a":}"#, "[1,]", "01", "1.", "tru", #""\x""#, "{} x", #"{"a" 1}"#, "\"a\u{1}\""] {
            #expect(throws: JSONError.self, "\(bad)") { try JSONValue.parse(bad) }
        }
        let deep = String(repeating: "[", count: 10_000)
        #expect(throws: JSONError.self) { try JSONValue.parse(deep) }
    }

    @Test func errorsSayWhere() {
        do {
            _ = try JSONValue.parse(#"{"a": tru}"#)
            Issue.record("parsed")
        } catch {
            #expect(error.offset == 6)
            #expect(error.description.contains("at byte 6"))
        }
    }

    @Test func pathSubscriptCreatesAndRemoves() {
        var v = JSONValue.emptyObject
        v[path: ["metadata", "labels", "app"]] = "web"
        #expect(v.jsonString == #"{"metadata":{"labels":{"app":"web"}}}"#)
        v[path: ["metadata", "labels", "app"]] = nil
        #expect(v.jsonString == #"{"metadata":{"labels":{}}}"#)
    }
}
