/**
 * Every error slipway throws on purpose is a {@link SlipwayError}: branch on `code`,
 * read `hint` for the fix, and `cause` for what went wrong underneath.
 */
const BRAND = Symbol.for('slipway.error');
/** The root of every error slipway throws on purpose. */
export class SlipwayError extends Error {
    /** Stable machine-readable code. */
    code;
    /** How the user can fix it, when they can. */
    hint;
    /** The one-line message without hint or details. */
    shortMessage;
    constructor(code, message, options = {}) {
        let full = `${code}: ${message}`;
        if (options.hint)
            full += `; fix: ${options.hint}`;
        if (options.details)
            full += `\n${options.details}`;
        super(full, options.cause === undefined ? undefined : { cause: options.cause });
        this.name = 'SlipwayError';
        this.code = code;
        this.hint = options.hint;
        this.shortMessage = message;
        Object.defineProperty(this, BRAND, { value: true });
    }
    /** `instanceof` that also works across duplicate copies of the package. */
    static is(value, code) {
        return (typeof value === 'object' && value !== null && value[BRAND] === true &&
            (code === undefined || value.code === code));
    }
}
/** Shorthand for an invalid option: names the option, the value and what is expected. */
export function invalidArgument(option, value, expected) {
    return new SlipwayError('ERR_INVALID_ARGUMENT', `invalid ${option}: ${formatValue(value)}`, { hint: `expected ${expected}` });
}
function formatValue(value) {
    try {
        const s = typeof value === 'string' ? JSON.stringify(value) : String(value);
        return s.length > 200 ? `${s.slice(0, 200)}…` : s;
    }
    catch {
        return typeof value;
    }
}
