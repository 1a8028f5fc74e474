/**
 * A bounded FIFO of calls waiting for a slot. An array with a moving head:
 * O(1) push/shift and removal by marking, which is all the pool needs. (p-queue
 * runs tasks under a concurrency limit; here the "slots" are instances that come
 * and go, so a plain queue of waiters the pool hands slots to fits better.)
 */
export class WaiterQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    this.items.push(item);
    this.count += 1;
  }

  shift(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head] = undefined;
      this.head += 1;
      if (item !== undefined) {
        this.count -= 1;
        this.compact();
        return item;
      }
    }
    return undefined;
  }

  /** Removes `item` wherever it waits (a call that gave up); false if it was not queued. */
  remove(item: T): boolean {
    const index = this.items.indexOf(item, this.head);
    if (index < 0) return false;
    this.items[index] = undefined;
    this.count -= 1;
    return true;
  }

  drain(): T[] {
    const all = this.items.slice(this.head).filter((item): item is T => item !== undefined);
    this.items = [];
    this.head = 0;
    this.count = 0;
    return all;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
