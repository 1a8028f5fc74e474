import type { Logger } from 'pino';
import type { Fire } from '../triggers/index.js';
import { idGenerator } from './ids.js';
import { buildPayload } from './invocation-payload.js';
import type { JobRunner } from './job-runner.js';
import type { ModuleRegistry } from './module-registry.js';

/** Each cron tick becomes an async job (trigger `cron`): stored, retried after a crash, pollable. */
export function cronFirer(registry: ModuleRegistry, runner: JobRunner, log: Logger): Fire {
  const newId = idGenerator();
  return (module, trigger, scheduledAt) => {
    const entry = registry.lookup(module);
    if (entry === undefined) return;
    const id = newId();
    const payload = buildPayload(entry.record, trigger.function, {
      eventJson: JSON.stringify(trigger.event ?? {}),
      trigger: 'cron',
      requestId: id,
      extra: { cron: { schedule: trigger.schedule, scheduled_at: scheduledAt.toISOString() } },
    });
    runner
      .submit({ id, module, function: trigger.function, payload, createdAt: Date.now(), callbackUrl: null, trigger: 'cron' })
      .catch((err: unknown) => log.error({ err, module, function: trigger.function }, 'could not store a cron tick as a job'));
  };
}
