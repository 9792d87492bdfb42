// A problem with the options, the config file or the environment: exit 1 with this one line.
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
