// `npm run test:doctor`: starts every deliberately broken setup from test/helpers/doctor-setups.ts (real nginx in
// front of real Pylon processes), runs `pylon doctor` against each (plus the healthy control), prints each verdict,
// and ends with one line: `doctor: setups=N diagnosed=D` (N broken setups, D of them diagnosed correctly).
// Exit status 0 only when every setup (and the healthy control) is diagnosed correctly. Needs `npm run build` first.
import { diagnose, runDoctorCli, startDoctorSetups, type Stoppable } from "../test/helpers/doctor-setups.js";
import { killAllChildren } from "../test/helpers/cleanup.js";

async function main(): Promise<number> {
  const procs: Stoppable[] = [];
  try {
    const setups = await startDoctorSetups((p) => procs.push(p));
    const runs = await Promise.all(setups.map((s) => runDoctorCli(s.url, s.args)));
    let broken = 0;
    let diagnosed = 0;
    let controlOk = true;
    setups.forEach((s, i) => {
      const run = runs[i]!;
      const problems = diagnose(s, run);
      const named = run.findings.filter((f) => !f.ok).map((f) => `${f.name}:${f.severity}`);
      const verdict = problems.length === 0 ? "diagnosed" : "MISSED";
      process.stdout.write(`${s.name.padEnd(26)} fault: ${s.fault}\n${" ".repeat(27)}doctor: ${named.length ? named.join(", ") : "all checks pass"} -> ${verdict}\n`);
      for (const p of problems) process.stdout.write(`${" ".repeat(27)}! ${p}\n`);
      if (s.name.startsWith("healthy")) controlOk &&= problems.length === 0;
      else {
        broken++;
        if (problems.length === 0) diagnosed++;
      }
    });
    process.stdout.write(`doctor: setups=${broken} diagnosed=${diagnosed}\n`);
    return diagnosed === broken && controlOk ? 0 : 1;
  } finally {
    await Promise.all(procs.map((p) => p.stop().catch(() => undefined)));
    await killAllChildren();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test:doctor failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
