import type { Condition } from './condition.js';
import type { JsonPath } from './json-path.js';

/** A node of a validated workflow: one function call. */
export interface WorkflowNode {
  readonly name: string;
  readonly module: string;
  readonly fn: string;
  /** This node's own call time limit; the module's timeoutMs still bounds it. */
  readonly timeoutMs: number | undefined;
  /** Further attempts after a failed one. */
  readonly retries: number;
  /** Wait before the first retry; doubled for each further one. */
  readonly retryDelayMs: number;
  /** What of the node's input the function gets as `event`. Default `$`. */
  readonly inputPath: JsonPath;
  /** Where the result goes in the node's input to make its output. Default `$` (the result replaces it). */
  readonly resultPath: JsonPath;
}

/** An edge: taken when `when` holds, always when absent, and as `otherwise` when no conditional sibling was. */
export interface WorkflowEdge {
  readonly from: string;
  readonly to: string;
  readonly when: Condition | 'otherwise' | undefined;
}

/** A workflow that passed validation: acyclic, every node reachable from `start`. */
export interface Workflow {
  readonly name: string;
  readonly start: string;
  /** In document order. */
  readonly nodes: ReadonlyMap<string, WorkflowNode>;
  readonly edges: readonly WorkflowEdge[];
  readonly outgoing: ReadonlyMap<string, readonly WorkflowEdge[]>;
  readonly incoming: ReadonlyMap<string, readonly WorkflowEdge[]>;
}
