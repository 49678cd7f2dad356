import type { Server } from 'node:http';

/** Listens on host:port (0 picks a free port) and answers the port it got. */
export const listen = (server: Server, port: number, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error(`${host}:${port} is not a TCP address`));
      } else {
        resolve(address.port);
      }
    });
  });

/** Stops accepting, drops idle keep-alive connections, and waits for the rest. */
export const close = (server: Server): Promise<void> =>
  new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
