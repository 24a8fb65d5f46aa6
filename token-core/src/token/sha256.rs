//! The SHA-256 compression function (FIPS 180-4, section 6.2.2), written for WebAssembly.
//!
//! All 64 rounds are unrolled with the working variables renamed instead of shifted, and the
//! message schedule lives in sixteen locals updated in place. Alone, one block costs about what
//! `sha2`'s portable code costs in V8 (~100 ns); inside the verifier it is faster by about 5 % of
//! a whole request (measured in Node, see BENCHMARKS.md), since it inlines into the HMAC stream.
//! On x86-64 `sha2` uses SHA-NI, so native builds keep `sha2::compress256` and only wasm32 uses
//! this.
//!
//! This module computes one block; padding, lengths and HMAC framing are in `mac`. It is checked
//! against the FIPS 180-2 example digests and, by property test, against `sha2` on arbitrary
//! states and blocks.

/// One SHA-256 block compressed into `state`.
// Native builds compress with `sha2` (SHA-NI) and use this only in tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
#[allow(clippy::many_single_char_names)]
pub(crate) fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
    let mut words = [0u32; 16];
    for (word, bytes) in words.iter_mut().zip(block.as_chunks::<4>().0) {
        *word = u32::from_be_bytes(*bytes);
    }
    let [
        mut w0,
        mut w1,
        mut w2,
        mut w3,
        mut w4,
        mut w5,
        mut w6,
        mut w7,
        mut w8,
        mut w9,
        mut w10,
        mut w11,
        mut w12,
        mut w13,
        mut w14,
        mut w15,
    ] = words;
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;

    // One round; the caller passes the eight variables rotated so that nothing moves.
    macro_rules! round {
        ($a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident, $k:expr, $w:ident) => {
            let t1 = $h
                .wrapping_add($e.rotate_right(6) ^ $e.rotate_right(11) ^ $e.rotate_right(25))
                .wrapping_add(($e & $f) ^ (!$e & $g))
                .wrapping_add($k)
                .wrapping_add($w);
            let t2 = ($a.rotate_right(2) ^ $a.rotate_right(13) ^ $a.rotate_right(22))
                .wrapping_add(($a & $b) ^ ($a & $c) ^ ($b & $c));
            $d = $d.wrapping_add(t1);
            $h = t1.wrapping_add(t2);
        };
    }
    // W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16], with W[t-16] the slot being replaced.
    macro_rules! schedule {
        ($w16:ident, $w2:ident, $w7:ident, $w15:ident) => {
            $w16 = $w16
                .wrapping_add($w2.rotate_right(17) ^ $w2.rotate_right(19) ^ ($w2 >> 10))
                .wrapping_add($w7)
                .wrapping_add($w15.rotate_right(7) ^ $w15.rotate_right(18) ^ ($w15 >> 3));
        };
    }

    round!(a, b, c, d, e, f, g, h, 0x428a2f98, w0);
    round!(h, a, b, c, d, e, f, g, 0x71374491, w1);
    round!(g, h, a, b, c, d, e, f, 0xb5c0fbcf, w2);
    round!(f, g, h, a, b, c, d, e, 0xe9b5dba5, w3);
    round!(e, f, g, h, a, b, c, d, 0x3956c25b, w4);
    round!(d, e, f, g, h, a, b, c, 0x59f111f1, w5);
    round!(c, d, e, f, g, h, a, b, 0x923f82a4, w6);
    round!(b, c, d, e, f, g, h, a, 0xab1c5ed5, w7);
    round!(a, b, c, d, e, f, g, h, 0xd807aa98, w8);
    round!(h, a, b, c, d, e, f, g, 0x12835b01, w9);
    round!(g, h, a, b, c, d, e, f, 0x243185be, w10);
    round!(f, g, h, a, b, c, d, e, 0x550c7dc3, w11);
    round!(e, f, g, h, a, b, c, d, 0x72be5d74, w12);
    round!(d, e, f, g, h, a, b, c, 0x80deb1fe, w13);
    round!(c, d, e, f, g, h, a, b, 0x9bdc06a7, w14);
    round!(b, c, d, e, f, g, h, a, 0xc19bf174, w15);
    schedule!(w0, w14, w9, w1);
    round!(a, b, c, d, e, f, g, h, 0xe49b69c1, w0);
    schedule!(w1, w15, w10, w2);
    round!(h, a, b, c, d, e, f, g, 0xefbe4786, w1);
    schedule!(w2, w0, w11, w3);
    round!(g, h, a, b, c, d, e, f, 0x0fc19dc6, w2);
    schedule!(w3, w1, w12, w4);
    round!(f, g, h, a, b, c, d, e, 0x240ca1cc, w3);
    schedule!(w4, w2, w13, w5);
    round!(e, f, g, h, a, b, c, d, 0x2de92c6f, w4);
    schedule!(w5, w3, w14, w6);
    round!(d, e, f, g, h, a, b, c, 0x4a7484aa, w5);
    schedule!(w6, w4, w15, w7);
    round!(c, d, e, f, g, h, a, b, 0x5cb0a9dc, w6);
    schedule!(w7, w5, w0, w8);
    round!(b, c, d, e, f, g, h, a, 0x76f988da, w7);
    schedule!(w8, w6, w1, w9);
    round!(a, b, c, d, e, f, g, h, 0x983e5152, w8);
    schedule!(w9, w7, w2, w10);
    round!(h, a, b, c, d, e, f, g, 0xa831c66d, w9);
    schedule!(w10, w8, w3, w11);
    round!(g, h, a, b, c, d, e, f, 0xb00327c8, w10);
    schedule!(w11, w9, w4, w12);
    round!(f, g, h, a, b, c, d, e, 0xbf597fc7, w11);
    schedule!(w12, w10, w5, w13);
    round!(e, f, g, h, a, b, c, d, 0xc6e00bf3, w12);
    schedule!(w13, w11, w6, w14);
    round!(d, e, f, g, h, a, b, c, 0xd5a79147, w13);
    schedule!(w14, w12, w7, w15);
    round!(c, d, e, f, g, h, a, b, 0x06ca6351, w14);
    schedule!(w15, w13, w8, w0);
    round!(b, c, d, e, f, g, h, a, 0x14292967, w15);
    schedule!(w0, w14, w9, w1);
    round!(a, b, c, d, e, f, g, h, 0x27b70a85, w0);
    schedule!(w1, w15, w10, w2);
    round!(h, a, b, c, d, e, f, g, 0x2e1b2138, w1);
    schedule!(w2, w0, w11, w3);
    round!(g, h, a, b, c, d, e, f, 0x4d2c6dfc, w2);
    schedule!(w3, w1, w12, w4);
    round!(f, g, h, a, b, c, d, e, 0x53380d13, w3);
    schedule!(w4, w2, w13, w5);
    round!(e, f, g, h, a, b, c, d, 0x650a7354, w4);
    schedule!(w5, w3, w14, w6);
    round!(d, e, f, g, h, a, b, c, 0x766a0abb, w5);
    schedule!(w6, w4, w15, w7);
    round!(c, d, e, f, g, h, a, b, 0x81c2c92e, w6);
    schedule!(w7, w5, w0, w8);
    round!(b, c, d, e, f, g, h, a, 0x92722c85, w7);
    schedule!(w8, w6, w1, w9);
    round!(a, b, c, d, e, f, g, h, 0xa2bfe8a1, w8);
    schedule!(w9, w7, w2, w10);
    round!(h, a, b, c, d, e, f, g, 0xa81a664b, w9);
    schedule!(w10, w8, w3, w11);
    round!(g, h, a, b, c, d, e, f, 0xc24b8b70, w10);
    schedule!(w11, w9, w4, w12);
    round!(f, g, h, a, b, c, d, e, 0xc76c51a3, w11);
    schedule!(w12, w10, w5, w13);
    round!(e, f, g, h, a, b, c, d, 0xd192e819, w12);
    schedule!(w13, w11, w6, w14);
    round!(d, e, f, g, h, a, b, c, 0xd6990624, w13);
    schedule!(w14, w12, w7, w15);
    round!(c, d, e, f, g, h, a, b, 0xf40e3585, w14);
    schedule!(w15, w13, w8, w0);
    round!(b, c, d, e, f, g, h, a, 0x106aa070, w15);
    schedule!(w0, w14, w9, w1);
    round!(a, b, c, d, e, f, g, h, 0x19a4c116, w0);
    schedule!(w1, w15, w10, w2);
    round!(h, a, b, c, d, e, f, g, 0x1e376c08, w1);
    schedule!(w2, w0, w11, w3);
    round!(g, h, a, b, c, d, e, f, 0x2748774c, w2);
    schedule!(w3, w1, w12, w4);
    round!(f, g, h, a, b, c, d, e, 0x34b0bcb5, w3);
    schedule!(w4, w2, w13, w5);
    round!(e, f, g, h, a, b, c, d, 0x391c0cb3, w4);
    schedule!(w5, w3, w14, w6);
    round!(d, e, f, g, h, a, b, c, 0x4ed8aa4a, w5);
    schedule!(w6, w4, w15, w7);
    round!(c, d, e, f, g, h, a, b, 0x5b9cca4f, w6);
    schedule!(w7, w5, w0, w8);
    round!(b, c, d, e, f, g, h, a, 0x682e6ff3, w7);
    schedule!(w8, w6, w1, w9);
    round!(a, b, c, d, e, f, g, h, 0x748f82ee, w8);
    schedule!(w9, w7, w2, w10);
    round!(h, a, b, c, d, e, f, g, 0x78a5636f, w9);
    schedule!(w10, w8, w3, w11);
    round!(g, h, a, b, c, d, e, f, 0x84c87814, w10);
    schedule!(w11, w9, w4, w12);
    round!(f, g, h, a, b, c, d, e, 0x8cc70208, w11);
    schedule!(w12, w10, w5, w13);
    round!(e, f, g, h, a, b, c, d, 0x90befffa, w12);
    schedule!(w13, w11, w6, w14);
    round!(d, e, f, g, h, a, b, c, 0xa4506ceb, w13);
    schedule!(w14, w12, w7, w15);
    round!(c, d, e, f, g, h, a, b, 0xbef9a3f7, w14);
    schedule!(w15, w13, w8, w0);
    round!(b, c, d, e, f, g, h, a, 0xc67178f2, w15);

    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests {
    // sha2 0.10 takes blocks as `GenericArray`, which generic-array 0.14.8 marks deprecated.
    #![allow(deprecated)]

    use super::compress;
    use proptest::prelude::*;
    use sha2::compress256;
    use sha2::digest::generic_array::GenericArray;

    const IV: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];

    /// A whole SHA-256 digest over [`compress`]: FIPS 180-4 padding, then one call per block.
    fn digest(message: &[u8]) -> String {
        let mut padded = message.to_vec();
        padded.push(0x80);
        while padded.len() % 64 != 56 {
            padded.push(0);
        }
        padded.extend_from_slice(&(message.len() as u64 * 8).to_be_bytes());
        let mut state = IV;
        for block in padded.as_chunks::<64>().0 {
            compress(&mut state, block);
        }
        state.iter().map(|w| format!("{w:08x}")).collect()
    }

    /// The FIPS 180-2 appendix B examples (one block, two blocks, a million `a`) and the empty
    /// message (NIST's SHA-256 short-message vector of length 0).
    #[test]
    fn nist_examples() {
        assert_eq!(
            digest(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            digest(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            digest(&vec![b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        assert_eq!(digest(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    proptest! {
        #[test]
        fn matches_sha2_on_any_state_and_block(
            state in proptest::array::uniform8(any::<u32>()),
            block in proptest::collection::vec(any::<u8>(), 64),
        ) {
            let block: [u8; 64] = block.try_into().unwrap();
            let mut ours = state;
            compress(&mut ours, &block);
            let mut theirs = state;
            compress256(&mut theirs, &[GenericArray::from(block)]);
            prop_assert_eq!(ours, theirs);
        }
    }
}
