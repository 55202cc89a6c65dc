/**
 * The call site of a read the fast path (src/prisma/fast-reads.ts) builds as Prisma's request, so that its errors
 * read as a plain client's: Prisma heads an error with "Invalid `prisma.user.findMany()` invocation" when the
 * request has a call site (with the `minimal` error format, the only one the fast path runs with, a call site that
 * knows no location: Prisma's DisabledCallSite, which is not exported). Canary: the differential tester compares
 * the errors of both (test/support/differential).
 */

/** Prisma's call-site shape: where the application called, or `null`. */
export interface CallSite {
  getLocation(): { fileName: string; lineNumber: number | null; columnNumber: number | null } | null
}

/** The `minimal` error format's call site: a heading, no location (Prisma's DisabledCallSite). */
export const DISABLED_CALL_SITE: CallSite = Object.freeze({ getLocation: () => null })
