/** A replica as a routing policy sees it: only replicas that may serve the read are passed. */
export interface ReplicaCandidate {
  /** The replica's configured name. */
  readonly name: string
  /** The replica's configured weight (default 1). */
  readonly weight: number
  /** Queries this router currently has in flight on the replica. */
  readonly inFlight: number
  /** Position of the replica in the `replicas` option. */
  readonly index: number
}

/** What is being routed. */
export interface RoutingContext {
  /** Model name (e.g. `User`), or `undefined` for a client-level operation. */
  readonly model: string | undefined
  /** Operation, e.g. `findMany`. */
  readonly operation: string
}

/**
 * Chooses the replica that serves a read. Plug your own into `readReplicas({ policy })`.
 *
 * `pick` is called once per routed read with a non-empty list of candidates and must return one of them.
 * It runs on the hot path: keep it synchronous and allocation-free where you can.
 *
 * @example
 * ```ts
 * const preferLocal: RoutingPolicy = {
 *   name: 'prefer-local',
 *   pick: (candidates) => candidates.find((c) => c.name.startsWith('eu-')) ?? candidates[0]!,
 * }
 * ```
 */
export interface RoutingPolicy {
  /** Shown in errors and events. */
  readonly name: string
  /** Returns one of `candidates` (never empty). */
  pick(candidates: readonly ReplicaCandidate[], context: RoutingContext): ReplicaCandidate
}
