import { existsSync, readFileSync } from "node:fs";
import { resolve, extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { configSchema, type PylonConfig, type PylonConfigInput } from "./schema.js";
import { allowedValues, configFields, fieldAt, type ConfigField } from "./fields.js";

/** One problem found while loading configuration. */
export interface ConfigIssue {
  /** Dotted field path, e.g. engine.transports ("" for the root). */
  path: string;
  /** Where the value came from: default, file FILE, env VAR, flag --x. */
  source: string;
  /** The offending value, as given (masked for secrets). */
  value: unknown;
  /** What is allowed. */
  allowed: string;
  message: string;
}

/** Thrown for invalid configuration; `issues` name every bad field. */
export class ConfigError extends Error {
  readonly code = "config_invalid";
  constructor(readonly issues: ConfigIssue[]) {
    super(
      "invalid configuration:\n" +
        issues
          .map((i) => `  ${i.path || "(root)"}: ${i.message}; got ${fmt(i.value)} (from ${i.source}); allowed: ${i.allowed}`)
          .join("\n"),
    );
    this.name = "ConfigError";
  }
}

function fmt(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 120 ? s.slice(0, 117) + "..." : s;
}

export interface LoadOptions {
  /** CLI flags (already stripped of the command name). */
  argv?: readonly string[];
  /** Environment to read PYLON_* (and PORT) from. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Directory where pylon.config.{json,yaml,yml} is looked up. */
  cwd?: string;
  /** Programmatic overrides applied between env and flags. */
  overrides?: PylonConfigInput;
}

export interface LoadedConfig {
  config: PylonConfig;
  /** The config file read, if any. */
  file: string | undefined;
  /** Where each non-default field's value came from. */
  sources: Record<string, string>;
  /** Non-fatal findings: unknown PYLON_* variables. */
  warnings: string[];
}

const CONFIG_FILES = ["pylon.config.json", "pylon.config.yaml", "pylon.config.yml"];
/** Variables with the PYLON_ prefix that are not config fields but are known. */
const NON_CONFIG_ENV = new Set(["PYLON_CONFIG"]);

type Obj = Record<string, unknown>;

function setPath(target: Obj, path: readonly string[], value: unknown): void {
  let cur = target;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = cur[k];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cur[k] = {};
    cur = cur[k] as Obj;
  }
  cur[path[path.length - 1]!] = value;
}

function getPath(target: unknown, path: readonly (string | number | symbol)[]): unknown {
  let cur: unknown = target;
  for (const k of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string | number | symbol, unknown>)[k];
  }
  return cur;
}

function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      typeof v === "object" && v !== null && !Array.isArray(v) && typeof b === "object" && b !== null && !Array.isArray(b)
        ? deepMerge(b as Obj, v as Obj)
        : v;
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === "object" && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Turns a string (env or flag) into the field's type; leaves it as a string when it does not parse, so validation names it. */
export function coerce(field: ConfigField, raw: string): unknown {
  switch (field.kind) {
    case "integer":
    case "number": {
      const n = Number(raw.replace(/_/g, ""));
      return raw.trim() !== "" && Number.isFinite(n) ? n : raw;
    }
    case "boolean": {
      const s = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(s)) return true;
      if (["false", "0", "no", "off"].includes(s)) return false;
      return raw;
    }
    case "string[]": {
      const s = raw.trim();
      if (s.startsWith("[")) return parseJsonOr(s);
      return s === "" ? [] : s.split(",").map((x) => x.trim()).filter((x) => x !== "");
    }
    case "json":
      return parseJsonOr(raw);
    default:
      return raw;
  }
}

function parseJsonOr(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function readConfigFile(file: string): Obj {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([
      { path: "", source: `file ${file}`, value: file, allowed: "a readable JSON or YAML file", message: `cannot read config file (${(err as Error).message})` },
    ]);
  }
  try {
    const ext = extname(file).toLowerCase();
    const parsed: unknown = ext === ".yaml" || ext === ".yml" ? parseYaml(text) : JSON.parse(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("top level must be an object");
    return parsed as Obj;
  } catch (err) {
    throw new ConfigError([
      { path: "", source: `file ${file}`, value: undefined, allowed: "valid JSON (.json) or YAML (.yaml/.yml) with an object at the top", message: `cannot parse config file (${(err as Error).message})` },
    ]);
  }
}

interface ParsedFlags {
  configFile: string | undefined;
  values: Obj;
  sources: Record<string, string>;
}

function parseFlags(argv: readonly string[]): ParsedFlags {
  const fields = configFields();
  const out: ParsedFlags = { configFile: undefined, values: {}, sources: {} };
  const issues: ConfigIssue[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      issues.push({ path: "", source: `flag ${arg}`, value: arg, allowed: "--<field> VALUE flags (see `pylon config docs`)", message: "unexpected argument" });
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const takeValue = (): string | undefined => {
      if (value !== undefined) return value;
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        i++;
        return next;
      }
      return undefined;
    };
    if (name === "--config") {
      out.configFile = takeValue();
      continue;
    }
    const field = fields.find((f) => f.flag === name || `--${f.key}` === name);
    if (!field) {
      issues.push({ path: "", source: `flag ${name}`, value: name, allowed: "a known flag (see `pylon config docs`)", message: "unknown flag" });
      continue;
    }
    if (field.kind === "boolean" && value === undefined) {
      // a bare boolean flag means true; a following non-flag word is its value (validated: "maybe" is an error)
      const next = argv[i + 1];
      value = next !== undefined && !next.startsWith("--") ? (i++, next) : "true";
    } else value = takeValue();
    if (value === undefined) {
      issues.push({ path: field.key, source: `flag ${name}`, value: undefined, allowed: allowedValues(field.node), message: "flag needs a value" });
      continue;
    }
    setPath(out.values, field.path, coerce(field, value));
    out.sources[field.key] = `flag ${name}`;
  }
  if (issues.length) throw new ConfigError(issues);
  return out;
}

