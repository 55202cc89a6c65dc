/**
 * Whether a raw read may run on a replica (PostgreSQL): the parser's verdict (src/raw-sql/classify-sql.ts), then
 * the primary's catalog (src/raw-sql/catalog-trust.ts: only built-ins resolved as the server resolves them), and
 * the state of the primary's sessions: once the application has changed a session there (src/raw-sql/session-
 * state.ts: a setting, a temporary table, a prepared statement), raw reads stay on the primary, where that state
 * is, with one warning. Shared by routed raw reads (`raw: 'classify'`) and read-only transactions.
 */
import type { ServerLink } from '../server-link.js'
import { CatalogTrust, mayChangeCatalog, untrusted } from './catalog-trust.js'
import { type RawVerdict, SqlClassifier } from './classify-sql.js'

/** The warning code emitted when session state on the primary keeps raw reads there. */
export const SESSION_STATE_WARNING = 'PRISMA_REPLICA_ROUTER_SESSION_STATE'

/** How old the catalog's facts may be before a raw read asks again (ms). */
export const CATALOG_MAX_AGE_MS = 5_000

export class RawTrust {
  /** The parser, loaded by {@link RawTrust.load}. */
  readonly classifier = new SqlClassifier()
  readonly catalog: CatalogTrust
  /** Why raw reads stay on the primary (the session state the application left there), once it has. */
  pinned: string | undefined
  #loading: Promise<void> | undefined
  /** Statements whose effect on the session the catalog must still decide (raw reads wait for it). */
  #deciding: Promise<void> | undefined

  /**
   * @param primary the router's own connection to the primary (the catalog is read there).
   * @param timeoutMs how long a catalog query may take (`health.timeoutMs`).
   */
  constructor(primary: ServerLink, timeoutMs: number) {
    this.catalog = new CatalogTrust(primary, (sql) => this.classifier.classify(sql), timeoutMs, CATALOG_MAX_AGE_MS)
  }

  /** Loads the parser (once; a failure is retried by the next call). */
  load(): Promise<void> {
    this.#loading ??= this.classifier.load().catch((error: unknown) => {
      this.#loading = undefined
      throw error
    })
    return this.#loading
  }

  /**
   * Where `sql` may run: a replica only when the parser proves it a plain read, no session state keeps raw reads
   * on the primary, and the catalog trusts every name it uses (a failed catalog query: the primary).
   * The parser must be loaded.
   */
  async verdict(sql: string): Promise<RawVerdict> {
    const parsed = this.classifier.classify(sql)
    if (!parsed.replica) return parsed
    if (this.#deciding) await this.#deciding
    if (this.pinned !== undefined) return { replica: false, reason: this.pinned }
    return await this.#trusted(parsed)
  }

  /**
   * Whether `sql` only reads wherever it runs (a raw read an extension put in a batch, which runs on the primary
   * outside any `READ ONLY` transaction): the parser's proof and the catalog's trust in every name it uses (a view,
   * a function or an operator of the application's may write); the session state is left aside. The parser must
   * be loaded.
   */
  async plainRead(sql: string): Promise<RawVerdict> {
    const parsed = this.classifier.classify(sql)
    if (!parsed.replica) return parsed
    return await this.#trusted(parsed)
  }

  async #trusted(parsed: RawVerdict & { replica: true }): Promise<RawVerdict> {
    let reason: string | undefined
    try {
      reason = untrusted(parsed.uses, await this.catalog.facts())
    } catch {
      reason = 'the catalog check failed'
    }
    return reason === undefined ? parsed : { replica: false, reason }
  }

  /**
   * The application sent `sql` to the primary (a raw statement, through any client over the primary's engine;
   * it has settled): a statement that may change the catalog makes the next raw read read it again; one that
   * changes its session keeps raw reads on the primary from now on.
   */
  sent(sql: string): void {
    if (mayChangeCatalog(sql)) this.catalog.invalidate()
    if (this.pinned !== undefined || !this.classifier.ready) return
    const effect = this.classifier.sessionEffect(sql)
    if (effect === undefined) return
    if ('reason' in effect) {
      this.#pin(effect.reason)
      return
    }
    // Functions that are not known built-ins: one of the application's may do anything to the session. Raw reads
    // wait until the catalog has said (a failed check counts as one).
    const deciding = this.catalog.facts().then(
      (facts) => {
        const user = effect.calls.find((name) => facts.userFunctions.has(name))
        if (user !== undefined) this.#pin(`function ${user}, which may change it`)
      },
      () => {
        this.#pin(`function ${effect.calls.join(', ')}, which the catalog could not tell`)
      },
    )
    const decided: Promise<void> = Promise.all([this.#deciding, deciding]).then(() => {
      if (this.#deciding === decided) this.#deciding = undefined
    })
    this.#deciding = decided
  }

  #pin(effect: string): void {
    if (this.pinned !== undefined) return
    this.pinned = `session state on the primary (${effect})`
    process.emitWarning(
      `prisma-replica-router: the application changed the session of a connection to the primary (${effect}), which replicas' sessions do not have, ` +
        'so raw reads now go to the primary. Give settings in the connection settings of every client instead (e.g. `options: "-c intervalstyle=iso_8601"`).',
      { code: SESSION_STATE_WARNING },
    )
  }
}
