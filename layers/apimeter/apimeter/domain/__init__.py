"""Pure domain logic: no AWS, no I/O. Everything here is unit-tested in milliseconds."""
