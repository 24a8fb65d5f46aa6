//! Token invariants (under construction).