function readEnv(env: Readonly<Record<string, string | undefined>>): { values: Obj; sources: Record<string, string>; warnings: string[] } {
  const values: Obj = {};
  const sources: Record<string, string> = {};
  const known = new Set<string>(NON_CONFIG_ENV);
  for (const field of configFields()) {
    for (const name of field.envNames) known.add(name);
    const name = field.envNames.find((n) => env[n] !== undefined && env[n] !== "");
    if (!name) continue;
    setPath(values, field.path, coerce(field, env[name]!));
    sources[field.key] = `env ${name}`;
  }
  const warnings = Object.keys(env)
    .filter((k) => k.startsWith("PYLON_") && !known.has(k))
    .map((k) => `unknown environment variable ${k} (not a config field; see \`pylon config docs\`)`);
  return { values, sources, warnings };
}

function collectSources(prefix: string[], obj: Obj, source: string, into: Record<string, string>): void {
  for (const [k, v] of Object.entries(obj)) {
    const path = [...prefix, k];
    const field = configFields().find((f) => f.key === path.join("."));
    if (field || typeof v !== "object" || v === null || Array.isArray(v)) into[path.join(".")] = source;
    else collectSources(path, v as Obj, source, into);
  }
}

/** Validates a raw config object against the schema; throws ConfigError naming each bad field. */
export function parseConfig(input: unknown, sources: Record<string, string> = {}): PylonConfig {
  const result = configSchema.safeParse(input ?? {});
  if (result.success) return deepFreeze(result.data);
  const issues: ConfigIssue[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const path = [...issue.path.map(String), key].join(".");
        issues.push({ path, source: sources[path] ?? "input", value: getPath(input, [...issue.path, key]), allowed: "no such field (see `pylon config docs`)", message: "unknown field" });
      }
      continue;
    }
    const path = issue.path.map(String).join(".");
    const field = fieldAt(issue.path);
    const source = sources[path] ?? (field ? sources[field.key] : undefined) ?? "input";
    let value = getPath(input, issue.path);
    if (field?.secret && typeof value === "string") value = "***";
    issues.push({ path, source, value, allowed: field ? allowedValues(field.node) : "see `pylon config docs`", message: issue.message });
  }
  throw new ConfigError(issues);
}

/** Loads configuration: defaults < config file < env (PYLON_*) < overrides < CLI flags. Throws ConfigError. */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? {};
  const cwd = opts.cwd ?? ".";
  const flags = parseFlags(opts.argv ?? []);
  const explicit = flags.configFile ?? env["PYLON_CONFIG"];
  let file: string | undefined;
  if (explicit) file = resolve(cwd, explicit);
  else file = CONFIG_FILES.map((f) => resolve(cwd, f)).find((f) => existsSync(f));
  const sources: Record<string, string> = {};
  const fromFile = file ? readConfigFile(file) : {};
  if (file) collectSources([], fromFile, `file ${file}`, sources);
  const fromEnv = readEnv(env);
  Object.assign(sources, fromEnv.sources);
  const overrides = (opts.overrides ?? {}) as Obj;
  collectSources([], overrides, "overrides", sources);
  Object.assign(sources, flags.sources);
  const merged = deepMerge(deepMerge(deepMerge(fromFile, fromEnv.values), overrides), flags.values);
  const config = parseConfig(merged, sources);
  return { config, file, sources, warnings: fromEnv.warnings };
}

/** The effective config with secrets masked, for printing. */
export function maskSecrets(config: PylonConfig): unknown {
  const copy = structuredClone(config) as unknown as Obj;
  for (const f of configFields()) {
    if (!f.secret) continue;
    const v = getPath(copy, f.path);
    if (typeof v === "string" && v !== "") setPath(copy, f.path, "***");
  }
  return copy;
}

/** Loads configuration from this process: its environment, working directory and the given CLI flags. */
export function loadConfigFromProcess(argv: readonly string[], overrides?: PylonConfigInput): LoadedConfig {
  return loadConfig({ argv, env: process.env, cwd: process.cwd(), ...(overrides ? { overrides } : {}) });
}
