/** The application module: the routed Prisma client, the notes API, and one read-your-writes scope per request. */
import 'reflect-metadata'
import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import type { NestExpressApplication } from '@nestjs/platform-express'
import { ConsistencyMiddleware } from './consistency.middleware.ts'
import { NotesController } from './notes.controller.ts'
import { DATABASE_OPTIONS, type DatabaseOptions, PrismaService } from './prisma.service.ts'

@Module({})
export class AppModule implements NestModule {
  static forDatabase(options: DatabaseOptions): DynamicModule {
    return {
      module: AppModule,
      controllers: [NotesController],
      providers: [{ provide: DATABASE_OPTIONS, useValue: options }, PrismaService],
    }
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ConsistencyMiddleware).forRoutes('*')
  }
}

/** The Nest application, not yet listening (`await app.listen(port)`). */
export async function createNestApp(options: DatabaseOptions): Promise<NestExpressApplication> {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- Nest types its options as a class; a literal is how its docs pass them
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forDatabase(options), { logger: ['error', 'warn'] })
  app.enableShutdownHooks()
  return app
}
