'use strict';
// Lambda@Edge viewer-request handler (Node.js runtime; handler setting `index.handler`).
//
// The token check is token-core compiled to WebAssembly. Keys, options and the revocation list
// are bundled in config.json at package time (Lambda@Edge has no environment variables), so a
// key rotation or a new revocation is a new package version: `smd-cli edge package`, publish,
// then point the cache behaviour at the new version.

const { createVerifier } = require('./smd-edge.js');
const config = require('./config.json');

// One verifier per container: parsing keys and preparing HMAC state happens once, at cold start.
const verifier = createVerifier(config);
const rejectStatus = config.rejectStatus === 401 ? 401 : 403;
const DESCRIPTIONS = { 401: 'Unauthorized', 403: 'Forbidden' };

function deny(status) {
  return {
    status: String(status),
    statusDescription: DESCRIPTIONS[status],
    headers: {
      'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
      'content-type': [{ key: 'Content-Type', value: 'text/plain' }],
    },
    body: '',
  };
}

function log(code, record) {
  // One line per rejection: the code only, never the token, headers or key material.
  const requestId = record && record.cf && record.cf.config ? record.cf.config.requestId : undefined;
  console.log(JSON.stringify({ smd_token: 'rejected', code, requestId }));
}

exports.handler = async (event) => {
  const record = event && Array.isArray(event.Records) ? event.Records[0] : undefined;
  const request = record && record.cf ? record.cf.request : undefined;
  if (!request || typeof request !== 'object') {
    log('malformed_event', record);
    return deny(rejectStatus);
  }
  const outcome = verifier.verifyRequest(request, Date.now());
  if (outcome.ok) {
    // Query string and headers (CMCD included) pass through untouched.
    request.uri = outcome.uri;
    return request;
  }
  log(outcome.code, record);
  // A revoked session is blocked as SMD's AWS WAF rule would block it: 403.
  return deny(outcome.code === 'revoked' ? 403 : rejectStatus);
};
