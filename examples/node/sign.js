// Sign agentworker broker submissions with a tenant API key (HMAC-SHA256).
//
// The signature covers the canonical form: the UTF-8 bytes of the JSON text of
//   {"task": TASK, "kwargs": KWARGS WITHOUT "auth", "timestamp": T, "nonce": N, "key": PREFIX}
// with object keys sorted at every level and no whitespace; non-ASCII characters are written
// as themselves. The key itself never travels: only its prefix (its first 12 characters).
"use strict";

const crypto = require("crypto");

const PREFIX_LENGTH = 12; // "awk_" + 8 characters

function canonicalJson(value) {
  if (Array.isArray(value)) {
    return "[" + value.map(canonicalJson).join(",") + "]";
  }
  if (value !== null && typeof value === "object") {
    return (
      "{" +
      Object.keys(value)
        .filter((name) => value[name] !== undefined)
        .sort()
        .map((name) => JSON.stringify(name) + ":" + canonicalJson(value[name]))
        .join(",") +
      "}"
    );
  }
  return JSON.stringify(value);
}

function canonicalForm(taskName, kwargs, { key, timestamp, nonce }) {
  const rest = Object.fromEntries(Object.entries(kwargs).filter(([name]) => name !== "auth"));
  return Buffer.from(
    canonicalJson({ task: taskName, kwargs: rest, timestamp, nonce, key }),
    "utf8",
  );
}

// kwargs with an "auth" field that signs them for taskName with the whole API key.
function signKwargs(taskName, kwargs, apiKey, options = {}) {
  const key = apiKey.slice(0, PREFIX_LENGTH);
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? crypto.randomBytes(16).toString("hex");
  const signature = crypto
    .createHmac("sha256", Buffer.from(apiKey, "utf8"))
    .update(canonicalForm(taskName, kwargs, { key, timestamp, nonce }))
    .digest("hex");
  const signed = Object.fromEntries(Object.entries(kwargs).filter(([name]) => name !== "auth"));
  signed.auth = { key, timestamp, nonce, signature };
  return signed;
}

module.exports = { canonicalForm, canonicalJson, signKwargs };
