use std::time::Duration;

/// What one batch may use. The host applies the stricter of its own ceilings and what
/// the plugin's manifest asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Fuel (about one unit per Wasm instruction) for one batch call, before the rows'
    /// allowance below.
    pub fuel: u64,
    /// Fuel added to a batch's budget per row it carries: interpreted guests (Python,
    /// JavaScript) pay far more per row than Rust, so a fixed budget would bind before
    /// the deadline does. A batch gets `fuel + rows × fuel_per_row`, at most
    /// `batch_fuel_cap`.
    pub fuel_per_row: u64,
    /// The most fuel any one batch gets, whatever its size: sized so the wall-clock
    /// deadline, not fuel, is what stops a slow runtime on a full batch.
    pub batch_fuel_cap: u64,
    /// Wall-clock time for one batch call, enforced by epoch interruption.
    pub deadline: Duration,
    /// Linear memory, in bytes, across the instance's memories.
    pub memory_bytes: u64,
    /// Bytes of outputs one batch may return (sum of keys, ids and JSON).
    pub output_bytes: u64,
    /// Bytes of log lines one batch may write (including captured stdout/stderr).
    pub log_bytes: u64,
    /// Rows per batch the host sends.
    pub batch_rows: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 500_000_000,
            // A JavaScript guest spends ~1.2 M per row; 3 M leaves it margin.
            fuel_per_row: 3_000_000,
            batch_fuel_cap: 8_000_000_000,
            deadline: Duration::from_secs(1),
            memory_bytes: 64 << 20,
            output_bytes: 8 << 20,
            log_bytes: 64 << 10,
            batch_rows: 1000,
        }
    }
}

/// The most a plugin may ask for, whatever its manifest says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ceilings {
    pub fuel: u64,
    pub memory_bytes: u64,
    pub batch_rows: u32,
}

impl Default for Ceilings {
    fn default() -> Self {
        Ceilings {
            fuel: 2_000_000_000,
            memory_bytes: 256 << 20,
            batch_rows: 10_000,
        }
    }
}

impl Limits {
    /// These limits, adjusted to a plugin's requests within the ceilings.
    pub fn for_request(
        self,
        ceilings: Ceilings,
        fuel: Option<u64>,
        memory_bytes: Option<u64>,
        batch_rows: Option<u32>,
    ) -> Limits {
        Limits {
            fuel: fuel.unwrap_or(self.fuel).min(ceilings.fuel),
            memory_bytes: memory_bytes
                .unwrap_or(self.memory_bytes)
                .min(ceilings.memory_bytes),
            batch_rows: batch_rows
                .unwrap_or(self.batch_rows)
                .clamp(1, ceilings.batch_rows),
            ..self
        }
    }

    /// The fuel a batch of `rows` rows runs with: the base, plus the rows' allowance,
    /// never more than the batch cap (nor less than the base).
    pub fn batch_fuel(&self, rows: usize) -> u64 {
        let allowance = self.fuel_per_row.saturating_mul(rows as u64);
        self.fuel
            .saturating_add(allowance)
            .min(self.batch_fuel_cap.max(self.fuel))
    }
}

/// The wasm stack the engine allows each call (engine-wide: it is a `Config` setting).
pub const MAX_WASM_STACK: usize = 512 << 10;

/// How often the epoch ticks; deadlines are whole ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_capped_by_ceilings() {
        let l = Limits::default().for_request(
            Ceilings::default(),
            Some(u64::MAX),
            Some(1 << 40),
            Some(0),
        );
        assert_eq!(l.fuel, Ceilings::default().fuel);
        assert_eq!(l.memory_bytes, Ceilings::default().memory_bytes);
        assert_eq!(l.batch_rows, 1);
        let l = Limits::default().for_request(Ceilings::default(), None, Some(1 << 20), None);
        assert_eq!(l.memory_bytes, 1 << 20);
        assert_eq!(l.fuel, Limits::default().fuel);
    }

    #[test]
    fn batch_fuel_grows_with_rows_up_to_the_cap() {
        let l = Limits::default();
        assert_eq!(l.batch_fuel(0), l.fuel);
        assert_eq!(l.batch_fuel(1000), l.fuel + 1000 * l.fuel_per_row);
        assert_eq!(l.batch_fuel(usize::MAX), l.batch_fuel_cap);
        // A base above the cap (a manifest's request) is still honoured whole.
        let big = Limits {
            fuel: l.batch_fuel_cap + 1,
            ..l
        };
        assert_eq!(big.batch_fuel(10), big.fuel);
    }
}
