/**
 * `populate`: seeds the catalog with sample authors and their books, in two bulk inserts (`createManyAndReturn`
 * for the authors, whose ids the books need, then `createMany` for the books), in one transaction on the primary.
 *
 * Idempotent for sequential runs: when the catalog already has authors, nothing is inserted. (Two runs at the
 * same moment could both see an empty catalog; this is a seed script, not a concurrent job.)
 *
 * Works on both schema versions: it never writes or returns `Author.country`.
 */
import type { CatalogClient } from './server.ts'

/** The sample data: each author with their books. */
export const sampleCatalog = [
  {
    name: 'J.R.R. Tolkien',
    bio: 'The creator of Middle-earth and author of The Lord of the Rings.',
    books: ['The Fellowship of the Ring', 'The Two Towers', 'The Return of the King'],
  },
  {
    name: 'George R.R. Martin',
    bio: 'The author of the epic fantasy series A Song of Ice and Fire.',
    books: ['A Game of Thrones', 'A Clash of Kings'],
  },
  {
    name: 'J.K. Rowling',
    bio: 'The creator of the Harry Potter series.',
    books: ["Harry Potter and the Philosopher's Stone", 'Harry Potter and the Chamber of Secrets'],
  },
] as const

/** What {@link populate} did. */
export interface PopulateResult {
  /** False when the catalog already had authors (nothing inserted). */
  readonly seeded: boolean
  readonly authors: number
  readonly books: number
}

/**
 * Seeds the catalog through the routed client (a transaction: every query on the primary).
 */
export async function populate(prisma: CatalogClient): Promise<PopulateResult> {
  return await prisma.$transaction(async (tx) => {
    if ((await tx.author.count()) > 0) return { seeded: false, authors: 0, books: 0 }
    const authors = await tx.author.createManyAndReturn({
      data: sampleCatalog.map(({ name, bio }) => ({ name, bio })),
      select: { id: true, name: true },
    })
    const idOf = new Map(authors.map((a) => [a.name, a.id]))
    const { count } = await tx.book.createMany({
      data: sampleCatalog.flatMap(({ name, books }) => books.map((title) => ({ title, authorId: idOf.get(name)! }))),
    })
    return { seeded: true, authors: authors.length, books: count }
  })
}
