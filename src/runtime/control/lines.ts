import type { Socket } from 'node:net';

/** Largest line either side accepts (an exec chunk of 1 MiB is about 1.4 MB of base64). */
export const MAX_LINE = 8 << 20;

/** Calls `onMessage` with each JSON object that arrives on `socket`, one per line; a bad or oversized line ends the socket. */
export function onJsonLines(socket: Socket, onMessage: (m: unknown) => void): void {
  let carry = '';
  socket.setEncoding('utf8');
  socket.on('data', (s: string) => {
    carry += s;
    let nl: number;
    while ((nl = carry.indexOf('\n')) >= 0) {
      const line = carry.slice(0, nl);
      carry = carry.slice(nl + 1);
      if (!line) continue;
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        socket.destroy(new Error('control socket: malformed message'));
        return;
      }
      onMessage(m);
    }
    if (carry.length > MAX_LINE) socket.destroy(new Error('control socket: message too long'));
  });
}

/** Writes one message; resolves once the socket accepted it (waits for drain when its buffer is full). */
export function sendJson(socket: Socket, message: unknown): Promise<void> {
  if (socket.destroyed || socket.writableEnded) return Promise.resolve();
  if (socket.write(`${JSON.stringify(message)}\n`)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve(); };
    socket.once('drain', done);
    socket.once('close', done);
  });
}
