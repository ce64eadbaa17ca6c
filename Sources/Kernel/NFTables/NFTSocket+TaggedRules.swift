extension NFTSocket {
    /// Deletes, in one transaction, every rule of `table`/`chain` whose comment satisfies
    /// `matches`. Plugins tag the rules they add for one container with a comment naming it,
    /// so this is how they remove exactly their own. Nothing happens when the table is absent.
    /// Returns how many rules were deleted.
    @discardableResult
    public func deleteRules(in table: Table, chain: String,
                            where matches: (String) -> Bool) throws(NFTablesError) -> Int {
        guard try tables(family: table.family).contains(table) else { return 0 }
        var tx = Transaction()
        var count = 0
        for r in try rules(in: table, chain: chain) {
            guard let comment = r.comment, matches(comment) else { continue }
            tx.delete(Rule(table, chain, []).withHandle(r.handle))
            count += 1
        }
        if count > 0 { try commit(tx) }
        return count
    }
}
