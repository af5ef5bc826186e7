import type { Server } from 'node:http';

/** A started side listener (health, metrics): the port it got and how to stop it. */
export interface Listening {
  port: number;
  close: () => Promise<void>;
}

/**
 * Starts `server` on host:port (0 picks a free port) and answers once it listens, or rejects with
 * the listen error (a port in use). `close` stops accepting and drops idle keep-alive connections,
 * so a probe's connection does not hold shutdown up.
 */
export async function listen(server: Server, port: number, host: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
