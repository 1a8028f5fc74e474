/** Keeps the last `max` bytes of long logs (where the failure usually is), marked as cut. */
export function cutLogs(logs: string, max: number): string {
  // Measured without copying: this runs for every call.
  if (Buffer.byteLength(logs) <= max) return logs;
  const bytes = Buffer.from(logs);
  return `[hearth: logs truncated to the last ${max} bytes]\n${bytes.subarray(bytes.length - max).toString('utf8')}`;
}
