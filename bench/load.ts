/** Runs worker(0 … count-1) over `connections` concurrent lanes, each taking the next index when it is free. */
export async function inParallel(count: number, connections: number, worker: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (next < count) await worker(next++);
    }),
  );
}
