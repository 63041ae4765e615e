//! Selection networks for the median: Batcher's odd-even merge sort on `n` wires,
//! pruned to the comparators the median's wire depends on, run over blocks of
//! [`LANES`] outputs at once (each wire a short array the compiler vectorises), so a
//! 5×5 median costs a hundred or so min/max per pixel with no branches, as OpenCV's
//! sorting networks do.

/// Outputs per block for 32-bit keys: each wire is 256 bytes, a window's wires fit L1
/// (narrower keys take more lanes in the same bytes: see [`Network::run`]).
pub const LANES: usize = 64;

/// Largest window run by a network (11×11, 5×5×5); larger ones select instead. The
/// wires of a block then take 32 KiB, an L1 cache.
pub const MAX_WIRES: usize = 128;

/// What a kept comparator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    /// Both the minimum (to the lower wire) and the maximum.
    Both,
    /// Only the minimum: the upper wire is not read again.
    Min,
    /// Only the maximum: the lower wire is not read again.
    Max,
}

/// A comparator network that leaves sorted index `out` of its `n` inputs on wire `out`.
#[derive(Clone, Debug)]
pub struct Network {
    /// Wires.
    pub n: usize,
    /// The wire holding the result.
    pub out: usize,
    comps: Vec<(u16, u16, Write)>,
}

/// Batcher's odd-even merge sort for any `n` (comparators past `n` dropped: those wires
/// would hold +inf and never move), in order.
fn batcher(n: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut p = 1;
    while p < n {
        let mut k = p;
        while k >= 1 {
            let mut j = k % p;
            while j + k < n {
                for i in 0..k.min(n - j - k) {
                    if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                        out.push((i + j, i + j + k));
                    }
                }
                j += 2 * k;
            }
            k /= 2;
        }
        p *= 2;
    }
    out
}

impl Network {
    /// The network selecting the element at sorted index `n / 2` of `n` (scipy's
    /// median rank), for `1 <= n <= MAX_WIRES`.
    pub fn median(n: usize) -> Network {
        assert!((1..=MAX_WIRES).contains(&n), "a network of {n} wires");
        let out = n / 2;
        let mut needed = vec![false; n];
        needed[out] = true;
        let mut comps = Vec::new();
        for (a, b) in batcher(n).into_iter().rev() {
            let write = match (needed[a], needed[b]) {
                (false, false) => continue,
                (true, true) => Write::Both,
                (true, false) => Write::Min,
                (false, true) => Write::Max,
            };
            needed[a] = true;
            needed[b] = true;
            comps.push((a as u16, b as u16, write));
        }
        comps.reverse();
        Network { n, out, comps }
    }

    /// Comparators it runs.
    pub fn len(&self) -> usize {
        self.comps.len()
    }

    /// Whether it runs none (one wire).
    pub fn is_empty(&self) -> bool {
        self.comps.is_empty()
    }

    /// Runs the network over `wires`: `n` blocks of `L` keys, wire `k` at
    /// `wires[k * L..]`; the result is then on wire `out`. Compiled for AVX2 too
    /// (baseline x86-64 has no 32-bit min or max) and picked at run time.
    pub fn run<K: Copy + Ord, const L: usize>(&self, wires: &mut [K]) {
        assert!(wires.len() >= self.n * L);
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { self.run_avx2::<K, L>(wires) };
        }
        self.run_any::<K, L>(wires)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2<K: Copy + Ord, const L: usize>(&self, wires: &mut [K]) {
        self.run_any::<K, L>(wires)
    }

    #[inline(always)]
    fn run_any<K: Copy + Ord, const L: usize>(&self, wires: &mut [K]) {
        for &(a, b, write) in &self.comps {
            let (lo, hi) = wires.split_at_mut(b as usize * L);
            let x: &mut [K; L] = (&mut lo[a as usize * L..][..L])
                .try_into()
                .expect("a block of L");
            let y: &mut [K; L] = (&mut hi[..L]).try_into().expect("a block of L");
            match write {
                Write::Both => {
                    for (p, q) in x.iter_mut().zip(y.iter_mut()) {
                        let (s, t) = (*p, *q);
                        *p = s.min(t);
                        *q = s.max(t);
                    }
                }
                Write::Min => x
                    .iter_mut()
                    .zip(y.iter())
                    .for_each(|(p, &q)| *p = (*p).min(q)),
                Write::Max => y
                    .iter_mut()
                    .zip(x.iter())
                    .for_each(|(q, &p)| *q = (*q).max(p)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 0-1 principle: a comparator network sorts every input if it sorts every
    /// input of zeros and ones.
    #[test]
    fn batcher_sorts_every_binary_input() {
        for n in 1..=14usize {
            let net = batcher(n);
            for bits in 0u32..(1 << n) {
                let mut v: Vec<u32> = (0..n).map(|i| (bits >> i) & 1).collect();
                for &(a, b) in &net {
                    if v[a] > v[b] {
                        v.swap(a, b);
                    }
                }
                assert!(v.windows(2).all(|w| w[0] <= w[1]), "n {n} input {bits:b}");
            }
        }
    }

    #[test]
    fn pruned_networks_select_the_median() {
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as u32 % 37
        };
        for n in 1..=MAX_WIRES {
            let net = Network::median(n);
            assert!(net.len() <= batcher(n).len());
            let mut wires = vec![0u32; n * LANES];
            for _ in 0..4 {
                wires.iter_mut().for_each(|w| *w = next());
                let mut want: Vec<u32> = (0..LANES)
                    .map(|l| {
                        let mut v: Vec<u32> = (0..n).map(|k| wires[k * LANES + l]).collect();
                        v.sort_unstable();
                        v[n / 2]
                    })
                    .collect();
                net.run::<u32, LANES>(&mut wires);
                let got = wires[net.out * LANES..][..LANES].to_vec();
                assert_eq!(got, std::mem::take(&mut want), "n {n}");
            }
        }
    }
}
