// sysexits(3) status codes: sendmail(1) and the queue tools report failures
// with these, as Postfix's commands do, so scripts and MUAs can tell a usage
// error from a temporary failure.
export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_NOINPUT = 66;
export const EX_NOUSER = 67;
export const EX_UNAVAILABLE = 69;
export const EX_SOFTWARE = 70;
export const EX_OSERR = 71;
export const EX_CANTCREAT = 73;
export const EX_IOERR = 74;
export const EX_TEMPFAIL = 75;
export const EX_NOPERM = 77;
export const EX_CONFIG = 78;

/** A command failure carrying its exit status and Postfix's message text. */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
