/**
 * deploy/prometheus and deploy/grafana stay valid and in step with docs/metrics.md: the rules file is YAML with the
 * expected groups and complete alerts, the dashboard is importable JSON with a panel per SLO, and every metric either
 * file uses is documented.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { REPO_ROOT } from "../helpers/index.js";

const read = (p: string): string => readFileSync(join(REPO_ROOT, p), "utf8");
const docs = read("docs/metrics.md");

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RulesFile {
  groups: { name: string; interval?: string; rules: Rule[] }[];
}

/** `pylon_*` metric names used in PromQL (histogram series suffixes stripped; recording rule names excluded). */
function metricNames(promql: string): string[] {
  const names = new Set<string>();
  for (const m of promql.matchAll(/\b(pylon_[a-z0-9_]+)/g)) names.add(m[1]!.replace(/_(bucket|sum|count)$/, ""));
  return [...names];
}

function documented(name: string): boolean {
  return docs.includes("`" + name + "`");
}

test("prometheus rules: valid YAML, recording and alert groups, every SLO alert complete", () => {
  const rules = parse(read("deploy/prometheus/pylon-rules.yml")) as RulesFile;
  assert.deepEqual(rules.groups.map((g) => g.name), ["pylon-slo-recording", "pylon-slo-alerts"]);
  const recording = rules.groups[0]!.rules;
  const alerts = rules.groups[1]!.rules;
  assert.ok(recording.every((r) => r.record && r.expr && !r.alert), "recording group holds only recording rules");
  for (const r of recording) assert.match(r.record!, /^pylon:[a-z0-9_]+:[a-z0-9_]+$/, `level:metric:operations naming: ${r.record}`);
  const names = alerts.map((a) => a.alert);
  for (const slo of ["PylonUpgradeSuccessLow", "PylonEventLatencyP99High", "PylonBroadcastIncomplete", "PylonDisconnectSpike", "PylonBackplaneDown"]) {
    assert.ok(names.includes(slo), `alert ${slo} present`);
  }
  const recorded = new Set(recording.map((r) => r.record));
  for (const a of alerts) {
    assert.ok(a.alert && a.expr, "alert and expr");
    assert.match(a.for ?? "", /^\d+[smh]$/, `${a.alert}: for`);
    assert.ok(["critical", "warning", "info"].includes(a.labels?.severity ?? ""), `${a.alert}: severity`);
    assert.ok(a.annotations?.summary, `${a.alert}: summary`);
    const runbook = a.annotations?.runbook ?? "";
    assert.match(runbook, /^docs\/metrics\.md#[a-z0-9]+$/, `${a.alert}: runbook link`);
    assert.ok(docs.includes(`### ${a.alert}`), `${a.alert} has its section in docs/metrics.md`);
    assert.equal(runbook.split("#")[1], a.alert!.toLowerCase(), `${a.alert}: the anchor matches the heading`);
    for (const used of a.expr.matchAll(/\b(pylon:[a-z0-9_:]+)/g)) assert.ok(recorded.has(used[1]!), `${a.alert} uses recorded ${used[1]}`);
  }
  const undocumented = [...recording, ...alerts].flatMap((r) => metricNames(r.expr)).filter((n) => !n.startsWith("pylon_canary_") && !documented(n));
  assert.deepEqual([...new Set(undocumented)], [], "every metric in the rules is documented in docs/metrics.md");
});

test("promtool unit tests cover every SLO alert (run them with promtool test rules deploy/prometheus/pylon-rules.test.yml)", () => {
  const t = parse(read("deploy/prometheus/pylon-rules.test.yml")) as { rule_files: string[]; tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
  assert.deepEqual(t.rule_files, ["pylon-rules.yml"]);
  const firing = new Set(t.tests.flatMap((c) => c.alert_rule_test.filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
  for (const slo of ["PylonUpgradeSuccessLow", "PylonEventLatencyP99High", "PylonBroadcastIncomplete", "PylonDisconnectSpike", "PylonBackplaneDown"]) {
    assert.ok(firing.has(slo), `a promtool case where ${slo} fires`);
  }
});

test("prometheus scrape config: the pylon job scrapes /metrics and loads the rules file", () => {
  const cfg = parse(read("deploy/prometheus/prometheus.yml")) as {
    rule_files: string[];
    scrape_configs: { job_name: string; metrics_path?: string; static_configs?: { targets: string[] }[] }[];
  };
  assert.deepEqual(cfg.rule_files, ["pylon-rules.yml"]);
  const job = cfg.scrape_configs.find((j) => j.job_name === "pylon");
  assert.ok(job, "job pylon");
  assert.equal(job.metrics_path, "/metrics");
  assert.ok((job.static_configs?.[0]?.targets.length ?? 0) > 0);
});

test("grafana dashboard: importable JSON, unique ids, panels inside the grid, a panel for every SLO, documented metrics", () => {
  const dash = JSON.parse(read("deploy/grafana/pylon-dashboard.json")) as {
    uid: string;
    title: string;
    schemaVersion: number;
    __inputs: { name: string; type: string; pluginId: string }[];
    panels: { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid: string }; targets?: { expr: string; refId: string }[] }[];
  };
  assert.equal(dash.uid, "pylon-overview");
  assert.ok(dash.title && dash.schemaVersion >= 30);
  assert.deepEqual(dash.__inputs.map((i) => [i.name, i.pluginId]), [["DS_PROMETHEUS", "prometheus"]]);
  const ids = dash.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, "unique panel ids");
  for (const p of dash.panels) {
    assert.ok(p.gridPos.x >= 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: inside the 24-column grid`);
    if (p.type === "row") continue;
    assert.equal(p.datasource?.uid, "${DS_PROMETHEUS}", `${p.title}: uses the imported data source`);
    assert.ok((p.targets?.length ?? 0) > 0, `${p.title}: has queries`);
    const refIds = p.targets!.map((t) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `${p.title}: unique refIds`);
  }
  const exprs = dash.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
  const has = (re: RegExp): boolean => exprs.some((e) => re.test(e));
  assert.ok(has(/pylon_transport_upgrades_total\{[^}]*outcome="succeeded"/), "upgrade success rate panel");
  assert.ok(has(/histogram_quantile\(0\.99, .*pylon_ack_latency_seconds_bucket/), "p99 event latency panel");
  assert.ok(has(/pylon_broadcast_fanout_sum/) && has(/pylon_canary_broadcast_completeness/), "broadcast completeness panel");
  assert.ok(has(/pylon_disconnects_total/), "disconnects panel");
  assert.ok(has(/pylon_backplane_connected/), "backplane panel");
  const undocumented = [...new Set(exprs.flatMap(metricNames))].filter((n) => !n.startsWith("pylon_canary_") && !documented(n));
  assert.deepEqual(undocumented, [], "every metric on the dashboard is documented in docs/metrics.md");
});
