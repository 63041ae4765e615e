//! The total order both backends compare f32 samples by: a sample's bits as an unsigned
//! key (ranks, extremes, the distinct values of a frame), so a rank or an extreme is one
//! input sample's exact bits on either backend.

/// The sample's bits as a key whose unsigned order is numeric order (-0 below +0, NaN
/// at the ends). Twin of `key` in shaders/rank.wgsl and shaders/threshold.wgsl; the
/// CPU twins' ranks, the GPU's min/max read-back and the distinct-values reduction
/// use it.
#[inline]
pub fn key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

/// The sample a key stands for.
#[inline]
pub fn from_key(k: u32) -> f32 {
    f32::from_bits(if k & 0x8000_0000 != 0 {
        k & 0x7fff_ffff
    } else {
        !k
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_like_numbers() {
        let v = [
            f32::NEG_INFINITY,
            -3.5,
            -0.0,
            0.0,
            1e-30,
            2.0,
            f32::INFINITY,
        ];
        for w in v.windows(2) {
            assert!(key(w[0]) < key(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in v {
            assert_eq!(from_key(key(x)).to_bits(), x.to_bits());
        }
    }
}
