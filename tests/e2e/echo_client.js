"use strict";
// Drives an echo server with the npm "ws" client:  node echo_client.js ws://127.0.0.1:PORT/
// Prints one JSON line per case, {"case": name, "ok": bool, "detail": text}, and exits 0 once every
// case ran (the Python test judges the lines). "ws" is found through NODE_PATH.
const WebSocket = require("ws");

const url = process.argv[2];
const socket = new WebSocket(url, { perMessageDeflate: false });
const inbox = [];
let waiting = null;

function arrive(item) {
  if (waiting) {
    const resolve = waiting;
    waiting = null;
    resolve(item);
  } else {
    inbox.push(item);
  }
}

socket.on("message", (data, isBinary) => arrive({ kind: isBinary ? "binary" : "text", data }));
socket.on("pong", (data) => arrive({ kind: "pong", data }));
socket.on("close", (code, reason) => arrive({ kind: "close", code, reason: reason.toString("utf8") }));
socket.on("error", (error) => arrive({ kind: "error", data: String(error) }));

function next() {
  if (inbox.length) return Promise.resolve(inbox.shift());
  return new Promise((resolve) => { waiting = resolve; });
}

function report(name, ok, detail) {
  console.log(JSON.stringify({ case: name, ok, detail }));
}

// Deterministic bytes (a xorshift generator), so that a failure can be reproduced.
function bytes(length, seed) {
  const out = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function textOf(length) {
  // Multi-byte UTF-8 (1 to 4 bytes a character) cut to whole characters, then padded to `length` bytes.
  const unit = Buffer.from("aé€𝄞", "utf8");  // 1 + 2 + 3 + 4 bytes
  const whole = Buffer.alloc(Math.floor(length / unit.length) * unit.length);
  for (let i = 0; i < whole.length; i += unit.length) unit.copy(whole, i);
  return whole.toString("utf8") + "x".repeat(length - whole.length);
}

async function echo(name, fragments, kind) {
  // Each fragment goes out in its own frame (fin only on the last); the echo comes back whole.
  const binary = kind === "binary";
  fragments.forEach((fragment, i) => socket.send(fragment, { binary, fin: i === fragments.length - 1 }));
  const expected = Buffer.concat(fragments.map((f) => Buffer.from(f)));
  const got = await next();
  const data = got.data === undefined ? Buffer.alloc(0) : Buffer.from(got.data);
  const ok = got.kind === kind && data.equals(expected);
  report(name, ok, `sent ${kind} ${expected.length} B in ${fragments.length} frame(s), got ${got.kind} ${data.length} B`);
}

async function main() {
  await new Promise((resolve, reject) => { socket.once("open", resolve); socket.once("error", reject); });
  const euro = Buffer.from("€", "utf8");
  await echo("text", [Buffer.from("hello, wscodec")], "text");
  await echo("text-multibyte", [Buffer.from("héllo wörld — 你好 🌍", "utf8")], "text");
  await echo("binary", [bytes(32, 1)], "binary");
  await echo("empty-text", [Buffer.alloc(0)], "text");
  await echo("empty-binary", [Buffer.alloc(0)], "binary");
  for (const size of [125, 126, 65535, 65536]) {
    await echo(`binary-${size}`, [bytes(size, size)], "binary");
    await echo(`text-${size}`, [Buffer.from(textOf(size), "utf8")], "text");
  }
  await echo("binary-1MiB", [bytes(1 << 20, 7)], "binary");
  await echo("text-1MiB", [Buffer.from(textOf(1 << 20), "utf8")], "text");
  // A text message split inside a 3-byte character: valid only as a whole.
  await echo("fragmented-text", [Buffer.from("price: "), euro.subarray(0, 1), euro.subarray(1), Buffer.from(" 5")], "text");
  await echo("fragmented-binary", [bytes(1000, 3), Buffer.alloc(0), bytes(70000, 4)], "binary");

  const pingData = Buffer.from("are you there?");
  socket.ping(pingData);
  const pong = await next();
  report("ping", pong.kind === "pong" && Buffer.from(pong.data).equals(pingData), `got ${pong.kind}`);

  socket.close(4000, "bye ✓");
  const closed = await next();
  report("close", closed.kind === "close" && closed.code === 4000 && closed.reason === "bye ✓",
         `got ${closed.kind} ${closed.code} ${JSON.stringify(closed.reason)}`);
}

main().catch((error) => {
  report("error", false, String(error && error.stack || error));
  process.exitCode = 1;
}).finally(() => socket.terminate());
