/** Model operations that only read, and may therefore be served by a replica. */
export const READ_OPERATIONS: ReadonlySet<string> = new Set(['findMany', 'findFirst', 'findFirstOrThrow', 'findUnique', 'findUniqueOrThrow', 'count', 'aggregate', 'groupBy'])

/** Model operations that write (a model delegate's methods besides the reads). */
export const WRITE_OPERATIONS: ReadonlySet<string> = new Set([
  'create',
  'createMany',
  'createManyAndReturn',
  'update',
  'updateMany',
  'updateManyAndReturn',
  'upsert',
  'delete',
  'deleteMany',
])

/** Raw queries that may only read (`$executeRaw*` may write): with `raw: 'classify'`, their SQL decides. */
export const RAW_READS: ReadonlySet<string> = new Set(['$queryRaw', '$queryRawUnsafe', '$queryRawTyped'])

/** `User` -> `user`: the client property of a model, as Prisma derives it. */
export function modelProperty(model: string): string {
  return model.charAt(0).toLowerCase() + model.slice(1)
}
