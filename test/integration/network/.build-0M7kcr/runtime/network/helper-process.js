import { spawn } from 'node:child_process';
import { SlipwayError } from '../../errors.js';
const TAIL = 4096;
/** A spawned network helper: keeps the tail of its stderr and stops it on close(). */
export class HelperProcess {
    name;
    log;
    child;
    stderrTail = '';
    exitInfo;
    exited;
    closing;
    constructor(name, bin, args, extraFds, log) {
        this.name = name;
        this.log = log;
        const stdio = ['ignore', 'pipe', 'pipe'];
        for (let i = 0; i < extraFds; i++)
            stdio.push('pipe');
        log('spawn %s %s', bin, args.join(' '));
        this.child = spawn(bin, args, { stdio });
        const collect = (d) => {
            const s = d.toString('utf8');
            this.stderrTail = (this.stderrTail + s).slice(-TAIL);
            for (const line of s.split('\n'))
                if (line.trim() && !line.startsWith('Failed to send'))
                    log('%s: %s', name, line);
        };
        this.child.stdout.on('data', collect);
        this.child.stderr.on('data', collect);
        this.exited = new Promise((resolve) => {
            this.child.once('exit', (code, signal) => { this.exitInfo = { code, signal }; log('%s exited (%s)', name, signal ?? code); resolve(); });
            this.child.once('error', (err) => {
                this.stderrTail += `\nspawn failed: ${err.message}`;
                this.exitInfo ??= { code: null, signal: null };
                resolve();
            });
        });
    }
    /** Lets Node exit while the helper runs (it then dies through its exit fd or parent-death signal). */
    unref() {
        this.child.unref();
        for (const s of this.child.stdio)
            s?.unref?.();
    }
    get pid() { return this.child.pid ?? -1; }
    get hasExited() { return this.exitInfo !== undefined; }
    /** The last lines the helper printed (syslog noise removed). */
    get stderr() {
        return this.stderrTail.split('\n').filter((l) => !l.startsWith('Failed to send')).join('\n').trim();
    }
    /**
     * Waits until `ready` resolves, the helper exits, the timeout passes or the signal aborts; on anything but ready the
     * helper is killed and an `ERR_NETWORK` (or `ERR_ABORTED`) error with its stderr is thrown.
     */
    async waitReady(ready, timeoutMs, signal, what) {
        let timer;
        let onAbort;
        const outcome = await Promise.race([
            ready.then(() => 'ready'),
            this.exited.then(() => 'exited'),
            new Promise((r) => { timer = setTimeout(() => r('timeout'), timeoutMs); }),
            new Promise((r) => {
                if (signal?.aborted)
                    r('aborted');
                onAbort = () => r('aborted');
                signal?.addEventListener('abort', onAbort, { once: true });
            }),
        ]).finally(() => {
            clearTimeout(timer);
            if (onAbort)
                signal?.removeEventListener('abort', onAbort);
        });
        if (outcome === 'ready')
            return;
        await this.close();
        const details = this.stderr ? `${this.name} said:\n${this.stderr}` : undefined;
        if (outcome === 'aborted')
            throw new SlipwayError('ERR_ABORTED', `starting ${this.name} was aborted`, { cause: signal?.reason, details });
        const why = outcome === 'timeout'
            ? `${this.name} did not ${what} within ${timeoutMs} ms`
            : `${this.name} exited (${this.exitInfo?.signal ?? `code ${this.exitInfo?.code}`}) before it could ${what}`;
        throw new SlipwayError('ERR_NETWORK', why, {
            hint: 'check that /dev/net/tun is usable by this user (crw-rw-rw-) and that the container is still running; DEBUG=slipway:network shows the helper\'s output',
            details,
        });
    }
    /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
    close(graceMs = 2000) {
        this.closing ??= (async () => {
            if (this.hasExited || this.child.pid === undefined)
                return;
            this.child.kill('SIGTERM');
            const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
            await this.exited;
            clearTimeout(timer);
        })();
        return this.closing;
    }
}
