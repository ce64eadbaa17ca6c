package import CNetlink
import Glibc

/// The request/reply loop. libnl builds and parses the messages; sending and receiving are done
/// here on the raw socket so that every reply is matched to its request by sequence number,
/// the kernel's errno and extended-ack text survive (libnl folds errnos into coarser `NLE_*`
/// codes), and many requests can share one system call (`performBatch`).
extension NetlinkHandle {
    /// Sends `message` with NLM_F_ACK and waits for the acknowledgement. Replies that arrive
    /// before it (the answer to a GET) go to `reply`.
    package func perform(_ message: borrowing Message, _ operation: @autoclosure () -> String, link: String? = nil,
                 reply: (UnsafeMutablePointer<nlmsghdr>) throws(NetlinkError) -> Void = { _ in }) throws(NetlinkError) {
        let header = message.header
        let seq = nextSequence()
        header.pointee.nlmsg_seq = seq
        header.pointee.nlmsg_flags |= UInt16(NLM_F_REQUEST | NLM_F_ACK)
        try send(UnsafeRawPointer(header), count: Int(header.pointee.nlmsg_len), operation())

        var failure: NetlinkError?
        try receive(operation()) { (message) throws(NetlinkError) -> Bool in
            guard message.pointee.nlmsg_seq == seq else { return false }  // a stale reply
            switch Int32(message.pointee.nlmsg_type) {
            case NLMSG_ERROR:
                let (code, text) = Self.errorPayload(message)
                if code != 0, failure == nil {
                    failure = .system(code, operation(), kernelMessage: text, link: link)
                }
                return true
            case NLMSG_DONE, NLMSG_NOOP, NLMSG_OVERRUN:
                return false
            default:
                if failure == nil {
                    do throws(NetlinkError) { try reply(message) } catch { failure = error }
                }
                return false
            }
        }
        if let failure { throw failure }
    }

    /// Runs a dump (`request` must carry NLM_F_DUMP) and parses every object with `parse`.
    /// A dump the kernel marks as interrupted by a concurrent change (NLM_F_DUMP_INTR) is
    /// inconsistent, so it is thrown away and retried a few times.
    package func dump<T>(_ operation: @autoclosure () -> String, request: () throws(NetlinkError) -> Message,
                 parse: (UnsafeMutablePointer<nlmsghdr>) -> T?) throws(NetlinkError) -> [T] {
        for _ in 0..<5 {
            let message = try request()
            let header = message.header
            let seq = nextSequence()
            header.pointee.nlmsg_seq = seq
            header.pointee.nlmsg_flags |= UInt16(NLM_F_REQUEST | NLM_F_DUMP)
            try send(UnsafeRawPointer(header), count: Int(header.pointee.nlmsg_len), operation())

            var results: [T] = []
            var interrupted = false
            var failure: NetlinkError?
            try receive(operation()) { message in
                guard message.pointee.nlmsg_seq == seq else { return false }
                if Int32(message.pointee.nlmsg_flags) & NLM_F_DUMP_INTR != 0 { interrupted = true }
                switch Int32(message.pointee.nlmsg_type) {
                case NLMSG_DONE, NLMSG_ERROR:
                    let (code, text) = Self.errorPayload(message)
                    if code != 0 { failure = .system(code, operation(), kernelMessage: text) }
                    return true
                case NLMSG_NOOP, NLMSG_OVERRUN:
                    return false
                default:
                    if let value = parse(message) { results.append(value) }
                    return false
                }
            }
            if let failure { throw failure }
            if !interrupted { return results }
        }
        throw .system(EAGAIN, operation(), kernelMessage: "dump interrupted by concurrent changes 5 times")
    }

