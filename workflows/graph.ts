import type { Condition } from './condition.js';
import type { Workflow } from './workflow.js';

/**
 * The workflow as a Mermaid flowchart: nodes show their function, edges their
 * condition. Ids are n0, n1… so no user text ever lands in Mermaid syntax
 * unquoted; labels are quoted, with `" < >` written as Mermaid entities.
 */
export function toMermaid(workflow: Workflow): string {
  const ids = new Map([...workflow.nodes.keys()].map((name, i) => [name, `n${i}`]));
  const lines = ['flowchart TD'];
  for (const node of workflow.nodes.values()) {
    const id = ids.get(node.name) as string;
    // Names are identifiers (validated), so only the line break is markup here.
    const label = `${node.name}<br/>${node.module}.${node.fn}`;
    lines.push(node.name === workflow.start ? `  ${id}(["${label}"])` : `  ${id}["${label}"]`);
  }
  for (const edge of workflow.edges) {
    const from = ids.get(edge.from) as string;
    const to = ids.get(edge.to) as string;
    if (edge.when === undefined) lines.push(`  ${from} --> ${to}`);
    else if (edge.when === 'otherwise') lines.push(`  ${from} -.->|"otherwise"| ${to}`);
    else lines.push(`  ${from} -->|"${escape(describeCondition(edge.when))}"| ${to}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A condition as one line of text: `$.valid == true and not ($.amount > 100)`. */
export function describeCondition(condition: Condition): string {
  switch (condition.kind) {
    case 'all':
    case 'any':
      return condition.of.map((c) => (c.kind === 'compare' || c.kind === 'not' ? describeCondition(c) : `(${describeCondition(c)})`)).join(condition.kind === 'all' ? ' and ' : ' or ');
    case 'not':
      return `not (${describeCondition(condition.of)})`;
    case 'compare':
      return condition.op === 'exists'
        ? `${condition.path.text} ${condition.value === false ? 'missing' : 'exists'}`
        : `${condition.path.text} ${condition.op} ${JSON.stringify(condition.value)}`;
  }
}

function escape(text: string): string {
  return text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;').replace(/[\r\n]+/g, ' ');
}
