/**
 * @module services/dynamodb/partiql/unnest
 * A PartiQL SELECT of nested paths answers with the leaves, not with the documents around them:
 * `SELECT info.size, tags[1] FROM t` gives `{size: …, "tags[1]": …}` where a ProjectionExpression would give
 * `{info: {size: …}, tags: [ … ]}`. A leaf is named by its last map key; list indexes are appended to the name
 * of the path above them. This turns an item projected the DynamoDB way into PartiQL's shape. Pure.
 */
import type { AttributeValue, Item } from '../attributes.js';
import type { DocPath } from './ast.js';

interface ProjectionNode {
  children: Map<string | number, ProjectionNode>;
}

function tree(paths: DocPath[]): ProjectionNode {
  const root: ProjectionNode = { children: new Map() };
  for (const path of paths) {
    let node = root;
    for (const step of path) {
      let next = node.children.get(step);
      if (!next) {
        next = { children: new Map() };
        node.children.set(step, next);
      }
      node = next;
    }
    // A shorter path takes its whole document: what a longer one under it named is no longer a separate leaf.
    node.children.clear();
  }
  return root;
}

function collect(doc: AttributeValue, node: ProjectionNode, parentName: string, out: Item): void {
  if (doc.M !== undefined) {
    for (const [step, child] of node.children) {
      if (typeof step !== 'string') continue;
      const value = doc.M[step];
      if (value !== undefined) place(value, child, step, out);
    }
  } else if (doc.L !== undefined) {
    // A projected list holds only the projected elements, in index order.
    const indexes = [...node.children.keys()].filter((k): k is number => typeof k === 'number').sort((a, b) => a - b);
    indexes.forEach((index, i) => {
      const value = doc.L![i];
      if (value !== undefined) place(value, node.children.get(index)!, `${parentName}[${index}]`, out);
    });
  }
}

function place(value: AttributeValue, node: ProjectionNode, name: string, out: Item): void {
  if (node.children.size === 0) out[name] = value;
  else collect(value, node, name, out);
}

/** The PartiQL shape of an item projected by `paths`; items of top-level paths only are returned as they are. */
export function unnest(item: Item, paths: DocPath[]): Item {
  if (paths.every((p) => p.length === 1)) return item;
  const out: Item = {};
  collect({ M: item }, tree(paths), '', out);
  return out;
}
