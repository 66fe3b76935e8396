// Helpers that run inside a network namespace (started with `ip netns exec <ns> node nshelper.mjs ...`)
// for the shaped-link test. Plain JavaScript, so they start in milliseconds without a TypeScript loader.
//
//   forward <socket-dir> <port>...   a unix socket per port, piped to 127.0.0.1:<port> in this
//                                    namespace: the test (in the root namespace) reaches services
//                                    here through the file system, without any address outside.
//   bulk-server <host> <port>        writes to every connection as fast as TCP lets it.
//   probe <iface> <interval-ms>      prints a JSON line of counters every interval: the interface's
//                                    rx/tx bytes, and per TCP peer port the bytes and segments
//                                    received (from ss); stdin `bulk <host> <port>` starts a bulk
//                                    download, `stop` ends it.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'forward') {
  const [dir, ...ports] = args;
  for (const port of ports) {
    const path = join(dir, `${port}.sock`);
    rmSync(path, { force: true });
    net
      .createServer((client) => {
        const upstream = net.connect(Number(port), '127.0.0.1');
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close);
        upstream.on('error', close);
      })
      .listen(path, () => process.stdout.write(`listening ${path}\n`));
  }
} else if (mode === 'bulk-server') {
  const [host, port] = args;
  const block = Buffer.alloc(64 * 1024, 0x5a);
  net
    .createServer((s) => {
      s.on('error', () => s.destroy());
      const pump = () => {
        while (!s.destroyed && s.write(block));
      };
      s.on('drain', pump);
      pump();
    })
    .listen(Number(port), host, () => process.stdout.write('listening\n'));
} else if (mode === 'probe') {
  const [iface, interval] = args;
  let bulk;
  let bulkBytes = 0;
  const stat = (name) => Number(readFileSync(`/sys/class/net/${iface}/statistics/${name}`, 'utf8'));
  const sockets = () => {
    // Two lines per socket: addresses, then the TCP info (bytes_received, segs_in).
    const out = execFileSync('ss', ['-tinH', 'state', 'established'], { encoding: 'utf8' });
    const byPort = {};
    let peer;
    for (const line of out.split('\n')) {
      // Address lines start at column 0; their info lines are indented.
      const addr = /^\S.*\s\S+:(\d+)\s+\S+:(\d+)\s*$/.exec(line);
      if (addr) {
        peer = addr[2];
        continue;
      }
      const bytes = /bytes_received:(\d+)/.exec(line);
      const segs = /segs_in:(\d+)/.exec(line);
      if (peer && bytes) {
        byPort[peer] ??= { bytes: 0, segs: 0 };
        const entry = byPort[peer];
        entry.bytes += Number(bytes[1]);
        entry.segs += segs ? Number(segs[1]) : 0;
      }
      peer = undefined;
    }
    return byPort;
  };
  const tick = () =>
    process.stdout.write(
      `${JSON.stringify({ t: Date.now(), rx: stat('rx_bytes'), tx: stat('tx_bytes'), bulk: bulkBytes, tcp: sockets() })}\n`,
    );
  setInterval(tick, Number(interval));
  tick();
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, host, port] = line.trim().split(/\s+/);
    if (cmd === 'bulk' && !bulk) {
      bulk = net.connect(Number(port), host);
      bulk.on('data', (d) => {
        bulkBytes += d.length;
      });
      bulk.on('error', () => undefined);
    } else if (cmd === 'stop') {
      bulk?.destroy();
      bulk = undefined;
    }
  });
  process.stdin.on('end', () => process.exit(0));
} else if (mode === 'who-backends') {
  const { createRequire } = await import('node:module');
  const grpc = createRequire(import.meta.url)('@grpc/grpc-js');
  const json = {
    serialize: (v) => Buffer.from(JSON.stringify(v)),
    deserialize: (b) => JSON.parse(b.toString()),
  };
  const who = {
    Who: {
      path: '/fedmesh.test.Who/Who',
      requestStream: false,
      responseStream: false,
      requestSerialize: json.serialize,
      requestDeserialize: json.deserialize,
      responseSerialize: json.serialize,
      responseDeserialize: json.deserialize,
    },
  };
  const started = [];
  for (const name of args) {
    const server = new grpc.Server();
    server.addService(who, { Who: (_call, callback) => callback(null, { backend: name }) });
    const port = await new Promise((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    started.push({ name, port });
  }
  process.stdout.write(`${JSON.stringify(started)}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
