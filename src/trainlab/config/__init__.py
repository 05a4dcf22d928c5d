"""Config checking: typed schemas, instantiation checked against signatures, user errors."""
