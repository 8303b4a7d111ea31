/** A program that uses slipway as a library: starts `argv[2]` named `argv[3]` (sleeping), says so, and keeps running. */
import { Container } from '../../../src/index.js';

const [ref, name] = process.argv.slice(2);
const c = await new Container(ref!).withName(name!).withCommand(['sleep', '600']).start();
console.log('started', c.name);
setInterval(() => {}, 1000);
