/** The CLI's errors: both exit 2. @module */

/** A mistake in the command line: printed with the usage text. */
export class UsageError extends Error {}
/** A file that is missing or exports no policy: exit 2, without the usage text. */
export class FileError extends UsageError {}
