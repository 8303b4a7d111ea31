import createDebug from 'debug';
/** A `debug` logger under the `slipway:` namespace (enable with DEBUG=slipway:*). */
export function logger(area) {
    return createDebug(`slipway:${area}`);
}
