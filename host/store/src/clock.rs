use std::sync::Mutex;

use time::{Duration, OffsetDateTime};

/// Where the store and the retention sweeper read the time: the system clock in
/// production, a [`SimClock`] in tests that must cross 30 days or 12 months.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct SimClock {
    now: Mutex<OffsetDateTime>,
}

impl SimClock {
    pub fn new(start: OffsetDateTime) -> SimClock {
        SimClock {
            now: Mutex::new(start),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    pub fn advance_days(&self, days: i64) {
        self.advance(Duration::days(days));
    }
}

impl Clock for SimClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
