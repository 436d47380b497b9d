// Drives a tickroom server with Node's ws client: echo of text, binary,
// large and fragmented messages, then broadcast between three clients.
// Usage: node interop.mjs ws://127.0.0.1:PORT
// Exits 0 when every check passes, 1 on the first mismatch or error.
import WebSocket from 'ws';

const base = process.argv[2];
if (!base) {
  console.error('usage: node interop.mjs ws://host:port');
  process.exit(2);
}

const timer = setTimeout(() => fail('timed out'), 20000);

function fail(msg) {
  console.error('interop: FAIL:', msg);
  process.exit(1);
}

function check(cond, msg) {
  if (!cond) fail(msg);
}

function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path, ['tickroom.v1']);
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function next(ws) {
  return new Promise((resolve, reject) => {
    const onClose = (code, reason) => reject(new Error(`closed by the server: ${code} ${reason}`));
    ws.once('close', onClose);
    ws.once('message', (data, isBinary) => {
      ws.off('close', onClose);
      resolve({ data, isBinary });
    });
    ws.once('error', reject);
  });
}

async function echo() {
  const ws = await open('/echo');
  check(ws.protocol === 'tickroom.v1', `subprotocol ${JSON.stringify(ws.protocol)}`);

  const cases = [
    { name: 'text', send: 'hello from node ✓', binary: false },
    { name: 'binary', send: Buffer.from([0, 1, 2, 253, 254, 255]), binary: true },
    { name: 'large binary', send: Buffer.alloc(200 * 1024, 7), binary: true },
    { name: 'large text', send: 'ü'.repeat(100 * 1024), binary: false },
  ];
  for (const c of cases) {
    const got = next(ws);
    ws.send(c.send, { binary: c.binary });
    const { data, isBinary } = await got;
    check(isBinary === c.binary, `${c.name}: binary=${isBinary}`);
    const want = Buffer.isBuffer(c.send) ? c.send : Buffer.from(c.send, 'utf8');
    check(Buffer.compare(Buffer.from(data), want) === 0, `${c.name}: payload differs (${data.length} vs ${want.length} bytes)`);
  }

  // Fragmented: ws sends one frame per send({fin:false}) call.
  const parts = ['frag', 'ment', 'é', 'd ✓'];
  const got = next(ws);
  parts.forEach((p, i) => ws.send(p, { fin: i === parts.length - 1, binary: false }));
  const { data, isBinary } = await got;
  check(!isBinary && data.toString('utf8') === parts.join(''), `fragmented: got ${JSON.stringify(data.toString())}`);

  await new Promise((resolve) => {
    ws.once('close', (code) => {
      check(code === 1000, `close code ${code}`);
      resolve();
    });
    ws.close(1000, 'done');
  });
}

async function broadcast() {
  const clients = await Promise.all([open('/broadcast'), open('/broadcast'), open('/broadcast')]);
  // Wait until the server has accepted all three: each says hello and the
  // others must hear it.
  const heard = clients.map((c) => {
    const msgs = [];
    c.on('message', (d) => msgs.push(d.toString()));
    return msgs;
  });
  await new Promise((r) => setTimeout(r, 100));
  clients.forEach((c, i) => c.send(`hello from ${i}`));
  const deadline = Date.now() + 10000;
  while (heard.some((m) => m.length < 2) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  heard.forEach((msgs, i) => {
    const want = [0, 1, 2].filter((j) => j !== i).map((j) => `hello from ${j}`).sort();
    check(JSON.stringify([...msgs].sort()) === JSON.stringify(want), `client ${i} heard ${JSON.stringify(msgs)}`);
  });
  clients.forEach((c) => c.close(1000));
}

try {
  await echo();
  await broadcast();
} catch (err) {
  fail(err && err.stack ? err.stack : String(err));
}
clearTimeout(timer);
console.log('interop: ok');
