/**
 * The extension stacks of the session checker's router instances, as applications write them: a soft-delete-style
 * extension in function form that deletes and writes through the client it captured (the defect-2 recipe: a write
 * the router's own query chain never sees), a tenant filter (a query component that rewrites `where`), a computed
 * field, a model method that reads through the client it captured, and the row-level-security pattern on writes
 * (each write in a batch `$transaction([...])` of the captured client, after a statement of its own: a write the
 * router ran twice there changes a row twice). Each ingredient goes before or after the router; the workload checks, beside the history, that every answer went through the stack (no row the tenant
 * filter hides, every row's computed field right), whichever path served it (replica, read-only transaction,
 * fluent API).
 */
import { Prisma } from '../../../generated/prisma/client.ts'
import type { Rng } from './workload.ts'

export const INGREDIENTS = ['captured-writer', 'tenant-filter', 'computed-tag', 'captured-reader', 'batch-writes'] as const
export type Ingredient = (typeof INGREDIENTS)[number]
export type Position = 'before' | 'after'

export interface Layer {
  readonly ingredient: Ingredient
  readonly position: Position
}

/** A router instance's stack, in the order the ingredients were applied. */
export class Stack {
  constructor(readonly layers: readonly Layer[]) {}

  has(ingredient: Ingredient): boolean {
    return this.layers.some((l) => l.ingredient === ingredient)
  }

  position(ingredient: Ingredient): Position | undefined {
    return this.layers.find((l) => l.ingredient === ingredient)?.position
  }

  toString(): string {
    const side = (p: Position) =>
      this.layers
        .filter((l) => l.position === p)
        .map((l) => l.ingredient)
        .join(' + ') || '-'
    return `[${side('before')}] router [${side('after')}]`
  }
}

export const NO_STACK = new Stack([])

/** Rows of an owner ending with this are hidden by the tenant filter (seeded at the start of a run). */
export const HIDDEN = ':hidden'

/** The computed field's value for a row. */
export const tagOf = (row: { id: string; version: number }): string => `${row.id}#${String(row.version)}`

const SELECT = { id: true, owner: true, version: true, parentId: true } as const
const HIDE = { owner: { endsWith: HIDDEN } }

/** The stack's extensions are written as applications write them, untyped here. */
type AnyClient = any
type Args = Record<string, unknown> & { where?: Record<string, unknown> }
interface Params {
  args: Args
  query: (args: Args) => PromiseLike<unknown>
}

/** The model writes of the workload. */
const WRITES = new Set(['create', 'createMany', 'update', 'upsert', 'delete'])

const hidden = ({ args, query }: Params) => query({ ...args, where: args.where === undefined ? { NOT: HIDE } : { AND: [args.where, { NOT: HIDE }] } })

const EXTENSIONS: Record<Ingredient, unknown> = {
  // Deletes (and `bump`, an update) through the client the extension captured: below it, the router never sees them.
  'captured-writer': Prisma.defineExtension((client: AnyClient) =>
    client.$extends({
      name: 'captured-writer',
      model: {
        cell: {
          bump(id: string) {
            return client.cell.update({ where: { id }, data: { version: { increment: 1 } }, select: SELECT })
          },
        },
      },
      query: {
        cell: {
          delete({ args }: Params) {
            return client.cell.delete(args)
          },
        },
      },
    }),
  ),
  'tenant-filter': {
    name: 'tenant-filter',
    query: {
      cell: {
        findMany: hidden,
        findFirst: hidden,
        count: hidden,
        aggregate: hidden,
        groupBy: hidden,
        // A unique where takes other filters beside the unique field.
        findUnique: ({ args, query }: Params) => query({ ...args, where: { ...args.where, NOT: HIDE } }),
      },
    },
  },
  'computed-tag': {
    name: 'computed-tag',
    result: { cell: { tag: { needs: { id: true, version: true }, compute: tagOf } } },
  },
  'captured-reader': Prisma.defineExtension((client: AnyClient) =>
    client.$extends({
      name: 'captured-reader',
      model: {
        cell: {
          ownedBy(owner: string) {
            return client.cell.findMany({ where: { owner }, select: SELECT })
          },
        },
      },
    }),
  ),
  // Prisma's row-level-security recipe (`$allModels.$allOperations`), on writes: each in a batch transaction of the
  // client the extension captured, after a statement of the extension's (`set_config` in the recipe; `SELECT 1`
  // here, valid on both engines: the batch is what matters). Reads are left out: a batch runs on the primary,
  // so the recipe over reads too would leave the instance no replica reads to check (the differential tester
  // checks batched reads against Prisma).
  'batch-writes': Prisma.defineExtension((client: AnyClient) =>
    client.$extends({
      name: 'batch-writes',
      query: {
        $allModels: {
          async $allOperations({ operation, args, query }: Params & { operation: string }) {
            if (!WRITES.has(operation)) return await query(args)
            const [, result] = await client.$transaction([client.$queryRawUnsafe('SELECT 1'), query(args)])
            return result
          },
        },
      },
    }),
  ),
}

/** `client` with the stack's ingredients at `position`, in order. */
export function applyStack<C>(client: C, stack: Stack, position: Position): C {
  let out: AnyClient = client
  for (const layer of stack.layers) if (layer.position === position) out = out.$extends(EXTENSIONS[layer.ingredient])
  return out as C
}

/**
 * A random stack: each ingredient with probability 0.75, in a random order, each before or after the router;
 * those of `before` always, before the router (the captured writer: its writes bypass the router's query chain;
 * the batched writes: the router's writes run in a batch of the client under it).
 */
export function randomStack(rng: Rng, before: readonly Ingredient[] = []): Stack {
  const chosen = INGREDIENTS.filter((ingredient) => rng.chance(0.75) || before.includes(ingredient))
  for (let i = chosen.length - 1; i > 0; i--) {
    const j = rng.int(0, i)
    ;[chosen[i], chosen[j]] = [chosen[j] as Ingredient, chosen[i] as Ingredient]
  }
  return new Stack(chosen.map((ingredient) => ({ ingredient, position: before.includes(ingredient) ? 'before' : rng.chance(0.5) ? 'before' : 'after' })))
}

/** The model methods the stack may add. */
export interface StackMethods {
  bump(id: string): Promise<{ id: string; owner: string; version: number; parentId: string | null }>
  ownedBy(owner: string): Promise<{ id: string; owner: string; version: number; parentId: string | null }[]>
}
