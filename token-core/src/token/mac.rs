//! HMAC-SHA256 (RFC 2104) with the key's inner and outer states computed once per key.
//!
//! A verifier computes two MACs per request with the same key (the JWS signature and the
//! internal signature). Keying HMAC hashes one block for the inner and one for the outer pad;
//! keeping those two SHA-256 midstates saves four of the dozen or so compressions a request costs.
//! The midstates are as secret as the key, so they live in a zeroize-on-drop type — which the
//! `hmac` crate's state does not offer. The compression function is `sha2`'s (SHA-NI where the CPU
//! has it); only the HMAC framing is here, and it is checked against RFC 4231 and differentially
//! against the `hmac` crate.

// sha2 0.10 takes blocks as `GenericArray`, which generic-array 0.14.8 marks deprecated.
#![allow(deprecated)]

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest as _, Sha256, compress256};
use zeroize::{Zeroize, ZeroizeOnDrop};

const BLOCK: usize = 64;
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

/// The SHA-256 states after absorbing `key ^ ipad` and `key ^ opad`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PreparedKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl PreparedKey {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            let digest = Sha256::digest(key);
            block.iter_mut().zip(digest.iter()).for_each(|(b, d)| *b = *d);
        } else {
            block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
        }
        let mut pad = [0u8; BLOCK];
        let mut inner = IV;
        pad.iter_mut().zip(block.iter()).for_each(|(p, k)| *p = k ^ 0x36);
        compress256(&mut inner, &[GenericArray::from(pad)]);
        let mut outer = IV;
        pad.iter_mut().zip(block.iter()).for_each(|(p, k)| *p = k ^ 0x5c);
        compress256(&mut outer, &[GenericArray::from(pad)]);
        block.zeroize();
        pad.zeroize();
        Self { inner, outer }
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner =
            Stream { state: self.inner, buf: [0; BLOCK], filled: 0, total: BLOCK as u64 };
        for part in parts {
            inner.update(part);
        }
        let inner_digest = inner.finish();
        let mut outer =
            Stream { state: self.outer, buf: [0; BLOCK], filled: 0, total: BLOCK as u64 };
        outer.update(&inner_digest);
        outer.finish()
    }
}

/// A SHA-256 computation resumed from a midstate.
struct Stream {
    state: [u32; 8],
    buf: [u8; BLOCK],
    filled: usize,
    total: u64,
}

impl Stream {
    fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.filled > 0 {
            let take = (BLOCK - self.filled).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self.buf.get_mut(self.filled..self.filled + take) {
                dst.copy_from_slice(head);
            }
            self.filled += take;
            data = rest;
            if self.filled < BLOCK {
                return;
            }
            compress256(&mut self.state, &[GenericArray::from(self.buf)]);
            self.filled = 0;
        }
        let (blocks, tail) = data.as_chunks::<BLOCK>();
        for block in blocks {
            compress256(&mut self.state, &[GenericArray::from(*block)]);
        }
        if let Some(dst) = self.buf.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
        }
        self.filled = tail.len();
    }

    fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        // 0x80, then zeros up to 56 mod 64, then the 64-bit big-endian bit length.
        let zeros = (BLOCK + 55 - self.filled) % BLOCK;
        let mut pad = [0u8; BLOCK];
        if let Some(first) = pad.first_mut() {
            *first = 0x80;
        }
        self.update(pad.get(..=zeros).unwrap_or_default());
        self.update(&bits.to_be_bytes());
        debug_assert_eq!(self.filled, 0);
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac as _};

    fn reference(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(msg);
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn rfc4231() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
        };
        let cases: [(Vec<u8>, Vec<u8>, &str); 5] = [
            (vec![0x0b; 20], b"Hi There".to_vec(), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (b"Jefe".to_vec(), b"what do ya want for nothing?".to_vec(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (vec![0xaa; 20], vec![0xdd; 50], "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
            (vec![0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
            (vec![0xaa; 131], b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
        ];
        for (key, msg, want) in cases {
            assert_eq!(PreparedKey::new(&key).mac(&[&msg]).to_vec(), hex(want));
        }
    }

    #[test]
    fn matches_hmac_crate_for_every_length_and_split() {
        for key_len in [0, 1, 24, 63, 64, 65, 128, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let prepared = PreparedKey::new(&key);
            for msg_len in 0..200 {
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13 + 1) as u8).collect();
                let want = reference(&key, &msg);
                assert_eq!(prepared.mac(&[&msg]), want, "key {key_len} msg {msg_len}");
                let (a, b) = msg.split_at(msg_len / 3);
                assert_eq!(prepared.mac(&[a, b, &[]]), want, "split key {key_len} msg {msg_len}");
            }
        }
    }
}
