"use strict";
// Drives an echo server with the npm "ws" client, one connection per URL in turn:
//   node echo_client.js ws://127.0.0.1:PORT/ DEFLATE [ws://127.0.0.1:PORT/ DEFLATE ...]
// DEFLATE is the JSON of ws' perMessageDeflate option (false: no offer; true: its default offer; an
// object: its parameters). Prints one JSON line per case, {"run": index of the URL, "case": name,
// "ok": bool, "detail": text, ...}, and exits 0 once every case of every connection ran (the Python
// test judges the lines). The first case, "open", also carries what was negotiated; each echo case,
// the bytes it echoed. "ws" is found through NODE_PATH. (Starting node costs about half a second, so
// one process makes every connection.)
const WebSocket = require("ws");

let run = 0;
let socket = null;
let inbox = [];
let waiting = null;
let closed = false;  // the connection is gone: nothing more will arrive
let answer = null;  // the server's Sec-WebSocket-Extensions, as sent
let finished = false;

function arrive(item) {
  if (waiting) {
    const resolve = waiting;
    waiting = null;
    resolve(item);
  } else {
    inbox.push(item);
  }
}

function connect(url, deflate) {
  inbox = [];
  waiting = null;
  closed = false;
  answer = null;
  socket = new WebSocket(url, { perMessageDeflate: deflate });
  socket.on("upgrade", (response) => { answer = response.headers["sec-websocket-extensions"] ?? null; });
  socket.on("message", (data, isBinary) => arrive({ kind: isBinary ? "binary" : "text", data }));
  socket.on("pong", (data) => arrive({ kind: "pong", data }));
  socket.on("close", (code, reason) => {
    closed = true;
    arrive({ kind: "close", code, reason: reason.toString("utf8") });
  });
  socket.on("error", (error) => arrive({ kind: "error", data: String(error) }));
}

function next() {
  if (inbox.length) return Promise.resolve(inbox.shift());
  // After the close, waiting would never end (and node would exit as if all went well).
  if (closed) return Promise.resolve({ kind: "nothing (closed)" });
  return new Promise((resolve) => { waiting = resolve; });
}

function report(name, ok, detail, extra = {}) {
  console.log(JSON.stringify({ run, case: name, ok, detail, ...extra }));
}

