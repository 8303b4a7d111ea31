/** Bad command-line input: `message` names the problem, `fix` says what to type instead. Exit status 2. */
export class UsageError extends Error {
  constructor(message: string, readonly fix: string) {
    super(message);
    this.name = 'UsageError';
  }
}
