import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** Header names as they came over the wire, in order. */
  names: string[];
  body: Buffer;
}

/**
 * Sends bytes exactly as given (no client-side validation, so malformed requests reach the
 * server) and reads one response. Resolves null when the server closed without answering.
 */
export function rawRequest(
  port: number,
  request: Buffer,
  timeoutMs = 3000,
): Promise<RawResponse | null> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(parse(Buffer.concat(chunks)));
    };
    sock.setTimeout(timeoutMs, finish);
    sock.on('error', finish);
    sock.on('close', finish);
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      const r = parse(Buffer.concat(chunks));
      if (r && complete(r)) finish();
    });
    sock.on('connect', () => {
      // write, not end: a client that half-closes before reading gets no answer from Node.
      sock.write(request);
    });
  });
}

function complete(r: RawResponse): boolean {
  const len = r.headers['content-length'];
  return len !== undefined && r.body.length >= Number(len);
}

function parse(buf: Buffer): RawResponse | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const head = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '');
  if (!m) return null;
  const headers: Record<string, string> = {};
  const names: string[] = [];
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim();
    names.push(name);
    headers[name.toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers, names, body: buf.subarray(end + 4) };
}

export function buildRequest(
  method: string,
  path: string,
  headers: [string, string][],
  body: Buffer | undefined,
  contentLength?: number,
): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of headers) lines.push(`${k}: ${v}`);
  if (body !== undefined || contentLength !== undefined) {
    lines.push(`Content-Length: ${String(contentLength ?? body?.length ?? 0)}`);
  }
  return Buffer.concat([
    Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'),
    body ?? Buffer.alloc(0),
  ]);
}
