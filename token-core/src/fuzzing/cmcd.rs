//! CMCD invariants (under construction).
