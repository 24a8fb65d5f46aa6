//! Common Media Client Data (CTA-5004) codec — under construction.
