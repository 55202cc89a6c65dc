/** Model operations that only read, and may therefore be served by a replica. */
export const READ_OPERATIONS: ReadonlySet<string> = new Set(['findMany', 'findFirst', 'findFirstOrThrow', 'findUnique', 'findUniqueOrThrow', 'count', 'aggregate', 'groupBy'])

/** `User` -> `user`: the client property of a model, as Prisma derives it. */
export function modelProperty(model: string): string {
  return model.charAt(0).toLowerCase() + model.slice(1)
}
