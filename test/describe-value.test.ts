import { expect, it } from 'vitest'
import { describeValue } from '../src/describe-value.ts'

it.each([
  [-1, '`-1` (number)'],
  [Number.NaN, '`NaN` (number)'],
  [true, '`true` (boolean)'],
  [10n, '`10` (bigint)'],
  [null, '`null`'],
  [undefined, '`undefined`'],
  ['round-robbin', '`round-robbin` (string)'],
  ['', '`` (string)'],
  [[1, 2], 'an array of 2 items'],
  [{}, 'an object'],
  [new Map(), 'an instance of Map'],
  [() => 1, 'a function'],
  [Symbol('s'), 'a symbol'],
])('%s -> %s', (value, expected) => {
  expect(describeValue(value)).toBe(expected)
})

it.each(['postgresql://user:pw@host:5432/db', 'postgres://host/db', 'user@host', 'host=db password=hunter2', 'x'.repeat(61), 'line\nbreak'])(
  'never echoes a string that could carry a secret: %j',
  (value) => {
    expect(describeValue(value)).toBe(`a string of ${String(value.length)} characters (not shown)`)
  },
)
