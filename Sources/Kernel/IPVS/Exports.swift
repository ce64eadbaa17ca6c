// What this module builds on is part of its interface: users import one module.
@_exported public import IPVSModel
