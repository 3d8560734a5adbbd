//! The process clock: real time, or real time plus an offset that an admin may move forward
//! (`--virtual-clock`) so a rulebook's months can be walked through in seconds.

use std::sync::atomic::{AtomicI64, Ordering};

use kehu_domain::Timestamp;

pub struct Clock {
    virtual_enabled: bool,
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new(virtual_enabled: bool, offset_ms: i64) -> Clock {
        Clock {
            virtual_enabled,
            offset_ms: AtomicI64::new(if virtual_enabled { offset_ms } else { 0 }),
        }
    }

    pub fn is_virtual(&self) -> bool {
        self.virtual_enabled
    }

    pub fn now(&self) -> Timestamp {
        let real = Timestamp::now().as_millisecond();
        Timestamp::from_millisecond(real + self.offset_ms.load(Ordering::Acquire)).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Acquire)
    }

    pub fn set_offset_ms(&self, ms: i64) {
        self.offset_ms.store(ms, Ordering::Release);
    }
}
