internal import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// A chain as the kernel reports it.
public struct ChainInfo: Hashable, Sendable {
    public var table: Table
    public var name: String
    public var base: BaseChain?
    public var handle: UInt64
}

/// A set or map as the kernel reports it.
public struct SetInfo: Hashable, Sendable {
    public var table: Table
    public var name: String
    /// Kernel flags (includes NFT_SET_MAP 0x8, NFT_SET_CONCAT 0x80 when they apply).
    public var flags: UInt32
    public var keyType: UInt32
    public var keyLength: Int
    public var dataType: UInt32?
    public var isMap: Bool { flags & 0x8 != 0 }
}

/// A set or map element as the kernel reports it: raw key and data bytes.
public struct ElementInfo: Hashable, Sendable {
    public var key: [UInt8]
    public var keyEnd: [UInt8]?
    public var data: [UInt8]?
    public var verdict: Verdict?
    public var isIntervalEnd: Bool
}

/// A rule as the kernel reports it: where it is, its handle, the kernel expressions it is
/// made of (by name) and its comment.
public struct RuleInfo: Hashable, Sendable {
    public var table: Table
    public var chain: String
    public var handle: UInt64
    public var expressionKinds: [String]
    public var comment: String?
}

extension NFTSocket {
    /// All tables of `family` (every family when nil).
    public func tables(family: Family? = nil) throws(NFTablesError) -> [Table] {
        try dump(NFT_MSG_GETTABLE, family: family, what: "list tables") { nlh -> [Table] in
            let t = nftnl_table_alloc()!
            defer { nftnl_table_free(t) }
            guard nftnl_table_nlmsg_parse(nlh, t) == 0,
                  let family = Family(rawValue: UInt8(nftnl_table_get_u32(t, attr(NFTNL_TABLE_FAMILY.rawValue)))) else { return [] }
            return [Table(family, String(cString: nftnl_table_get_str(t, attr(NFTNL_TABLE_NAME.rawValue))))]
        }
    }

    /// The chains of `table`.
    public func chains(in table: Table) throws(NFTablesError) -> [ChainInfo] {
        try dump(NFT_MSG_GETCHAIN, family: table.family, what: "list chains in table \(table.family) \(table.name)") { nlh -> [ChainInfo] in
            let c = nftnl_chain_alloc()!
            defer { nftnl_chain_free(c) }
            guard nftnl_chain_nlmsg_parse(nlh, c) == 0,
                  String(cString: nftnl_chain_get_str(c, attr(NFTNL_CHAIN_TABLE.rawValue))) == table.name else { return [] }
            var base: BaseChain?
            if nftnl_chain_is_set(c, attr(NFTNL_CHAIN_HOOKNUM.rawValue)),
               let hook = Hook(rawValue: nftnl_chain_get_u32(c, attr(NFTNL_CHAIN_HOOKNUM.rawValue))),
               let typeName = nftnl_chain_get_str(c, attr(NFTNL_CHAIN_TYPE.rawValue)),
               let type = ChainType(rawValue: String(cString: typeName)) {
                base = BaseChain(type: type, hook: hook,
                                 priority: nftnl_chain_get_s32(c, attr(NFTNL_CHAIN_PRIO.rawValue)),
                                 policy: ChainPolicy(rawValue: nftnl_chain_get_u32(c, attr(NFTNL_CHAIN_POLICY.rawValue))) ?? .accept)
            }
            return [ChainInfo(table: table, name: String(cString: nftnl_chain_get_str(c, attr(NFTNL_CHAIN_NAME.rawValue))),
                              base: base, handle: nftnl_chain_get_u64(c, attr(NFTNL_CHAIN_HANDLE.rawValue)))]
        }
    }

