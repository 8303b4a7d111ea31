/**
 * The engine's progress streams (pull, push, build) are JSON lines. This feeds each line of such a stream to a
 * callback: chunks are decoded as UTF-8 across chunk boundaries (a character cut by the transport is not mangled),
 * and the last line is delivered even when the engine did not end it with a newline (an error line may be that one).
 */
import { StringDecoder } from 'node:string_decoder';

/** Calls `take` with each line of `body` (without its `\n`), in order; what `take` throws ends the stream's reading. */
export async function forEachLine(body: AsyncIterable<Buffer | string>, take: (line: string) => void): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of body) {
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) take(line);
  }
  take(rest + decoder.end());
}
