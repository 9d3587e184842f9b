/**
 * Submit one photo to proofwatch and print its verdict the way a tracker would show it.
 *
 *   npx tsx cli.ts --watch /srv/proofwatch/uploads --subdir controls --id control-981 \
 *       --rule control-code --expect code=48213 --lang de IMG_0042.jpg
 *   npx tsx cli.ts --read uploads/controls/IMG_0042.jpg.verdict.json --lang de
 *
 * Exit status: 0 pass, 1 any other verdict, 2 usage (or the name is taken), 3 no verdict
 * within --timeout, 4 a verdict this client cannot read (unknown version, breaks the schema),
 * 5 anything unexpected (an I/O error).
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type Lang, LANGS, hintTexts, loadReasons, wearerText } from "./reasons";
import { type ProofRequest, type SubmitResult, UsageError, readVerdict, submitPhoto } from "./submit";
import { type Verdict, decidingRule, reasonCodeOf, verdictChecker } from "./verdict";

const USAGE = `usage: tsx cli.ts --watch DIR [--subdir PATH] [--name NAME] [--id ID] [--rule NAME]...
                   [--expect KEY=VALUE]... [--issued-at TIME] [--verdict-dir DIR]
                   [--timeout SECONDS] [--lang en|de] [--json] PHOTO
       tsx cli.ts --read VERDICT_FILE [--lang en|de] [--json]
exit status: 0 pass, 1 fail/review/rejected/error, 2 usage or name taken,
             3 no verdict within --timeout, 4 a verdict this client cannot read,
             5 anything unexpected`;

// What a tracker might do with each status (docs/integration.md, "Statuses").
const ACTIONS: Record<string, string> = {
  pass: "accept the proof",
  fail: "refuse the proof and show the wearer the text above",
  review: "put the photo in front of a person; do not decide automatically",
  rejected: "ask for a new photo: this file is not usable (and was not stripped: delete it)",
  error: "not a judgement: retry later or put it in front of a person; tell the operator",
};

function usage(message: string): number {
  process.stderr.write(`${message}\n${USAGE}\n`);
  return 2;
}

function show(verdict: Verdict, lang: Lang, json: boolean, elapsedMs?: number): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
    return;
  }
  const reasons = loadReasons();
  const after = elapsedMs === undefined ? "" : ` after ${(elapsedMs / 1000).toFixed(1)}s`;
  const lines = [
    `${verdict.photo}: ${verdict.status}${after}`,
    `  status:      ${verdict.status}`,
    `  reason_code: ${reasonCodeOf(verdict) ?? `(none: ${verdict.schema})`}`,
    `  wearer (${lang}): ${wearerText(verdict, lang, reasons)}`,
    `  reason:      ${verdict.reason}`,
  ];
  const hints = hintTexts(verdict, lang, reasons);
  if (hints.length === 0) lines.push("  hints:       none");
  for (const hint of hints) lines.push(`  hint ${hint.code}: ${hint.text} (${hint.detail})`);
  const deciding = decidingRule(verdict);
  for (const rule of verdict.rules) {
    const code = "reason_code" in rule ? ` [${String(rule.reason_code)}]` : "";
    const seen = rule.observed === undefined ? "" : ` (read ${JSON.stringify(rule.observed)})`;
    const mark = rule === deciding ? " <- decided" : "";
    lines.push(`  rule ${rule.rule}: ${rule.status}${code}${seen}: ${rule.detail}${mark}`);
  }
  lines.push(`tracker: ${ACTIONS[verdict.status] ?? "unknown status: treat as review"}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

function unreadable(path: string, problems: string[]): number {
  process.stderr.write(`${path}: not a verdict this client can read; send the photo to a person:\n`);
  for (const p of problems) process.stderr.write(`  ${p}\n`);
  return 4;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        watch: { type: "string" },
        subdir: { type: "string", default: "" },
        name: { type: "string" },
        id: { type: "string" },
        rule: { type: "string", multiple: true },
        expect: { type: "string", multiple: true, default: [] },
        "issued-at": { type: "string" },
        "verdict-dir": { type: "string" },
        timeout: { type: "string", default: "300" },
        lang: { type: "string", default: "en" },
        json: { type: "boolean", default: false },
        read: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    return usage(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const lang = values.lang as Lang;
  if (!LANGS.includes(lang)) return usage(`--lang ${values.lang}: one of ${LANGS.join(", ")}`);

  if (values.read !== undefined) {
    const read = readVerdict(await readFile(values.read), verdictChecker());
    if (!read.ok) return unreadable(values.read, read.problems);
    show(read.verdict, lang, values.json);
    return read.verdict.status === "pass" ? 0 : 1;
  }

  if (values.watch === undefined) return usage("--watch DIR is required");
  const [photo, ...extra] = positionals;
  if (photo === undefined || extra.length > 0) return usage("give exactly one PHOTO");
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout < 0) return usage(`--timeout ${values.timeout}: seconds`);
  const expect: Record<string, string> = {};
  for (const item of values.expect) {
    const at = item.indexOf("=");
    if (at <= 0) return usage(`--expect ${JSON.stringify(item)}: write KEY=VALUE`);
    expect[item.slice(0, at)] = item.slice(at + 1);
  }
  const request: ProofRequest = {};
  if (values.id !== undefined) request.id = values.id;
  if (values.rule !== undefined) request.rules = values.rule;
  if (Object.keys(expect).length > 0) request.expect = expect;
  if (values["issued-at"] !== undefined) request.issued_at = values["issued-at"];

  let result: SubmitResult;
  try {
    result = await submitPhoto({
      watch: values.watch,
      subdir: values.subdir,
      photo,
      request,
      timeoutMs: timeout * 1000,
      ...(values.name === undefined ? {} : { name: values.name }),
      ...(values["verdict-dir"] === undefined ? {} : { verdictDir: values["verdict-dir"] }),
    });
  } catch (error) {
    if (error instanceof UsageError) return usage(error.message);
    throw error;
  }
  switch (result.outcome) {
    case "timeout":
      process.stderr.write(
        `no verdict for ${result.photoPath} within ${values.timeout}s: is the daemon running? (\`proofwatch status\`)\n`,
      );
      return 3;
    case "invalid":
      return unreadable(result.verdictPath, result.problems);
    case "verdict":
      show(result.verdict, lang, values.json, result.elapsedMs);
      return result.verdict.status === "pass" ? 0 : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 5;
  },
);
