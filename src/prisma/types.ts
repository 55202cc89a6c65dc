/** Shapes of Prisma's client and query extension parameters that the Prisma-facing modules share. */

/** What a query extension callback receives (the public part). */
export interface QueryParams {
  readonly model?: string
  readonly operation: string
  readonly args: unknown
  readonly query: (args: unknown) => PromiseLike<unknown>
}

/** A Prisma Client (extended or not), as the extension sees it. */
export type AnyClient = Record<string, unknown> & {
  $extends(extension: unknown): AnyClient
  $transaction(...args: unknown[]): PromiseLike<unknown>
  $connect(): Promise<void>
  $disconnect(): Promise<void>
}
