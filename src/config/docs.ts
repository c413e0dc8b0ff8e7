import { configFields, describeSchema, allowedValues } from "./fields.js";

function typeLabel(kind: string, allowed: string): string {
  return kind === "enum" ? allowed.replace(/^one of /, "") : kind;
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The configuration reference in Markdown, generated from the schema (the README embeds it). */
export function configReference(): string {
  const root = describeSchema().root;
  const lines: string[] = [];
  let section = "";
  for (const f of configFields()) {
    const top = f.path[0]!;
    if (top !== section) {
      section = top;
      const doc = root.properties?.[top]?.description;
      lines.push("", `### \`${top}\``, "");
      if (doc) lines.push(doc, "");
      lines.push("| key | type | default | env | flag | description |", "|---|---|---|---|---|---|");
    }
    const def = f.node.default === undefined ? "" : `\`${JSON.stringify(f.node.default)}\``;
    lines.push(
      `| \`${f.key}\` | ${cell(typeLabel(f.kind, allowedValues(f.node)))} | ${cell(def)} | ${f.envNames.map((e) => `\`${e}\``).join(", ")} | \`${f.flag}\` | ${cell(f.node.description ?? "")}${f.secret ? " (secret: masked in output)" : ""} |`,
    );
  }
  return lines.join("\n").trim() + "\n";
}
