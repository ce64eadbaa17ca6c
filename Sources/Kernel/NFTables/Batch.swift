internal import CNftnl
#if canImport(Glibc)
import Glibc
#endif

/// A transaction encoded as netlink messages in libnftnl batch pages, with the label of the
/// operation behind every sequence number so kernel errors can name what failed.
final class EncodedBatch {
    let batch: OpaquePointer
    private(set) var labels: [UInt32: String] = [:]
    private(set) var messageCount = 0
    private var seq: UInt32
    private var nextSetID: UInt32 = 0

    /// Element messages are split so that one message's element list stays well under the
    /// 64 KiB limit of a netlink attribute.
    static let elementBytesPerMessage = 48 * 1024

    init(startSeq: UInt32) {
        // 1 MiB pages; the overrun must hold the largest single message.
        batch = nftnl_batch_alloc(1 << 20, 256 * 1024)
        seq = startSeq
    }
    deinit { nftnl_batch_free(batch) }

    var firstSeq: UInt32 { seq }

    func encode(_ tx: Transaction) throws(NFTablesError) {
        nftnl_batch_begin(buffer, nextSeq())
        nftnl_batch_update(batch)
        for op in tx.operations { try encode(op) }
        nftnl_batch_end(buffer, nextSeq())
        nftnl_batch_update(batch)
    }

    private var buffer: UnsafeMutablePointer<CChar> {
        nftnl_batch_buffer(batch).assumingMemoryBound(to: CChar.self)
    }

    private func nextSeq() -> UInt32 { defer { seq &+= 1 }; return seq }

    /// Starts a message of `type` and runs `payload` on its header.
    private func message(_ type: nf_tables_msg_types, family: Family, flags: Int32, label: String,
                         _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
        let s = nextSeq()
        let nlh = nftnl_nlmsg_build_hdr(buffer, UInt16(type.rawValue), UInt16(family.rawValue), UInt16(flags), s)!
        payload(nlh)
        nftnl_batch_update(batch)
        labels[s] = label
        messageCount += 1
    }

    private func encode(_ op: Transaction.Operation) throws(NFTablesError) {
        let create = NLM_F_CREATE, excl = NLM_F_CREATE | NLM_F_EXCL
        switch op {
        case .add(let o), .create(let o):
            var isCreate = false
            if case .create = op { isCreate = true }
            try encodeNew(o, flags: isCreate ? excl : create, label: op.label)
        case .delete(let o):
            switch o {
            case .table(let t):
                let obj = t.nftnl()
                message(NFT_MSG_DELTABLE, family: t.family, flags: 0, label: op.label) { nftnl_table_nlmsg_build_payload($0, obj.pointer) }
            case .chain(let c):
                let obj = Chain(c.table, c.name).nftnl()
                message(NFT_MSG_DELCHAIN, family: c.table.family, flags: 0, label: op.label) { nftnl_chain_nlmsg_build_payload($0, obj.pointer) }
            case .set(let s):
                let obj = s.nftnl(withShape: false)
                message(NFT_MSG_DELSET, family: s.table.family, flags: 0, label: op.label) { nftnl_set_nlmsg_build_payload($0, obj.pointer) }
            case .rule(let r):
                guard r.handle != nil else {
                    throw NFTablesError(.invalidArgument("a rule is deleted by its handle; this one has none"), object: op.label)
                }
                let obj = Rule(r.table, r.chain, []).withHandle(r.handle!).nftnl()
                message(NFT_MSG_DELRULE, family: r.table.family, flags: 0, label: op.label) { nftnl_rule_nlmsg_build_payload($0, obj.pointer) }
            }
        case .flush(let o):
            switch o {
            case .table(let t):
                // Flushing a table deletes all its rules (as `nft flush table` does).
                let obj = Rule(t, "", []).nftnlTableOnly()
                message(NFT_MSG_DELRULE, family: t.family, flags: 0, label: op.label) { nftnl_rule_nlmsg_build_payload($0, obj.pointer) }
            case .chain(let c):
                let obj = Rule(c.table, c.name, []).nftnl()
                message(NFT_MSG_DELRULE, family: c.table.family, flags: 0, label: op.label) { nftnl_rule_nlmsg_build_payload($0, obj.pointer) }
            case .set(let s):
                let obj = s.nftnl(withShape: false)
                message(NFT_MSG_DELSETELEM, family: s.table.family, flags: 0, label: op.label) { nftnl_set_elems_nlmsg_build_payload($0, obj.pointer) }
            case .rule:
                throw NFTablesError(.invalidArgument("a rule cannot be flushed"), object: op.label)
            }
        case .addElements(let s, let elements):
            try encodeElements(s, elements, type: NFT_MSG_NEWSETELEM, flags: create, label: op.label)
        case .deleteElements(let s, let elements):
            try encodeElements(s, elements, type: NFT_MSG_DELSETELEM, flags: 0, label: op.label)
        case .insertRule(let r):
            let obj = try encodeInlineSets(of: r, label: op.label)
            // NLM_F_APPEND without a position appends; without it the kernel inserts first.
            message(NFT_MSG_NEWRULE, family: r.table.family, flags: create, label: op.label) { nftnl_rule_nlmsg_build_payload($0, obj.pointer) }
        case .replaceRule(let r):
            guard r.handle != nil else {
                throw NFTablesError(.invalidArgument("a rule is replaced by its handle; this one has none"), object: op.label)
            }
            let obj = try encodeInlineSets(of: r, label: op.label)
            message(NFT_MSG_NEWRULE, family: r.table.family, flags: NLM_F_REPLACE, label: op.label) { nftnl_rule_nlmsg_build_payload($0, obj.pointer) }
        }
    }

