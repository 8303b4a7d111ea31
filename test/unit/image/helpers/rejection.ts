import { SlipwayError } from '../../../../src/errors.js';

/** The SlipwayError `p` rejects with; any other rejection, or none, fails the test. */
export async function rejection(p: Promise<unknown>): Promise<SlipwayError> {
  try {
    await p;
  } catch (e) {
    if (SlipwayError.is(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}
