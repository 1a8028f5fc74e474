/** Keeps the last `max` bytes of long logs (where the failure usually is), marked as cut. */
export function cutLogs(logs: string, max: number): string {
  const bytes = Buffer.from(logs);
  if (bytes.length <= max) return logs;
  return `[hearth: logs truncated to the last ${max} bytes]\n${bytes.subarray(bytes.length - max).toString('utf8')}`;
}