    /// The sets and maps of `table`.
    public func sets(in table: Table) throws(NFTablesError) -> [SetInfo] {
        let request = nftnl_set_alloc()!
        defer { nftnl_set_free(request) }
        nftnl_set_set_str(request, attr(NFTNL_SET_TABLE.rawValue), table.name)
        return try dump(NFT_MSG_GETSET, family: table.family, what: "list sets in table \(table.family) \(table.name)",
                        build: { nftnl_set_nlmsg_build_payload($0, request) }) { nlh -> [SetInfo] in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            guard nftnl_set_nlmsg_parse(nlh, s) == 0 else { return [] }
            let isMap = nftnl_set_is_set(s, attr(NFTNL_SET_DATA_TYPE.rawValue))
            return [SetInfo(table: table, name: String(cString: nftnl_set_get_str(s, attr(NFTNL_SET_NAME.rawValue))),
                               flags: nftnl_set_get_u32(s, attr(NFTNL_SET_FLAGS.rawValue)),
                               keyType: nftnl_set_get_u32(s, attr(NFTNL_SET_KEY_TYPE.rawValue)),
                               keyLength: Int(nftnl_set_get_u32(s, attr(NFTNL_SET_KEY_LEN.rawValue))),
                               dataType: isMap ? nftnl_set_get_u32(s, attr(NFTNL_SET_DATA_TYPE.rawValue)) : nil)]
        }
    }

    /// The elements of the set or map `name` in `table`.
    public func elements(of name: String, in table: Table) throws(NFTablesError) -> [ElementInfo] {
        let request = nftnl_set_alloc()!
        defer { nftnl_set_free(request) }
        nftnl_set_set_str(request, attr(NFTNL_SET_TABLE.rawValue), table.name)
        nftnl_set_set_str(request, attr(NFTNL_SET_NAME.rawValue), name)
        return try dump(NFT_MSG_GETSETELEM, family: table.family, what: "list elements of \(table.family) \(table.name) \(name)",
                        build: { nftnl_set_elems_nlmsg_build_payload($0, request) }) { nlh -> [ElementInfo] in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            guard nftnl_set_elems_nlmsg_parse(nlh, s) == 0 else { return [] }
            let iter = nftnl_set_elems_iter_create(s)!
            defer { nftnl_set_elems_iter_destroy(iter) }
            var out: [ElementInfo] = []
            while let e = nftnl_set_elems_iter_next(iter) {
                out.append(ElementInfo(e))
            }
            return out
        }
    }

    /// The rules of `table` (all chains), in chain order.
    public func rules(in table: Table, chain: String? = nil) throws(NFTablesError) -> [RuleInfo] {
        let request = nftnl_rule_alloc()!
        defer { nftnl_rule_free(request) }
        nftnl_rule_set_str(request, attr(NFTNL_RULE_TABLE.rawValue), table.name)
        if let chain { nftnl_rule_set_str(request, attr(NFTNL_RULE_CHAIN.rawValue), chain) }
        return try dump(NFT_MSG_GETRULE, family: table.family, what: "list rules in table \(table.family) \(table.name)",
                        build: { nftnl_rule_nlmsg_build_payload($0, request) }) { nlh -> [RuleInfo] in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            guard nftnl_rule_nlmsg_parse(nlh, r) == 0 else { return [] }
            var kinds: [String] = []
            let iter = nftnl_expr_iter_create(r)!
            while let e = nftnl_expr_iter_next(iter) {
                kinds.append(String(cString: nftnl_expr_get_str(e, attr(NFTNL_EXPR_NAME))))
            }
            nftnl_expr_iter_destroy(iter)
            return [RuleInfo(table: table, chain: String(cString: nftnl_rule_get_str(r, attr(NFTNL_RULE_CHAIN.rawValue))),
                             handle: nftnl_rule_get_u64(r, attr(NFTNL_RULE_HANDLE.rawValue)),
                             expressionKinds: kinds, comment: ruleComment(r))]
        }
    }

