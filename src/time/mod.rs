//! `gorun::time`: sleeping, timers, tickers and timeouts, fed by the runtime's timer wheel.

pub(crate) mod wheel;
