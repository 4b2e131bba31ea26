//! tokentray-core's tests: the lifecycle over a simulated clock, its invariants
//! as properties, and self-renewing tokens. One binary, one module per subject.

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]

mod failures;
mod lifecycle;
mod properties;
mod self_renewal;
mod simulated;