    /// Sends `count` independent requests, `window` of them per datagram, and reports failures.
    ///
    /// Requests go out without NLM_F_ACK, followed by a NOOP that asks for one. The kernel
    /// handles a datagram's messages in order and always answers a failed request with an
    /// error (the ACK flag only adds answers for successes), so once the NOOP's ack arrives
    /// every failure before it has been seen: no error is lost, yet a window of requests costs
    /// two system calls instead of two per request. The window is small enough that error
    /// replies for all of it fit in the receive buffer; if they did not, the kernel would
    /// report ENOBUFS and this throws `.noBufferSpace` rather than claiming success.
    ///
    /// Every request is attempted; returns the failures by request index.
    package func performBatch(count: Int, _ operation: (Int) -> String,
                      build: (Int) throws(NetlinkError) -> Message) throws(NetlinkError) -> [(Int, NetlinkError)] {
        var failures: [(Int, NetlinkError)] = []
        var datagram: [UInt8] = []
        var start = 0
        while start < count {
            let end = min(count, start + window)
            datagram.removeAll(keepingCapacity: true)
            let first = sequence &+ 1
            for index in start..<end {
                let message = try build(index)
                let header = message.header
                header.pointee.nlmsg_seq = nextSequence()
                header.pointee.nlmsg_flags = (header.pointee.nlmsg_flags | UInt16(NLM_F_REQUEST)) & ~UInt16(NLM_F_ACK)
                let length = Int(header.pointee.nlmsg_len)
                datagram.append(contentsOf: UnsafeRawBufferPointer(start: header, count: length))
                datagram.append(contentsOf: repeatElement(0, count: (4 - length % 4) % 4))
            }
            let barrier = nextSequence()
            var noop = nlmsghdr(nlmsg_len: 16, nlmsg_type: UInt16(NLMSG_NOOP),
                                nlmsg_flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), nlmsg_seq: barrier, nlmsg_pid: 0)
            withUnsafeBytes(of: &noop) { datagram.append(contentsOf: $0) }
            let sent = datagram.withUnsafeBytes { bytes in
                Result { () throws(NetlinkError) in try send(bytes.baseAddress!, count: bytes.count, operation(start)) }
            }
            try sent.get()

            try receive(operation(start)) { message in
                let seq = message.pointee.nlmsg_seq
                guard Int32(message.pointee.nlmsg_type) == NLMSG_ERROR else { return false }
                if seq == barrier { return true }
                let offset = Int(seq &- first)
                guard offset >= 0, offset < end - start else { return false }  // stale
                let (code, text) = Self.errorPayload(message)
                if code != 0 {
                    failures.append((start + offset, .system(code, operation(start + offset), kernelMessage: text)))
                }
                return false
            }
            start = end
        }
        return failures
    }

    // MARK: - Socket I/O

    func send(_ bytes: UnsafeRawPointer, count: Int, _ operation: @autoclosure () -> String) throws(NetlinkError) {
        while true {
            let sent = Glibc.send(fd, bytes, count, 0)
            if sent == count { return }
            if sent >= 0 { throw .system(EMSGSIZE, operation(), kernelMessage: "short send") }
            if errno == EINTR { continue }
            throw .system(errno, operation())
        }
    }

    /// Reads datagrams and hands each message to `handle` until it returns true.
    func receive(_ operation: @autoclosure () -> String,
                 _ handle: (UnsafeMutablePointer<nlmsghdr>) throws(NetlinkError) -> Bool) throws(NetlinkError) {
        let base = receiveBuffer.baseAddress!
        while true {
            // MSG_TRUNC makes recv report a datagram's full length, so a truncated one is an
            // error instead of silently lost objects.
            let received = recv(fd, base, receiveBuffer.count, Int32(MSG_TRUNC))
            if received < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw .system(ETIMEDOUT, operation(), kernelMessage: "no reply from the kernel")
                }
                throw .system(errno, operation())
            }
            if received > receiveBuffer.count {
                throw .system(EMSGSIZE, operation(), kernelMessage: "reply of \(received) bytes truncated")
            }
            var offset = 0
            while offset + 16 <= received {
                let message = (base + offset).assumingMemoryBound(to: nlmsghdr.self)
                let length = Int(message.pointee.nlmsg_len)
                guard length >= 16, offset + length <= received else { break }
                if try handle(message) { return }
                offset += (length + 3) & ~3
            }
        }
    }

    /// The errno (positive; 0 for an ack) and extended-ack text of an NLMSG_ERROR or
    /// NLMSG_DONE message.
    static func errorPayload(_ message: UnsafeMutablePointer<nlmsghdr>) -> (Int32, String?) {
        let raw = UnsafeRawPointer(message)
        let length = Int(message.pointee.nlmsg_len)
        guard length >= 20 else { return (0, nil) }
        let code = -raw.loadUnaligned(fromByteOffset: 16, as: Int32.self)
        let flags = Int32(message.pointee.nlmsg_flags)
        guard flags & NLM_F_ACK_TLVS != 0 else { return (code, nil) }

        // TLVs follow the payload: after the int for DONE; for ERROR after the echoed request,
        // which is only its header when the ack is capped.
        var offset = 20
        if Int32(message.pointee.nlmsg_type) == NLMSG_ERROR {
            offset += flags & NLM_F_CAPPED != 0
                ? 16 : Int(raw.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
        }
        while offset + 4 <= length {
            let attrLength = Int(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = Int32(raw.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)) & 0x3fff
            guard attrLength >= 4, offset + attrLength <= length else { break }
            if type == Int32(NLMSGERR_ATTR_MSG.rawValue) {
                let text = UnsafeRawBufferPointer(start: raw + offset + 4, count: attrLength - 4)
                return (code, String(decoding: text.prefix { $0 != 0 }, as: UTF8.self))
            }
            offset += (attrLength + 3) & ~3
        }
        return (code, nil)
    }
}
