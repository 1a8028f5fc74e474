/** How results are printed: tables for people, JSON (`--json`) for scripts. */
export interface Output {
  readonly json: boolean;
  /** The result: JSON as is with --json, else `human()`'s text. */
  result(value: unknown, human?: () => string): void;
  /** Progress and notes, on stderr so stdout stays the result. */
  note(text: string): void;
}

export function createOutput(json: boolean, stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Output {
  return {
    json,
    result(value, human) {
      stdout.write(`${json || human === undefined ? JSON.stringify(value, null, 2) : human()}\n`);
    },
    note(text) {
      if (!json) stderr.write(`${text}\n`);
    },
  };
}

/** Columns padded to their widest cell; an empty list says so. */
export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  if (rows.length === 0) return '(none)';
  const cells = [headers, ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] as string).length)));
  return cells.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : (cell as string).padEnd(widths[i] as number))).join('  ').trimEnd()).join('\n');
}
