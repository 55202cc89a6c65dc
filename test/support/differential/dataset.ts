/**
 * The differential tester's data (the `Member`, `Article`, `Label` and `Rating` models of prisma/schema.prisma),
 * made from a seed: nulls, duplicates (for `distinct`), case variations (for `mode: 'insensitive'`), negative
 * numbers, decimals, JSON objects and arrays, bytes, a mentorship tree, two tenants, soft-deleted rows.
 */
import { Prisma } from '../../../generated/prisma/client.ts'

/** A small, seeded generator (mulberry32): the dataset of a seed is the same on every machine. */
export class SeededRandom {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }

  chance(p: number): boolean {
    return this.next() < p
  }
}

export const TENANTS = ['acme', 'globex'] as const
export const ROLES = ['ADMIN', 'EDITOR', 'VIEWER'] as const
export const STATUSES = ['DRAFT', 'PUBLISHED', 'ARCHIVED'] as const
export const LABELS = ['news', 'tech', 'Tech', 'sports', 'art', 'misc'] as const
const NAMES = ['Ada', 'ada', 'Grace', 'Linus', 'Barbara', 'ken', 'Ken', 'Margaret', null] as const
const WORDS = ['alpha', 'Beta', 'gamma', 'delta', 'Alpha', 'omega', 'beta'] as const

export interface Dataset {
  readonly members: readonly Prisma.MemberCreateManyInput[]
  readonly articles: readonly Prisma.ArticleCreateManyInput[]
  readonly labels: readonly Prisma.LabelCreateManyInput[]
  readonly ratings: readonly Prisma.RatingCreateManyInput[]
  /** Article id -> label names (the implicit many-to-many). */
  readonly articleLabels: ReadonlyMap<number, readonly string[]>
}

const BASE_TIME = Date.UTC(2026, 0, 1)

/** The dataset of `seed`. */
export function dataset(seed: number): Dataset {
  const random = new SeededRandom(seed)
  const members: Prisma.MemberCreateManyInput[] = []
  for (let id = 1; id <= 12; id++) {
    members.push({
      id,
      handle: `${random.pick(WORDS)}-${String(id)}`,
      name: random.pick(NAMES),
      role: random.pick(ROLES),
      karma: BigInt(random.int(-5, 40)) * (random.chance(0.2) ? 10_000_000_000n : 1n),
      balance: new Prisma.Decimal(`${String(random.int(-500, 5000))}.${String(random.int(0, 9999)).padStart(4, '0')}`),
      profile: random.chance(0.2)
        ? Prisma.DbNull
        : random.chance(0.3)
          ? [random.int(1, 3), random.pick(WORDS)]
          : { level: random.int(1, 5), tags: [random.pick(WORDS)], nested: { ok: random.chance(0.5) } },
      avatar: random.chance(0.4) ? null : Uint8Array.from([random.int(0, 255), random.int(0, 255), id]),
      joinedAt: new Date(BASE_TIME + random.int(0, 400) * 86_400_000 + random.int(0, 86_399_999)),
      deletedAt: random.chance(0.2) ? new Date(BASE_TIME + random.int(400, 500) * 86_400_000) : null,
      tenant: random.pick(TENANTS),
      // A tree: a member's mentor has a smaller id.
      mentorId: id > 1 && random.chance(0.7) ? random.int(1, id - 1) : null,
    })
  }
  const labels = LABELS.map((name) => ({ name, color: random.chance(0.3) ? null : random.pick(['red', 'Red', 'blue', 'green']) }))
  const articles: Prisma.ArticleCreateManyInput[] = []
  const articleLabels = new Map<number, string[]>()
  for (let id = 1; id <= 30; id++) {
    articles.push({
      id,
      title: `${random.pick(WORDS)} ${random.pick(WORDS)} ${String(random.int(1, 9))}`,
      body: random.chance(0.3) ? null : `${random.pick(WORDS)} body ${String(id)}`,
      score: random.chance(0.25) ? null : random.int(-100, 100) / 4,
      featured: random.chance(0.3),
      status: random.pick(STATUSES),
      publishedAt: random.chance(0.3) ? null : new Date(BASE_TIME + random.int(0, 400) * 86_400_000),
      deletedAt: random.chance(0.15) ? new Date(BASE_TIME + random.int(400, 500) * 86_400_000) : null,
      tenant: random.pick(TENANTS),
      authorId: random.int(1, members.length),
    })
    const mine = LABELS.filter(() => random.chance(0.3))
    articleLabels.set(id, mine)
  }
  const ratings: Prisma.RatingCreateManyInput[] = []
  const seen = new Set<string>()
  while (ratings.length < 40) {
    const memberId = random.int(1, members.length)
    const articleId = random.int(1, articles.length)
    const key = `${String(memberId)}-${String(articleId)}`
    if (seen.has(key)) continue
    seen.add(key)
    ratings.push({ memberId, articleId, stars: random.int(1, 5), comment: random.chance(0.5) ? null : random.pick(WORDS) })
  }
  return { members, articles, labels, ratings, articleLabels }
}

/** The part of a client the seeding uses. */
interface Seeder {
  $executeRawUnsafe(sql: string): PromiseLike<unknown>
  member: { createMany(args: { data: readonly Prisma.MemberCreateManyInput[] }): PromiseLike<unknown> }
  article: { createMany(args: { data: readonly Prisma.ArticleCreateManyInput[] }): PromiseLike<unknown>; update(args: object): PromiseLike<unknown> }
  label: { createMany(args: { data: readonly Prisma.LabelCreateManyInput[] }): PromiseLike<unknown> }
  rating: { createMany(args: { data: readonly Prisma.RatingCreateManyInput[] }): PromiseLike<unknown> }
}

/** Replaces the tester's tables' rows with `data` (on the primary). */
export async function seedDataset(client: Seeder, data: Dataset): Promise<void> {
  await client.$executeRawUnsafe('TRUNCATE "Rating", "_ArticleToLabel", "Article", "Label", "Member" CASCADE')
  await client.member.createMany({ data: data.members })
  await client.label.createMany({ data: data.labels })
  await client.article.createMany({ data: data.articles })
  await client.rating.createMany({ data: data.ratings })
  for (const [id, names] of data.articleLabels) {
    if (names.length > 0) await client.article.update({ where: { id }, data: { labels: { connect: names.map((name) => ({ name })) } } })
  }
}
