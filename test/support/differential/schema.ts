/**
 * What the differential tester knows of its four models (prisma/schema.prisma): their fields by kind, relations,
 * unique keys and total orders, and the values its filters pick from (those of the dataset, and near misses).
 */
import { LABELS, ROLES, STATUSES, TENANTS } from './dataset.ts'

export type ScalarKind = 'int' | 'string' | 'bigint' | 'decimal' | 'float' | 'boolean' | 'datetime' | 'json' | 'bytes' | 'role' | 'status'

export interface ScalarField {
  readonly name: string
  readonly kind: ScalarKind
  readonly optional: boolean
}

export interface RelationField {
  readonly name: string
  readonly model: ModelName
  readonly list: boolean
  readonly optional: boolean
}

export type ModelName = 'Member' | 'Article' | 'Label' | 'Rating'

export interface ModelInfo {
  readonly name: ModelName
  /** The client property (`member`). */
  readonly property: string
  readonly scalars: readonly ScalarField[]
  readonly relations: readonly RelationField[]
  /** A total order: appended to every `orderBy`, so that every read has one answer. */
  readonly order: readonly Record<string, 'asc' | 'desc'>[]
  /** `where` arguments of `findUnique` (a unique key with a value of the dataset). */
  readonly unique: readonly string[]
}

const s = (name: string, kind: ScalarKind, optional = false): ScalarField => ({ name, kind, optional })
const r = (name: string, model: ModelName, list: boolean, optional = false): RelationField => ({ name, model, list, optional })

export const MODELS: Readonly<Record<ModelName, ModelInfo>> = {
  Member: {
    name: 'Member',
    property: 'member',
    scalars: [
      s('id', 'int'),
      s('handle', 'string'),
      s('name', 'string', true),
      s('role', 'role'),
      s('karma', 'bigint'),
      s('balance', 'decimal'),
      s('profile', 'json', true),
      s('avatar', 'bytes', true),
      s('joinedAt', 'datetime'),
      s('deletedAt', 'datetime', true),
      s('tenant', 'string'),
      s('mentorId', 'int', true),
    ],
    relations: [r('mentor', 'Member', false, true), r('mentees', 'Member', true), r('articles', 'Article', true), r('ratings', 'Rating', true)],
    order: [{ id: 'asc' }],
    unique: ['id', 'handle'],
  },
  Article: {
    name: 'Article',
    property: 'article',
    scalars: [
      s('id', 'int'),
      s('title', 'string'),
      s('body', 'string', true),
      s('score', 'float', true),
      s('featured', 'boolean'),
      s('status', 'status'),
      s('publishedAt', 'datetime', true),
      s('deletedAt', 'datetime', true),
      s('tenant', 'string'),
      s('authorId', 'int'),
    ],
    relations: [r('author', 'Member', false), r('labels', 'Label', true), r('ratings', 'Rating', true)],
    order: [{ id: 'asc' }],
    unique: ['id'],
  },
  Label: {
    name: 'Label',
    property: 'label',
    scalars: [s('name', 'string'), s('color', 'string', true)],
    relations: [r('articles', 'Article', true)],
    order: [{ name: 'asc' }],
    unique: ['name'],
  },
  Rating: {
    name: 'Rating',
    property: 'rating',
    scalars: [s('memberId', 'int'), s('articleId', 'int'), s('stars', 'int'), s('comment', 'string', true)],
    relations: [r('member', 'Member', false), r('article', 'Article', false)],
    order: [{ memberId: 'asc' }, { articleId: 'asc' }],
    unique: ['memberId_articleId'],
  },
}

export const MODEL_NAMES = Object.keys(MODELS) as ModelName[]

/** Kinds a `where` may filter on with `equals`, `in`, `lt`… */
export const ORDERED: ReadonlySet<ScalarKind> = new Set(['int', 'string', 'bigint', 'decimal', 'float', 'datetime'])
/** Kinds `orderBy` may use. */
export const SORTABLE: ReadonlySet<ScalarKind> = new Set(['int', 'string', 'bigint', 'decimal', 'float', 'datetime', 'boolean', 'role', 'status'])
/** Kinds `_sum` and `_avg` take. */
export const NUMERIC: ReadonlySet<ScalarKind> = new Set(['int', 'bigint', 'decimal', 'float'])

export { LABELS, ROLES, STATUSES, TENANTS }
