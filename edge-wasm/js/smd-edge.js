'use strict';
// JS side of the edge verifier: flattens a Lambda@Edge request into four strings so each call
// crosses into WebAssembly once, and turns the compact answer into an outcome object.

const { Verifier } = require('./edge_wasm.js');

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
  return {
    verifyRequest(request, nowMs) {
      if (!request || typeof request.uri !== 'string') return { ok: false, code: 'malformed', status: 401 };
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
      const answer = inner.verifyParts(request.uri, ip, qs, headers, nowMs);
      if (answer.charCodeAt(0) === 43 /* + */) return { ok: true, uri: answer.slice(1) };
      const code = answer.slice(1);
      return { ok: false, code, status: code === 'revoked' ? 403 : 401 };
    },
    free() {
      inner.free();
    },
  };
}

module.exports = { createVerifier };