    /// Sends a dump request and returns what `parse` makes of every reply message.
    ///
    /// A dump that the ruleset changed under (the kernel flags its messages NLM_F_DUMP_INTR,
    /// e.g. another process committed meanwhile) is inconsistent: it is read to its end,
    /// thrown away and asked for again, a few times.
    func dump<T>(_ type: nf_tables_msg_types, family: Family?, what: String,
                 build: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in },
                 parse: (UnsafePointer<nlmsghdr>) -> [T]) throws(NFTablesError) -> [T] {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        for _ in 0..<10 {
            let s = nextSeq()
            let sent = buf.withUnsafeMutableBytes { raw -> Int in
                let nlh = nftnl_nlmsg_build_hdr(raw.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue),
                                                UInt16(family?.rawValue ?? 0), UInt16(NLM_F_DUMP | NLM_F_ACK), s)!
                build(nlh)
                return mnl_socket_sendto(socket, nlh, Int(nlh.pointee.nlmsg_len))
            }
            guard sent >= 0 else { throw NFTablesError(.system(call: "sendto", errno: errno), object: what) }
            var results: [T] = []
            var interrupted = false
            var failure: Int32 = 0
            var done = false
            while !done {
                let n = buf.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
                guard n >= 0 else { throw NFTablesError(.system(call: "recvfrom", errno: errno), object: what) }
                buf.withUnsafeBytes { raw in
                    var length = Int32(n)
                    var nlh = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
                    while mnl_nlmsg_ok(nlh, length) {
                        defer { nlh = UnsafePointer(mnl_nlmsg_next(nlh, &length)) }
                        guard nlh.pointee.nlmsg_seq == s else { continue }  // left over from an earlier request
                        if Int32(nlh.pointee.nlmsg_flags) & NLM_F_DUMP_INTR != 0 { interrupted = true }
                        switch Int32(nlh.pointee.nlmsg_type) {
                        case NLMSG_DONE:
                            done = true
                        case NLMSG_ERROR:
                            let code = UnsafeRawPointer(mnl_nlmsg_get_payload(nlh))!.loadUnaligned(as: Int32.self)
                            if code != 0, failure == 0 { failure = -code }
                            done = true
                        case NLMSG_NOOP, NLMSG_OVERRUN:
                            break
                        default:
                            if !interrupted { results += parse(nlh) }
                        }
                    }
                }
            }
            // The kernel's answer to the dump itself, e.g. ENOENT for a missing table.
            if failure != 0 { throw NFTablesError(.kernel(errno: failure), object: what) }
            if !interrupted { return results }
        }
        throw NFTablesError(.kernel(errno: EINTR), object: what + " (the ruleset kept changing during the dump)")
    }
}

extension ElementInfo {
    init(_ e: OpaquePointer) {
        func bytes(_ a: Int) -> [UInt8]? {
            guard nftnl_set_elem_is_set(e, attr(a)) else { return nil }
            var len: UInt32 = 0
            guard let p = nftnl_set_elem_get(e, attr(a), &len) else { return nil }
            return Array(UnsafeRawBufferPointer(start: p, count: Int(len)))
        }
        key = bytes(NFTNL_SET_ELEM_KEY) ?? []
        keyEnd = bytes(NFTNL_SET_ELEM_KEY_END)
        data = bytes(NFTNL_SET_ELEM_DATA)
        isIntervalEnd = nftnl_set_elem_is_set(e, attr(NFTNL_SET_ELEM_FLAGS))
            && nftnl_set_elem_get_u32(e, attr(NFTNL_SET_ELEM_FLAGS)) & NFT_SET_ELEM_INTERVAL_END.rawValue != 0
        verdict = nil
        if nftnl_set_elem_is_set(e, attr(NFTNL_SET_ELEM_VERDICT)) {
            let code = Int32(bitPattern: nftnl_set_elem_get_u32(e, attr(NFTNL_SET_ELEM_VERDICT)))
            let chain = nftnl_set_elem_get_str(e, attr(NFTNL_SET_ELEM_CHAIN)).map { String(cString: $0) } ?? ""
            switch code {
            case 0: verdict = .drop
            case 1: verdict = .accept
            case -1: verdict = .continue
            case -3: verdict = .jump(chain)
            case -4: verdict = .goto(chain)
            case -5: verdict = .return
            default: verdict = nil
            }
        }
    }
}

/// The comment nft stores in a rule's user data (TLV type 0).
private func ruleComment(_ r: OpaquePointer) -> String? {
    guard nftnl_rule_is_set(r, attr(NFTNL_RULE_USERDATA.rawValue)) else { return nil }
    var len: UInt32 = 0
    guard let p = nftnl_rule_get_data(r, attr(NFTNL_RULE_USERDATA.rawValue), &len) else { return nil }
    let raw = UnsafeRawBufferPointer(start: p, count: Int(len))
    var i = 0
    while i + 2 <= raw.count {
        let type = raw[i], size = Int(raw[i + 1])
        guard i + 2 + size <= raw.count else { return nil }
        if type == 0 { return String(decoding: raw[(i + 2)..<(i + 2 + size)].prefix { $0 != 0 }, as: UTF8.self) }
        i += 2 + size
    }
    return nil
}
