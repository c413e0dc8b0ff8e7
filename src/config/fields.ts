import { z } from "zod";
import { configSchema, type FieldMeta } from "./schema.js";

/** JSON-Schema view of one field, as produced by zod's toJSONSchema. */
export interface JsonSchemaNode extends FieldMeta {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  minLength?: number;
  items?: JsonSchemaNode;
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
}

/** One configurable leaf of the schema (a value set as a whole from file, env or flag). */
export interface ConfigField {
  path: string[];
  key: string;
  node: JsonSchemaNode;
  kind: "string" | "number" | "integer" | "boolean" | "enum" | "string[]" | "json";
  envNames: string[];
  flag: string;
  secret: boolean;
}

function kindOf(node: JsonSchemaNode): ConfigField["kind"] {
  if (node.enum) return "enum";
  const t = Array.isArray(node.type) ? node.type[0] : node.type;
  if (t === "string" || t === "number" || t === "integer" || t === "boolean") return t;
  if (t === "array" && node.items && (node.items.type === "string" || node.items.enum)) return "string[]";
  return "json";
}

function screaming(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

function walk(node: JsonSchemaNode, path: string[], out: ConfigField[]): void {
  const t = Array.isArray(node.type) ? node.type[0] : node.type;
  if (t === "object" && node.properties && Object.keys(node.properties).length > 0) {
    for (const [k, child] of Object.entries(node.properties)) walk(child, [...path, k], out);
    return;
  }
  if (t === "object" && path.length === 1) return; // empty section
  const key = path.join(".");
  out.push({
    path,
    key,
    node,
    kind: kindOf(node),
    envNames: node.env ?? [`PYLON_${path.map(screaming).join("_")}`],
    flag: node.flag ?? `--${key}`,
    secret: node.secret === true,
  });
}

let cached: { fields: ConfigField[]; root: JsonSchemaNode } | undefined;

/** Every leaf of the config schema, in schema order. Derived once from the schema (immutable). */
export function configFields(): ConfigField[] {
  return describeSchema().fields;
}

export function describeSchema(): { fields: ConfigField[]; root: JsonSchemaNode } {
  if (!cached) {
    const root = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchemaNode;
    const fields: ConfigField[] = [];
    walk(root, [], fields);
    cached = { fields, root };
  }
  return cached;
}

/** The field at a path, or the nearest ancestor field (for errors inside JSON-valued fields). */
export function fieldAt(path: readonly (string | number | symbol)[]): ConfigField | undefined {
  const fields = configFields();
  for (let n = path.length; n > 0; n--) {
    const key = path.slice(0, n).map(String).join(".");
    const f = fields.find((x) => x.key === key);
    if (f) return f;
  }
  return undefined;
}

/** A human description of what a field accepts. */
export function allowedValues(node: JsonSchemaNode): string {
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(" | ")}`;
  const t = Array.isArray(node.type) ? node.type.join("|") : node.type;
  const parts: string[] = [];
  if (t === "integer") parts.push("an integer");
  else if (t === "number") parts.push("a number");
  else if (t === "boolean") parts.push("true or false");
  else if (t === "string") parts.push("a string");
  else if (t === "array") parts.push(node.items?.enum ? `a list of ${allowedValues(node.items)}` : "a list");
  else if (t) parts.push(`a ${t}`);
  if (node.minimum !== undefined && node.maximum !== undefined) parts.push(`from ${node.minimum} to ${node.maximum}`);
  else if (node.minimum !== undefined) parts.push(`>= ${node.minimum}`);
  else if (node.maximum !== undefined) parts.push(`<= ${node.maximum}`);
  if (node.pattern) parts.push(`matching /${node.pattern}/`);
  return parts.join(" ") || "see docs";
}
