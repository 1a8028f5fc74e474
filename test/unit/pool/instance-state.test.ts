import t from 'tap';
import {
  hasCapacity,
  newInstanceRecord,
  transition,
  type InstanceEvent,
  type InstanceRecord,
  type InstanceState,
} from '../../../pool/instance-state.js';

const at = (state: InstanceState, inFlight = 0): InstanceRecord => ({ ...newInstanceRecord('i1', 'v1', 0), state, inFlight });
const acquire: InstanceEvent = { type: 'acquire', concurrency: 2 };

t.test('every allowed transition, its result and its effects', async (t) => {
  const cases: [InstanceRecord, InstanceEvent, Partial<InstanceRecord>, string[]][] = [
    [at('starting'), { type: 'healthy' }, { state: 'idle', lastUsedAt: 100 }, []],
    [at('starting'), { type: 'start-failed' }, { state: 'dead' }, ['kill']],
    [at('starting'), { type: 'drain' }, { state: 'dead' }, ['kill']],
    [at('idle'), acquire, { state: 'busy', inFlight: 1 }, []],
    [at('idle'), { type: 'pause' }, { state: 'paused' }, ['pause']],
    [at('idle'), { type: 'drain' }, { state: 'dead' }, ['stop']],
    [at('paused'), acquire, { state: 'busy', inFlight: 1 }, ['unpause']],
    [at('paused'), { type: 'drain' }, { state: 'dead' }, ['kill']],
    [at('busy', 1), acquire, { state: 'busy', inFlight: 2 }, []],
    [at('busy', 2), { type: 'release' }, { state: 'busy', inFlight: 1, served: 1 }, []],
    [at('busy', 1), { type: 'release' }, { state: 'idle', inFlight: 0, served: 1, lastUsedAt: 100 }, []],
    [at('busy', 1), { type: 'timeout' }, { state: 'dead', inFlight: 0 }, ['kill']],
    [at('busy', 2), { type: 'drain' }, { state: 'draining', inFlight: 2 }, []],
    [at('draining', 2), { type: 'release' }, { state: 'draining', inFlight: 1 }, []],
    [at('draining', 1), { type: 'release' }, { state: 'dead', inFlight: 0 }, ['stop']],
    [at('draining', 1), { type: 'timeout' }, { state: 'dead' }, ['kill']],
    [at('draining', 1), { type: 'drain' }, { state: 'draining' }, []],
    [at('dead'), { type: 'release' }, { state: 'dead' }, []],
    [at('dead'), { type: 'timeout' }, { state: 'dead' }, []],
    [at('dead'), { type: 'drain' }, { state: 'dead' }, []],
  ];
  for (const [record, event, expected, effects] of cases) {
    const result = transition(record, event, 100);
    const name = `${record.state}(${record.inFlight}) + ${event.type}`;
    t.match(result.record, expected, name);
    t.same(result.effects, effects, `${name}: effects`);
  }
});

t.test('an exit is accepted in every state and frees the instance', async (t) => {
  for (const state of ['starting', 'idle', 'busy', 'paused', 'draining', 'dead'] as const) {
    const result = transition(at(state, state === 'busy' || state === 'draining' ? 1 : 0), { type: 'exited' }, 5);
    t.match(result.record, { state: 'dead', inFlight: 0 }, state);
    t.same(result.effects, [], `${state}: nothing left to do`);
  }
});

t.test('everything else is refused', async (t) => {
  const illegal: [InstanceRecord, InstanceEvent][] = [
    [at('starting'), acquire],
    [at('starting'), { type: 'release' }],
    [at('idle'), { type: 'healthy' }],
    [at('idle'), { type: 'release' }],
    [at('busy', 2), acquire],
    [at('busy', 1), { type: 'pause' }],
    [at('paused'), { type: 'pause' }],
    [at('paused'), { type: 'release' }],
    [at('draining', 1), acquire],
    [at('dead'), acquire],
    [at('dead'), { type: 'healthy' }],
  ];
  for (const [record, event] of illegal) {
    t.throws(() => transition(record, event, 0), { code: 'ILLEGAL_TRANSITION' }, `${record.state}(${record.inFlight}) + ${event.type}`);
  }
});

t.test('records are values: a transition never mutates its input', async (t) => {
  const record = at('idle');
  transition(record, acquire, 1);
  t.equal(record.state, 'idle');
});

t.test('capacity', async (t) => {
  t.ok(hasCapacity(at('idle'), 1));
  t.ok(hasCapacity(at('paused'), 1));
  t.ok(hasCapacity(at('busy', 1), 2));
  t.notOk(hasCapacity(at('busy', 2), 2));
  t.notOk(hasCapacity(at('starting'), 4));
  t.notOk(hasCapacity(at('draining', 0), 4));
  t.notOk(hasCapacity(at('dead'), 4));
});
