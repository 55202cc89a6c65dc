import { expect, it } from 'vitest'
import { connectionErrorCause, isRecoveryConflict } from '../src/connection-error.ts'
import { TimeoutError } from '../src/errors/index.ts'

/** Shapes as Prisma 7 + @prisma/adapter-pg produce them (recorded against a real server, see health tests). */
const prismaAdapterError = (code: string, cause: Record<string, unknown>) =>
  Object.assign(new Error('Invalid invocation'), { code, meta: { driverAdapterError: { name: 'DriverAdapterError', cause } } })

it.each([
  ['server down / refused', prismaAdapterError('P1001', { kind: 'DatabaseNotReachable', host: 'h', port: 1 }), 'DatabaseNotReachable'],
  ['admin shutdown', prismaAdapterError('P2010', { kind: 'postgres', code: '57P01', originalCode: '57P01' }), '57P01'],
  ['crash shutdown', prismaAdapterError('P2010', { kind: 'postgres', code: '57P02', originalCode: '57P02' }), '57P02'],
  ['starting up', prismaAdapterError('P2010', { kind: 'postgres', code: '57P03', originalCode: '57P03' }), '57P03'],
  ['connection failure class 08', prismaAdapterError('P2010', { kind: 'postgres', code: '08006', originalCode: '08006' }), '08006'],
  ['closed', prismaAdapterError('P1017', { kind: 'ConnectionClosed' }), 'ConnectionClosed'],
  ['socket timeout', prismaAdapterError('P1008', { kind: 'SocketTimeout' }), 'SocketTimeout'],
  ['bare prisma code', Object.assign(new Error('x'), { code: 'P1001' }), 'P1001'],
  ['node error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'ECONNREFUSED'],
  ['pg message', new Error('Connection terminated unexpectedly'), 'connection-terminated'],
  ['nested cause', new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }), 'ECONNRESET'],
  ['our timeout', new TimeoutError('a read on a replica', 1000), 'timeout'],
  // Recorded: pg_terminate_backend() of the connection under a read (adapter-pg), and of the router's own.
  [
    'admin shutdown, FATAL (recorded)',
    prismaAdapterError('P2010', { kind: 'postgres', code: '57P01', originalCode: '57P01', severity: 'FATAL', message: 'terminating connection due to administrator command' }),
    '57P01',
  ],
  ['node-postgres, FATAL', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' }), '57P01'],
  ['authentication failed, FATAL', prismaAdapterError('P2010', { kind: 'postgres', code: '28P01', originalCode: '28P01', severity: 'FATAL' }), '28P01'],
  ['node-postgres without a password the server asks for', new Error('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'), 'AuthenticationFailed'],
  ['FATAL without a SQLSTATE', Object.assign(new Error('x'), { severity: 'FATAL' }), 'FATAL'],
])('connection-level: %s -> %s', (_label, error, cause) => {
  expect(connectionErrorCause(error)).toBe(cause)
})

it.each([
  ['not found (P2025)', Object.assign(new Error('No record'), { code: 'P2025', meta: { modelName: 'Note' } })],
  ['read-only transaction (25006)', prismaAdapterError('P2010', { kind: 'postgres', code: '25006', originalCode: '25006' })],
  ['division by zero', prismaAdapterError('P2010', { kind: 'postgres', code: '22012', originalCode: '22012' })],
  ['unique violation', prismaAdapterError('P2002', { kind: 'UniqueConstraintViolation' })],
  ['validation', Object.assign(new Error('Unknown argument `nope`'), { name: 'PrismaClientValidationError' })],
  ['a string', 'ECONNREFUSED'],
  // A protocol violation reported by a healthy server (severity ERROR; recorded): the session goes on.
  [
    '08P01 ERROR: too many bind parameters (recorded)',
    prismaAdapterError('P2010', { kind: 'postgres', code: '08P01', originalCode: '08P01', severity: 'ERROR', message: 'bind message has 4464 parameter formats but 0 parameters' }),
  ],
  [
    '08P01 ERROR: a NUL in the text (recorded)',
    prismaAdapterError('P2010', { kind: 'postgres', code: '08P01', originalCode: '08P01', severity: 'ERROR', message: 'invalid message format' }),
  ],
  ['08P01 ERROR from node-postgres', Object.assign(new Error('invalid message format'), { code: '08P01', severity: 'ERROR' })],
  ['57014 ERROR (statement timeout)', prismaAdapterError('P2010', { kind: 'postgres', code: '57014', originalCode: '57014', severity: 'ERROR' })],
  ['null', null],
])('query-level, never retried: %s', (_label, error) => {
  expect(connectionErrorCause(error)).toBeUndefined()
})

/** A Prisma error as `@prisma/adapter-pg` reports a server error (P2034 for 40001 / 40P01). */
const prismaError = (message: string, originalCode: string, originalMessage: string) =>
  Object.assign(new Error(message), { code: 'P2034', meta: { driverAdapterError: { cause: { kind: 'TransactionWriteConflict', originalCode, originalMessage } } } })

it('isRecoveryConflict: a standby’s cancellation (40001 / 40P01 with the server’s “conflict with recovery”), nothing else', () => {
  expect(isRecoveryConflict(prismaError('Transaction failed due to a write conflict or a deadlock', '40001', 'canceling statement due to conflict with recovery'))).toBe(true)
  expect(isRecoveryConflict(prismaError('…', '40P01', 'canceling statement due to conflict with recovery'))).toBe(true)
  expect(isRecoveryConflict(prismaError('…', '40001', 'terminating connection due to conflict with recovery'))).toBe(true)
  // node-postgres' own error (the router's connections): the server's message, with its severity.
  expect(isRecoveryConflict(Object.assign(new Error('canceling statement due to conflict with recovery'), { code: '40001', severity: 'ERROR' }))).toBe(true)
  // A serialization failure on the primary: the same SQLSTATE, another cause.
  expect(isRecoveryConflict(prismaError('…', '40001', 'could not serialize access due to concurrent update'))).toBe(false)
  // The phrase in the error's text only (e.g. the query's arguments shown by a validation error): not the server's.
  expect(isRecoveryConflict(Object.assign(new Error("where: { title: 'x due to conflict with recovery' } Unknown argument"), { code: 'P2009' }))).toBe(false)
  expect(isRecoveryConflict(new Error('canceling statement due to conflict with recovery'))).toBe(false)
  // Another SQLSTATE with the phrase: not one.
  expect(isRecoveryConflict(prismaError('…', '57014', 'canceling statement due to conflict with recovery'))).toBe(false)
})
