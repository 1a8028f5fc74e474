import { Cron } from 'croner';

/** A scheduled trigger of a module's deploy config. */
export interface CronTrigger {
  readonly type: 'cron';
  /** Five fields (minute hour day month weekday), or six with seconds first. */
  readonly schedule: string;
  readonly function: string;
  /** The event each tick's call gets. Default {}. */
  readonly event?: Readonly<Record<string, unknown>>;
  /** IANA time zone the schedule is read in. Default: the daemon's. */
  readonly timezone?: string;
}

/** Why the schedule (or time zone) cannot be used, or undefined when it can. */
export function cronProblem(trigger: Pick<CronTrigger, 'schedule' | 'timezone'>): string | undefined {
  try {
    const probe = new Cron(trigger.schedule, { paused: true, ...(trigger.timezone === undefined ? {} : { timezone: trigger.timezone }) });
    const next = probe.nextRun();
    probe.stop();
    return next === null ? 'it never fires' : undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** One firing: which trigger, and the time it was due. */
export type Fire = (module: string, trigger: CronTrigger, scheduledAt: Date) => void;

/**
 * Runs each module's cron triggers (croner). A tick missed while the daemon
 * was down is not replayed: schedules start from now at every start. A tick
 * that comes while the previous one's handling is still under way is not
 * skipped here: each tick is its own async job, queued like any other.
 */
export class CronScheduler {
  private readonly jobs = new Map<string, Cron[]>();

  constructor(private readonly fire: Fire) {}

  /** Replaces the module's schedules with these. */
  set(module: string, triggers: readonly CronTrigger[]): void {
    this.remove(module);
    if (triggers.length === 0) return;
    this.jobs.set(
      module,
      triggers.map(
        (trigger) =>
          new Cron(trigger.schedule, { ...(trigger.timezone === undefined ? {} : { timezone: trigger.timezone }) }, (self: Cron) => {
            this.fire(module, trigger, self.currentRun() ?? new Date());
          }),
      ),
    );
  }

  remove(module: string): void {
    for (const job of this.jobs.get(module) ?? []) job.stop();
    this.jobs.delete(module);
  }

  /** The next firing of each of the module's triggers. */
  next(module: string): (Date | null)[] {
    return (this.jobs.get(module) ?? []).map((job) => job.nextRun());
  }

  close(): void {
    for (const module of [...this.jobs.keys()]) this.remove(module);
  }
}
