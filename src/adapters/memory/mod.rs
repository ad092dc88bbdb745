//! In-memory stores: the zero-set-up defaults. They keep nothing across a restart.
