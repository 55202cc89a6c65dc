/** What a replica name may be: 1-64 letters, digits, `_`, `.`, `:`, `-` (never a connection string). */
export const REPLICA_NAME = /^[\w.:-]{1,64}$/

/** True for a string that may be a replica's name (so it may be shown in a message). */
export function isReplicaName(value: unknown): value is string {
  return typeof value === 'string' && REPLICA_NAME.test(value)
}
