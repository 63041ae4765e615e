//! Results kept on the engine across runs (GPU buffers, or planes in RAM), least recently
//! used evicted first, under a byte budget. A second flow that shares an intermediate
//! with an earlier one skips its compute and its upload.

use super::value::Value;
use crate::key::Key;
use std::collections::HashMap;

/// The resident cache of one executor's engine.
pub(crate) struct Resident<F> {
    budget: u64,
    used: u64,
    tick: u64,
    entries: HashMap<Key, Entry<F>>,
}

struct Entry<F> {
    value: Value<F>,
    bytes: u64,
    used_at: u64,
}

impl<F: Clone> Resident<F> {
    pub fn new(budget: u64) -> Self {
        Resident {
            budget,
            used: 0,
            tick: 0,
            entries: HashMap::new(),
        }
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    pub fn set_budget(&mut self, budget: u64) {
        self.budget = budget;
        self.evict_to(budget);
    }

    /// Bytes held.
    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn contains(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }

    /// The value, marked as just used.
    pub fn get(&mut self, key: &Key) -> Option<Value<F>> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|e| {
            e.used_at = tick;
            e.value.clone()
        })
    }

    /// Keeps a value of `bytes`, evicting the least recently used to make room. A value
    /// larger than the whole budget is not kept.
    pub fn put(&mut self, key: Key, value: Value<F>, bytes: u64) {
        if bytes > self.budget || self.entries.contains_key(&key) {
            return;
        }
        self.evict_to(self.budget - bytes);
        self.tick += 1;
        self.used += bytes;
        self.entries.insert(
            key,
            Entry {
                value,
                bytes,
                used_at: self.tick,
            },
        );
    }

    fn evict_to(&mut self, limit: u64) {
        while self.used > limit {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used_at)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.used -= e.bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::SampleType;

    fn value(n: u32) -> Value<u32> {
        Value::new(vec![n], super::super::value::Meta::plain(SampleType::U8))
    }

    #[test]
    fn least_recently_used_goes_first_within_the_budget() {
        let k = |b: u8| Key::of_bytes(&[b]);
        let mut r = Resident::new(10);
        r.put(k(1), value(1), 4);
        r.put(k(2), value(2), 4);
        assert!(r.get(&k(1)).is_some()); // 2 is now the oldest
        r.put(k(3), value(3), 4);
        assert!(r.contains(&k(1)) && r.contains(&k(3)) && !r.contains(&k(2)));
        assert_eq!(r.used(), 8);
        r.put(k(4), value(4), 11);
        assert!(!r.contains(&k(4)), "larger than the budget");
        r.set_budget(0);
        assert_eq!(r.used(), 0);
    }
}
