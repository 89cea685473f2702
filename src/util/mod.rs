//! Leaf primitives that every layer may use (see `docs/design.md`, "Layers"): they import
//! nothing of gorun's but `loom`, so the runtime, the reactor and the user-facing modules can
//! all share them without an import running back up.

pub(crate) mod coop;
pub(crate) mod lock;
pub(crate) mod threads;
pub(crate) mod wait;
pub(crate) mod wake_list;