    private func encodeNew(_ o: Transaction.Object, flags: Int32, label: String) throws(NFTablesError) {
        switch o {
        case .table(let t):
            let obj = t.nftnl()
            message(NFT_MSG_NEWTABLE, family: t.family, flags: flags, label: label) { nftnl_table_nlmsg_build_payload($0, obj.pointer) }
        case .chain(let c):
            let obj = c.nftnl()
            message(NFT_MSG_NEWCHAIN, family: c.table.family, flags: flags, label: label) { nftnl_chain_nlmsg_build_payload($0, obj.pointer) }
        case .set(let s):
            guard !s.key.isEmpty else { throw NFTablesError(.invalidArgument("a set needs a key type"), object: label) }
            if case .value(let types) = s.data, types.isEmpty {
                throw NFTablesError(.invalidArgument("a data map needs a data type"), object: label)
            }
            try encodeNewSet(s, flags: flags, label: label)
        case .rule(let r):
            guard !r.expressions.isEmpty else { throw NFTablesError(.invalidArgument("a rule needs expressions"), object: label) }
            let obj = try encodeInlineSets(of: r, label: label)
            message(NFT_MSG_NEWRULE, family: r.table.family, flags: flags | NLM_F_APPEND, label: label) { nftnl_rule_nlmsg_build_payload($0, obj.pointer) }
        }
    }

    @discardableResult
    private func encodeNewSet(_ s: NamedSet, flags: Int32, label: String) throws(NFTablesError) -> UInt32 {
        // The kernel requires a batch-unique id on every new set.
        nextSetID += 1
        let obj = s.nftnl(withShape: true, id: nextSetID)
        message(NFT_MSG_NEWSET, family: s.table.family, flags: flags, label: label) { nftnl_set_nlmsg_build_payload($0, obj.pointer) }
        return nextSetID
    }

    /// Emits the anonymous sets a rule writes inline (set, then its elements, referenced by
    /// batch id), and returns the rule object that refers to them.
    private func encodeInlineSets(of rule: Rule, label: String) throws(NFTablesError) -> NftnlObject {
        var ids: [UInt32] = []
        for case .lookupInline(let inline, _, _) in rule.expressions {
            let set = inline.namedSet(in: rule.table)
            let id = try encodeNewSet(set, flags: NLM_F_CREATE, label: label + " (inline set)")
            try encodeElements(set, inline.elements, type: NFT_MSG_NEWSETELEM, flags: NLM_F_CREATE,
                               label: label + " (inline set elements)", setID: id)
            ids.append(id)
        }
        return rule.nftnl(inlineSetIDs: ids)
    }

    /// Element lists go out in several messages when large (one message per ~48 KiB).
    private func encodeElements(_ s: NamedSet, _ elements: [SetElement], type: nf_tables_msg_types,
                                flags: Int32, label: String, setID: UInt32 = 0) throws(NFTablesError) {
        let perElement = DataType.length(of: s.key) * (s.flags.contains(.interval) ? 2 : 1) + 64
            + { () -> Int in if case .value(let t) = s.data { return DataType.length(of: t) } else { return 32 } }()
        let chunk = max(1, Self.elementBytesPerMessage / perElement)
        var start = 0
        while start < elements.count {
            let end = min(elements.count, start + chunk)
            let obj = s.nftnl(withShape: false, id: setID)
            try s.addElements(Array(elements[start..<end]), into: obj.pointer)
            message(type, family: s.table.family, flags: flags, label: label) { nftnl_set_elems_nlmsg_build_payload($0, obj.pointer) }
            start = end
        }
    }

    /// The batch as an iovec array for one `sendmsg`.
    func iovecs() -> [iovec] {
        let n = nftnl_batch_iovec_len(batch)
        var iov = [iovec](repeating: iovec(), count: Int(n))
        iov.withUnsafeMutableBufferPointer { nftnl_batch_iovec(batch, $0.baseAddress, UInt32(n)) }
        return iov
    }
}

extension Rule {
    /// A rule object naming only the table (flush of every chain in it).
    func nftnlTableOnly() -> NftnlObject {
        let r = nftnl_rule_alloc()!
        nftnl_rule_set_str(r, attr(NFTNL_RULE_TABLE.rawValue), table.name)
        nftnl_rule_set_u32(r, attr(NFTNL_RULE_FAMILY.rawValue), UInt32(table.family.rawValue))
        return NftnlObject(r) { nftnl_rule_free($0) }
    }
}
