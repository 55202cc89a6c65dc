/**
 * The query extension callbacks of the client under the router, run for a model read by the fast read path
 * (src/prisma/fast-reads.ts) instead of by that client's request pipeline, with the router as the last step: every
 * extension runs once, in its order, and the read then costs what the same extensions cost on a plain client.
 *
 * It runs them as Prisma does (src/runtime/core/extensions/applyQueryExtensions.ts): each callback gets the
 * model, the operation, its own copy of the arguments, the request as `__internalParams`, and `query(args)`, a
 * lazy PrismaPromise that runs the next callback, or, after the last one, the read itself. A callback may put
 * that promise in a batch `$transaction([...])` (as row-level security extensions do): the rest of the chain
 * then runs in that transaction, on the primary, in the batch.
 */
import { cloneArgs } from './clone-args.js'
import type { ModelRequest, QueryCallback } from './internals.js'

/** The last step: `request` (with the arguments the last callback passed, and its transaction, if any). */
export type LastStep = (request: ModelRequest) => PromiseLike<unknown>

type Transaction = ModelRequest['transaction']
type Fetch = ModelRequest['customDataProxyFetch']

/** A PrismaPromise-like step of the chain: runs when awaited (once), or in a batch transaction when asked. */
class ChainStep {
  #result: PromiseLike<unknown> | undefined

  constructor(
    private readonly callbacks: readonly QueryCallback[],
    private readonly request: ModelRequest,
    private readonly index: number,
    private readonly last: LastStep,
  ) {}

  #run(transaction: Transaction): PromiseLike<unknown> & { requestTransaction?: (transaction: unknown) => unknown } {
    const request = this.request
    try {
      if (transaction !== undefined) {
        // A batch transaction it was in before is discarded, as Prisma does.
        if (request.transaction?.kind === 'batch') void request.transaction.lock?.then()
        request.transaction = transaction
      }
      const callback = this.callbacks[this.index]
      if (callback === undefined) return this.last(request)
      const outer = request.customDataProxyFetch
      const result = callback({
        model: request.model,
        operation: request.action,
        args: cloneArgs(request.args),
        __internalParams: request,
        query: (args, internal = request) => {
          internal.customDataProxyFetch = composeFetch(outer, internal.customDataProxyFetch)
          internal.args = args
          return new ChainStep(this.callbacks, internal, this.index + 1, this.last)
        },
      })
      // As Prisma: a result that is not a promise is wrapped, and `null` or `undefined` is a TypeError (reading `then`).
      return typeof (result as { then?: unknown }).then === 'function' ? (result as PromiseLike<unknown>) : Promise.resolve(result)
    } catch (error) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the callback's own error
      return Promise.reject(error)
    }
  }

  #once(): PromiseLike<unknown> {
    return (this.#result ??= this.#run(undefined))
  }

  then<A = unknown, B = never>(onFulfilled?: ((value: unknown) => A | PromiseLike<A>) | null, onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return Promise.resolve(this.#once()).then(onFulfilled, onRejected)
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<unknown> {
    return Promise.resolve(this.#once()).catch(onRejected)
  }

  finally(onFinally?: (() => void) | null): Promise<unknown> {
    return Promise.resolve(this.#once()).finally(onFinally)
  }

  /** In a batch `$transaction([...])`: runs the rest of the chain in it (again for each batch, as Prisma does). */
  requestTransaction(transaction: unknown): unknown {
    const result = this.#run(transaction as Transaction)
    return typeof result.requestTransaction === 'function' ? result.requestTransaction(transaction) : result
  }

  get spec(): { action: string; args: unknown; model: string } {
    return { action: this.request.action, args: this.request.args, model: this.request.model }
  }
}
// On the prototype, as Prisma's batch `$transaction` checks it.
Object.defineProperty(ChainStep.prototype, Symbol.toStringTag, { value: 'PrismaPromise' })

/** The fetch decorators of two steps, outer first (Accelerate-style extensions); none when neither has one. */
function composeFetch(outer: Fetch, inner: Fetch): Fetch {
  if (outer === undefined) return inner
  if (inner === undefined) return outer
  return (fetch) => outer(inner(fetch))
}

/** Runs `callbacks` for `request`, then `last`: a promise of what the first callback returns. */
export function runQueryChain(callbacks: readonly QueryCallback[], request: ModelRequest, last: LastStep): Promise<unknown> {
  return new ChainStep(callbacks, request, 0, last).then()
}
