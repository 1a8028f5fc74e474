import { validateWorkflow, type Workflow } from '../workflows/index.js';
import { WorkflowInvalidError } from './errors.js';
import type { ModuleRegistry } from './module-registry.js';

/** The compiled workflow, or WorkflowInvalidError listing every problem. */
export function compileWorkflow(definition: unknown, maxNodes: number): Workflow {
  const validation = validateWorkflow(definition, { maxNodes });
  if (!validation.ok) throw new WorkflowInvalidError({ problems: validation.problems });
  return validation.workflow;
}

/**
 * Nodes whose function is not deployed (yet): not an error when saving, since
 * modules may come later, but said at once; a run fails at that step.
 */
export function deploymentWarnings(workflow: Workflow, registry: ModuleRegistry): { at: string; message: string }[] {
  const warnings: { at: string; message: string }[] = [];
  for (const node of workflow.nodes.values()) {
    const entry = registry.lookup(node.module);
    const at = `nodes.${node.name}.function`;
    if (entry === undefined) warnings.push({ at, message: `module ${node.module} is not deployed (yet); a run fails at this step until it is` });
    else if (!entry.functions.has(node.fn)) {
      warnings.push({ at, message: `module ${node.module} has no function ${node.fn} (it has ${entry.record.functions.join(', ')}); a run fails at this step` });
    }
  }
  return warnings;
}
