import Testing
import APIMachinery

@Suite struct UIDGeneratorTests {
    /// metadata.uid is an RFC 4122 version-4 UUID in lowercase hex, as kube-apiserver writes it.
    @Test func uidsAreVersion4UUIDsAndDistinct() {
        let uids = (0..<2000).map { _ in UIDGenerator.make() }
        #expect(Set(uids).count == uids.count)
        for uid in uids {
            let groups = uid.split(separator: "-", omittingEmptySubsequences: false)
            #expect(groups.map(\.count) == [8, 4, 4, 4, 12], "\(uid)")
            #expect(uid.allSatisfy { $0 == "-" || $0.isHexDigit && !$0.isUppercase }, "\(uid)")
            #expect(groups.count == 5 && groups[2].first == "4", "\(uid)")
            #expect(groups.count == 5 && "89ab".contains(groups[3].first ?? "x"), "\(uid)")
        }
        // Every hex digit turns up in every free position over 2000 draws (the bytes are all used).
        let digits = Set(uids.flatMap { Array($0.replacingOccurrences(of: "-", with: "")) })
        #expect(digits == Set("0123456789abcdef"))
    }
}