// Deterministic bytes (a xorshift generator): they do not compress, and a failure can be reproduced.
function bytes(length, seed) {
  const out = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// Bytes that compress well at every window: a period under 250 bytes, the farthest zlib reaches back
// with a 9-bit window (the window less its 262-byte lookahead).
function repetitive(length) {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = i % 200;
  return out;
}

function textOf(length) {
  // Multi-byte UTF-8 (1 to 4 bytes a character) cut to whole characters, then padded to `length` bytes.
  const unit = Buffer.from("aé€𝄞", "utf8");  // 1 + 2 + 3 + 4 bytes
  const whole = Buffer.alloc(Math.floor(length / unit.length) * unit.length);
  for (let i = 0; i < whole.length; i += unit.length) unit.copy(whole, i);
  return whole.toString("utf8") + "x".repeat(length - whole.length);
}

async function echo(name, fragments, kind, pings = false) {
  // Each fragment goes out in its own frame (fin only on the last); with `pings`, a ping follows every
  // fragment but the last. The server answers each ping as it arrives, so the pongs, carrying their
  // pings' payloads in order, come before the echo, which comes back whole.
  const binary = kind === "binary";
  const pinged = [];
  fragments.forEach((fragment, i) => {
    const last = i === fragments.length - 1;
    socket.send(fragment, { binary, fin: last });
    if (pings && !last) {
      pinged.push(Buffer.from(`${name} ${i}`));
      socket.ping(pinged[pinged.length - 1]);
    }
  });
  const expected = Buffer.concat(fragments.map((f) => Buffer.from(f)));
  const problems = [];
  for (const payload of pinged) {
    const pong = await next();
    if (pong.kind !== "pong" || !Buffer.from(pong.data).equals(payload)) {
      problems.push(`wanted a pong ${JSON.stringify(payload.toString())}, got ${pong.kind} ${pong.data}`);
    }
  }
  const got = await next();
  const data = got.data === undefined ? Buffer.alloc(0) : Buffer.from(got.data);
  const ok = problems.length === 0 && got.kind === kind && data.equals(expected);
  report(name, ok,
         `sent ${kind} ${expected.length} B in ${fragments.length} frame(s) and ${pinged.length} ping(s), ` +
         `got ${got.kind} ${data.length} B ${problems.join("; ")}`,
         { bytes: expected.length });
}

// Cut `buffer` at these offsets (inside characters too: a text message need only be valid UTF-8 whole).
function cut(buffer, offsets) {
  return [0, ...offsets].map((start, i) => buffer.subarray(start, i < offsets.length ? offsets[i] : buffer.length));
}

async function session(url, deflate) {
  connect(url, deflate);
  await new Promise((resolve, reject) => { socket.once("open", resolve); socket.once("error", reject); });
  const agreed = socket._extensions["permessage-deflate"];  // ws' own view of the agreement, if any
  report("open", true, `extensions ${JSON.stringify(answer)}`, {
    extensions: answer,
    names: socket.extensions,
    params: agreed ? agreed.params : null,
    port: socket._socket.localPort,
  });
  const euro = Buffer.from("€", "utf8");
  await echo("text", [Buffer.from("hello, wscodec")], "text");
  await echo("text-multibyte", [Buffer.from("héllo wörld — 你好 🌍", "utf8")], "text");
  await echo("binary", [bytes(32, 1)], "binary");
  await echo("empty-text", [Buffer.alloc(0)], "text");
  await echo("empty-binary", [Buffer.alloc(0)], "binary");
  for (const size of [1, 125, 126, 65535, 65536]) {
    await echo(`binary-${size}`, [bytes(size, size)], "binary");
    await echo(`text-${size}`, [Buffer.from(textOf(size), "utf8")], "text");
  }
  await echo("binary-1MiB", [bytes(1 << 20, 7)], "binary");
  await echo("text-1MiB", [Buffer.from(textOf(1 << 20), "utf8")], "text");
  // A text message split inside a 3-byte character: valid only as a whole.
  await echo("fragmented-text", [Buffer.from("price: "), euro.subarray(0, 1), euro.subarray(1), Buffer.from(" 5")], "text");
  await echo("fragmented-binary", [bytes(1000, 3), Buffer.alloc(0), bytes(70000, 4)], "binary");
  await echo("fragmented-text-pings",
             [Buffer.from("price: "), euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2), Buffer.from(" 5")],
             "text", true);
  await echo("fragmented-binary-pings", [bytes(1000, 5), Buffer.alloc(0), repetitive(70000), bytes(1, 6)], "binary", true);
  await echo("fragmented-text-1MiB-pings", cut(Buffer.from(textOf(1 << 20), "utf8"), [1, 65537, 365537]), "text", true);
  await echo("fragmented-empty-pings", [Buffer.alloc(0), Buffer.alloc(0)], "binary", true);

  const pingData = Buffer.from("are you there?");
  socket.ping(pingData);
  const pong = await next();
  report("ping", pong.kind === "pong" && Buffer.from(pong.data).equals(pingData), `got ${pong.kind}`);

  socket.close(4000, "bye ✓");
  const closed = await next();
  report("close", closed.kind === "close" && closed.code === 4000 && closed.reason === "bye ✓",
         `got ${closed.kind} ${closed.code} ${JSON.stringify(closed.reason)}`);
}

// Should node ever run out of things to wait for before the last case, say so and fail.
process.on("beforeExit", () => {
  if (!finished) {
    report("error", false, "node ran out of events before the last case");
    finished = true;
    process.exitCode = 1;
  }
});

async function main() {
  const args = process.argv.slice(2);
  for (run = 0; run < args.length / 2; run++) {
    try {
      await session(args[2 * run], JSON.parse(args[2 * run + 1]));
    } catch (error) {
      report("error", false, String(error && error.stack || error));
      process.exitCode = 1;
    } finally {
      socket.terminate();
    }
  }
  finished = true;
}

main();
