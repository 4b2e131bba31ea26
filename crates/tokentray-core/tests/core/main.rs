//! tokentray-core's tests: the lifecycle over a simulated clock, its invariants
//! as properties, and self-renewing tokens. One binary, one module per subject.

mod lifecycle;
mod properties;
mod self_renewal;
