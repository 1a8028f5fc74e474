/**
 * One host uid per live instance, when the daemon runs as root: instances then
 * cannot signal, trace or write to each other, and RLIMIT_NPROC (counted per
 * uid) bounds each instance alone. Lowest free first, so uids are reused.
 */
export class UidPool {
  private readonly used = new Set<number>();

  constructor(
    private readonly first: number,
    private readonly size: number,
  ) {}

  acquire(): number {
    for (let uid = this.first; uid < this.first + this.size; uid += 1) {
      if (!this.used.has(uid)) {
        this.used.add(uid);
        return uid;
      }
    }
    throw new Error(`all ${this.size} instance uids from ${this.first} are in use`);
  }

  release(uid: number): void {
    this.used.delete(uid);
  }
}
