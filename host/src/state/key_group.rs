//! Key groups: keys hash into a fixed number of groups (the job's `max_parallelism`), and
//! each parallel instance owns a contiguous range of groups, as in Flink.

use xxhash_rust::xxh3::xxh3_64;

/// The key group of `key`. Stable across runs, machines and versions (XXH3-64).
pub fn key_group(key: &[u8], max_parallelism: u32) -> u16 {
    (xxh3_64(key) % u64::from(max_parallelism)) as u16
}

/// The parallel instance that owns `group`.
pub fn owner_of(group: u16, parallelism: u32, max_parallelism: u32) -> usize {
    (u64::from(group) * u64::from(parallelism) / u64::from(max_parallelism)) as usize
}

/// A contiguous range of key groups, `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroupRange {
    /// First group.
    pub start: u16,
    /// Last group.
    pub end: u16,
}

impl KeyGroupRange {
    /// Whether `group` is in the range.
    pub fn contains(&self, group: u16) -> bool {
        (self.start..=self.end).contains(&group)
    }
}

/// The key groups parallel instance `subtask` of `parallelism` owns.
pub fn key_groups_of(subtask: u32, parallelism: u32, max_parallelism: u32) -> KeyGroupRange {
    let (i, p, m) = (
        u64::from(subtask),
        u64::from(parallelism),
        u64::from(max_parallelism),
    );
    KeyGroupRange {
        start: ((i * m).div_ceil(p)) as u16,
        end: (((i + 1) * m - 1) / p) as u16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_partition_the_groups_and_agree_with_owner_of() {
        for (p, m) in [(1, 128), (2, 128), (3, 128), (7, 100), (128, 128)] {
            let mut next = 0u32;
            for i in 0..p {
                let r = key_groups_of(i, p, m);
                assert_eq!(u32::from(r.start), next, "p={p} m={m} i={i}");
                for g in r.start..=r.end {
                    assert_eq!(owner_of(g, p, m), i as usize);
                }
                next = u32::from(r.end) + 1;
            }
            assert_eq!(next, m);
        }
    }

    #[test]
    fn groups_are_stable() {
        assert_eq!(key_group(b"campaign-1", 128), key_group(b"campaign-1", 128));
        assert!(key_group(b"x", 7) < 7);
    }
}
