'use strict';
// JS side of the edge verifier. Per request it joins the Lambda@Edge request into one string,
// encodes it with TextEncoder.encodeInto straight into the verifier's buffer in WebAssembly memory,
// and calls in with numbers only; the answer is a number too (where the forwarded URI starts, or
// which rejection). Requests that are not ASCII take the string path (verifyParts), which gives the
// same outcome at a higher cost.

const { Verifier, linearMemory, rejectionCodes } = require('./edge_wasm.js');

const CODES = rejectionCodes().split(',');
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Requests above this many characters take the string path (the buffer never grows past it). */
const MAX_BUFFERED = 1 << 20;
/** Added by verifyBuffer to the start of a forwarded URI that is not the request URI's tail. */
const REWRITTEN = 1 << 30;

/**
 * @param {{keys: object, revoked?: object, profile?: string, leewaySecs?: number}} config
 * @returns {{verifyRequest(request: object, nowMs: number): {ok: true, uri: string} | {ok: false, code: string, status: number}, free(): void}}
 */
function createVerifier(config) {
  const inner = new Verifier(
    JSON.stringify(config.keys),
    { profile: config.profile || 'strict', leewaySecs: config.leewaySecs || 0 },
    config.revoked ? JSON.stringify(config.revoked) : undefined,
  );
  const wasmMemory = linearMemory();
  let capacity = 0;
  let view = new Uint8Array(0);
  /** A view of at least `len` bytes of the verifier's buffer (re-taken when memory grows). */
  function buffer(len) {
    if (len > capacity || view.buffer !== wasmMemory.buffer) {
      const ptr = inner.requestBuffer(Math.max(len, capacity));
      capacity = Math.max(len, capacity);
      view = new Uint8Array(wasmMemory.buffer, ptr, capacity);
    }
    return view;
  }
  buffer(4096);

  function rejection(code) {
    return { ok: false, code, status: code === 'revoked' ? 403 : 401 };
  }

  return {
    verifyRequest(request, nowMs) {
      if (!request || typeof request.uri !== 'string') return rejection('malformed');
      const uri = request.uri;
      let headers = '';
      const h = request.headers;
      if (h && typeof h === 'object') {
        for (const name in h) {
          const list = h[name];
          const first = Array.isArray(list) ? list[0] : list;
          if (first && typeof first.value === 'string') {
            headers += (headers ? '\0' : '') + name.toLowerCase() + '\0' + first.value;
          }
        }
      }
      const ip = typeof request.clientIp === 'string' ? request.clientIp : '';
      const qs = typeof request.querystring === 'string' ? request.querystring : '';
      const text = uri + ip + qs + headers;
      // ASCII only: one byte per character, so the string lengths are the byte lengths.
      const buffered = text.length <= MAX_BUFFERED && encodeAscii(text);
      if (!buffered) return viaStrings(inner, uri, ip, qs, headers, nowMs);
      const n = inner.verifyBuffer(uri.length, ip.length, qs.length, text.length, nowMs);
      if (n < 0) return rejection(CODES[-1 - n]);
      // Accepted: the forwarded URI is the URI's tail from byte n, or, flagged REWRITTEN, bytes
      // n..uri.length of the buffer.
      if (n < REWRITTEN) return { ok: true, uri: uri.slice(n) };
      return { ok: true, uri: decoder.decode(buffer(uri.length).subarray(n - REWRITTEN, uri.length)) };
    },
    free() {
      inner.free();
    },
  };

  /** Encodes `text` into the buffer; false when it is not all ASCII. */
  function encodeAscii(text) {
    const { read, written } = encoder.encodeInto(text, buffer(text.length));
    return read === text.length && written === text.length;
  }
}

/** The string path: four strings across the boundary, a `+uri` or `-code` answer back. */
function viaStrings(inner, uri, ip, qs, headers, nowMs) {
  const answer = inner.verifyParts(uri, ip, qs, headers, nowMs);
  if (answer.charCodeAt(0) === 43 /* + */) return { ok: true, uri: answer.slice(1) };
  const code = answer.slice(1);
  return { ok: false, code, status: code === 'revoked' ? 403 : 401 };
}

module.exports = { createVerifier };
