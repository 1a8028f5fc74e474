/** An Ajv error, as Fastify hands it to its schema error formatter. */
export interface SchemaError {
  readonly instancePath: string;
  readonly keyword: string;
  readonly message?: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** Set by Ajv on errors about an object's key (propertyNames). */
  readonly propertyName?: string;
}

/** One sentence naming the field at fault: `body/config/memoryMb must be >= 32`. */
export function describeSchemaErrors(errors: readonly SchemaError[], dataVar: string): string {
  const first = errors[0];
  if (first === undefined) return `${dataVar} is invalid`;
  const path = `${dataVar}${first.instancePath}`;
  // Ajv reports a bad key (propertyNames) as the failed keyword of the key, naming the key beside it.
  const key = first.propertyName ?? first.params.propertyName;
  if (key !== undefined) return `${path} has an invalid name ${JSON.stringify(key)}`;
  switch (first.keyword) {
    case 'additionalProperties':
      return `${path} has an unknown field ${JSON.stringify(first.params.additionalProperty)}`;
    case 'enum':
      return `${path} must be one of ${(first.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${path} ${first.message ?? 'is invalid'}`;
  }
}
