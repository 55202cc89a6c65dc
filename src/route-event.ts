/** Where a query was sent. */
export type RouteTarget = 'primary' | 'replica'

/**
 * Why a query went where it did.
 * - `read`: a read, sent to a replica chosen by the policy.
 * - `write`: a model write (create, update, delete, upsert, …), always on the primary.
 * - `raw`: a raw query (`$queryRaw`, `$executeRaw`, …), always on the primary.
 * - `transaction`: any query of a batch or interactive `$transaction`, always on the primary.
 * - `sticky`: a read sent to the primary because its scope wrote recently (read-your-writes).
 * - `forced-primary`: sent through `$primary()`.
 * - `forced-replica`: sent through `$replica()`.
 * - `fallback`: a read sent to the primary because no replica is usable (all down or lagging).
 * - `retry`: a read sent again, to another replica or the primary, after a connection-level failure.
 * - `rule`: a read routed by a per-model rule (`rules`: the primary, or a named replica).
 */
export type RouteReason = 'read' | 'write' | 'raw' | 'transaction' | 'sticky' | 'forced-primary' | 'forced-replica' | 'fallback' | 'retry' | 'rule'

/** What kept a `sticky` read on the primary: the time window, or an LSN check (no replica had replayed the write). */
export type StickyKind = 'window' | 'lsn'

/** One routing decision, passed to `onRoute`. Names replicas by their configured name, never by URL. */
export interface RouteEvent {
  /** Model name (e.g. `User`), or `undefined` for a client-level operation such as `$queryRaw`. */
  readonly model: string | undefined
  /** Operation, e.g. `findMany`, `create`, `$queryRaw`. */
  readonly operation: string
  /** Where the query was sent. */
  readonly target: RouteTarget
  /** Name of the replica, when `target` is `replica`. */
  readonly replica?: string
  /** Why. */
  readonly reason: RouteReason
  /** With reason `sticky`: the window or an LSN check. */
  readonly sticky?: StickyKind
}
