/**
 * A JSON API over the `Note` model: `GET /notes` (newest first), `GET /notes/:id`, `POST /notes` `{ title,
 * content? }`. Reads go to replicas; a create returns the note and the `rw` cookie, so the browser's next request
 * (a redirect to the list, say) reads it even while the replicas lag.
 */
import { BadRequestException, Body, Controller, Get, Inject, NotFoundException, Param, ParseIntPipe, Post, Res } from '@nestjs/common'
import type { Response } from 'express'
import { rememberWrite } from './consistency.middleware.ts'
import { PrismaService } from './prisma.service.ts'

@Controller('notes')
export class NotesController {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  @Get()
  list() {
    return this.prisma.db.note.findMany({ orderBy: { id: 'desc' }, take: 100 })
  }

  @Get(':id')
  async one(@Param('id', ParseIntPipe) id: number) {
    const note = await this.prisma.db.note.findUnique({ where: { id } })
    if (!note) throw new NotFoundException(`No note ${String(id)}`)
    return note
  }

  @Post()
  async create(@Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const { title, content } = (body ?? {}) as { title?: unknown; content?: unknown }
    if (typeof title !== 'string' || title.trim() === '' || title.length > 200) throw new BadRequestException('title: 1-200 characters')
    if (content !== undefined && typeof content !== 'string') throw new BadRequestException('content: a string')
    const note = await this.prisma.db.note.create({ data: { title: title.trim(), content: content ?? '' } })
    await rememberWrite(this.prisma.db, res)
    return note
  }
}
