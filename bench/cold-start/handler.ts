/**
 * What both cold-start functions do once built (bench/cold-start.ts): write a note and read it back (the read
 * must see the write), then disconnect; prints the phases as one JSON line (ms since the process started).
 */
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '../../generated/prisma/client.ts'

/** The process's clock when the function's module started running (all imports loaded). */
export const loaded = performance.now()

export const newClient = (url: string) => new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) })

export const primaryUrl = process.env.COLD_START_PRIMARY ?? ''
export const replicaUrls = (process.env.COLD_START_REPLICAS ?? '').split(',')

/** The client surface the handler uses (a plain or a routed client). */
interface NotesClient {
  note: {
    create(args: { data: { title: string } }): Promise<{ id: number; title: string }>
    findUnique(args: { where: { id: number } }): Promise<{ title: string } | null>
  }
  $disconnect(): Promise<void>
}

export async function serve(prisma: NotesClient, built: number, inScope: <T>(fn: () => Promise<T>) => Promise<T>): Promise<void> {
  await inScope(async () => {
    const note = await prisma.note.create({ data: { title: 'cold start' } })
    const read = await prisma.note.findUnique({ where: { id: note.id } })
    if (read?.title !== note.title) throw new Error('the function did not read its own write')
  })
  const answered = performance.now()
  await prisma.$disconnect()
  console.log(JSON.stringify({ loaded, built, answered, disconnected: performance.now() }))
}
