//! HMAC-SHA256 (RFC 2104) with the key's inner and outer states computed once per key.
//!
//! A verifier computes two MACs per request with the same key (the JWS signature and the
//! internal signature). Keying HMAC hashes one block for the inner and one for the outer pad;
//! keeping those two SHA-256 midstates saves four of the dozen or so compressions a request costs.
//! A key can also keep the inner state after a fixed first block of the message (the first 64
//! bytes of the encoded JWS header SMD writes for the kid), which saves one more per token.
//! The midstates are as secret as the key, so they live in a zeroize-on-drop type — which the
//! `hmac` crate's state does not offer. The compression function is `sha2`'s on native targets
//! (SHA-NI where the CPU has it) and [`super::sha256::compress`] on WebAssembly; only the HMAC
//! framing is here, and it is checked against RFC 4231 and differentially against the `hmac`
//! crate.

// sha2 0.10 takes blocks as `GenericArray`, which generic-array 0.14.8 marks deprecated.
#![allow(deprecated)]

use sha2::{Digest as _, Sha256};
#[cfg(not(target_arch = "wasm32"))]
use sha2::{compress256, digest::generic_array::GenericArray};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// One block into `state`: `sha2`'s code natively (SHA-NI where present), ours on WebAssembly,
/// where `sha2` only has its portable code.
#[inline]
fn compress(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    #[cfg(target_arch = "wasm32")]
    super::sha256::compress(state, block);
    #[cfg(not(target_arch = "wasm32"))]
    compress256(state, &[GenericArray::from(*block)]);
}

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

/// The SHA-256 states after absorbing `key ^ ipad` and `key ^ opad`, and optionally the inner
/// state after a fixed first message block as well.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PreparedKey {
    inner: [u32; 8],
    outer: [u32; 8],
    /// The first message block and the inner state after it, when one was given.
    prefix: Option<([u8; BLOCK], [u32; 8])>,
}

impl PreparedKey {
    /// Prepares `key`. When `prefix` is at least a block long, its first block is absorbed too,
    /// and [`PreparedKey::mac`] starts from there for messages that begin with it.
    pub(crate) fn new(key: &[u8], prefix: &[u8]) -> Self {
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
        compress(&mut inner, &pad);
        let mut outer = IV;
        pad.iter_mut().zip(block.iter()).for_each(|(p, k)| *p = k ^ 0x5c);
        compress(&mut outer, &pad);
        block.zeroize();
        pad.zeroize();
        let prefix = prefix.first_chunk::<BLOCK>().map(|first| {
            let mut state = inner;
            compress(&mut state, first);
            (*first, state)
        });
        Self { inner, outer, prefix }
    }

    /// HMAC-SHA256 over the concatenation of `parts`. When the first part starts with the
    /// prepared prefix block, hashing resumes after it.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner =
            Stream { state: self.inner, buf: [0; BLOCK], filled: 0, total: BLOCK as u64 };
        let mut parts = parts;
        if let (Some((block, state)), Some((first, rest))) = (&self.prefix, parts.split_first())
            && let Some((head, tail)) = first.split_first_chunk::<BLOCK>()
            && head == block
        {
            inner.state = *state;
            inner.total += BLOCK as u64;
            inner.update(tail);
            parts = rest;
        }
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
            compress(&mut self.state, &self.buf);
            self.filled = 0;
        }
        let (blocks, tail) = data.as_chunks::<BLOCK>();
        for block in blocks {
            compress(&mut self.state, block);
        }
        if let Some(dst) = self.buf.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
        }
        self.filled = tail.len();
    }

    fn finish(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        // 0x80 after the message, zeros, and the 64-bit big-endian bit length in the last 8 bytes
        // of a block: this one when the length still fits after the 0x80, else the next.
        let (_, tail) = self.buf.split_at_mut(self.filled.min(BLOCK - 1));
        if let Some((first, rest)) = tail.split_first_mut() {
            *first = 0x80;
            rest.fill(0);
        }
        if self.filled >= BLOCK - 8 {
            compress(&mut self.state, &self.buf);
            self.buf = [0; BLOCK];
        }
        if let Some(length) = self.buf.last_chunk_mut::<8>() {
            *length = bits.to_be_bytes();
        }
        compress(&mut self.state, &self.buf);
        let mut out = [0u8; 32];
        for (chunk, word) in out.as_chunks_mut::<4>().0.iter_mut().zip(self.state) {
            *chunk = word.to_be_bytes();
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
            assert_eq!(PreparedKey::new(&key, &[]).mac(&[&msg]).to_vec(), hex(want));
        }
    }

    #[test]
    fn matches_hmac_crate_for_every_length_and_split() {
        for key_len in [0, 1, 24, 63, 64, 65, 128, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let prepared = PreparedKey::new(&key, &[]);
            for msg_len in 0..200 {
                let msg: Vec<u8> = (0..msg_len).map(|i| (i * 13 + 1) as u8).collect();
                let want = reference(&key, &msg);
                assert_eq!(prepared.mac(&[&msg]), want, "key {key_len} msg {msg_len}");
                let (a, b) = msg.split_at(msg_len / 3);
                assert_eq!(prepared.mac(&[a, b, &[]]), want, "split key {key_len} msg {msg_len}");
            }
        }
    }

    #[test]
    fn prefix_block_gives_the_same_mac_whether_or_not_the_message_starts_with_it() {
        let key = b"a key of at least thirty-two bytes, for the prefix test";
        let prefix: Vec<u8> = (0..100u8).map(|i| b'A' + i % 26).collect();
        for prefix_len in [0, 10, 63, 64, 65, 100] {
            let prepared = PreparedKey::new(key, &prefix[..prefix_len]);
            assert_eq!(prepared.prefix.is_some(), prefix_len >= 64);
            for msg_len in [0, 1, 63, 64, 65, 100, 127, 128, 129, 300] {
                // Messages that start with the prefix block, and ones that differ in its last byte.
                let mut msg: Vec<u8> = prefix.iter().copied().cycle().take(msg_len).collect();
                let want = reference(key, &msg);
                assert_eq!(prepared.mac(&[&msg]), want, "prefix {prefix_len} msg {msg_len}");
                let (a, b) = msg.split_at(msg_len.min(70));
                assert_eq!(prepared.mac(&[a, b]), want, "split prefix {prefix_len} msg {msg_len}");
                if let Some(byte) = msg.get_mut(63) {
                    *byte ^= 1;
                    assert_eq!(prepared.mac(&[&msg]), reference(key, &msg), "changed {msg_len}");
                }
            }
        }
    }
}
