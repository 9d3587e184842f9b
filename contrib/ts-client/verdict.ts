/**
 * The verdict proofwatch writes (NAME.EXT.verdict.json), as TypeScript types written by hand
 * from contrib/schema/verdict.schema.json, and a validator for it built with Ajv (draft 2020-12).
 *
 * proofwatch.verdict/1.1 is read as it is; a proofwatch.verdict/1 verdict (no reason_code, no
 * hints) is still accepted, against the 1.1 schema with those fields taken out (1.1 only added
 * them). Any other `schema` is refused: send that photo to a person.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import type { AnySchemaObject, ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

export const SCHEMA_V1_1 = "proofwatch.verdict/1.1";
export const SCHEMA_V1 = "proofwatch.verdict/1";

export const STATUSES = ["pass", "fail", "review", "rejected", "error"] as const;
export type Status = (typeof STATUSES)[number];

// Exactly the schema's $defs.reason_code enum (tests/test_ts_client.py compares them).
export const REASON_CODES = [
  "code_matches",
  "code_mismatch",
  "code_uncertain",
  "unreadable",
  "no_code_visible",
  "request_missing_value",
  "expected_value_invalid",
  "object_visible",
  "object_not_visible",
  "object_unexpectedly_visible",
  "presence_unsure",
  "device_matches",
  "wrong_device",
  "no_device_visible",
  "device_uncertain",
  "metadata_ok",
  "no_camera_data",
  "resolution_too_low",
  "taken_before_request",
  "past_deadline",
  "no_capture_time",
  "not_reused",
  "reused_photo",
  "no_perceptual_hash",
  "model_no_answer",
  "engines_disagree",
  "no_engine",
  "model_unavailable",
  "no_rules",
  "unknown_rule",
  "request_invalid",
  "not_a_file",
  "empty_file",
  "file_unreadable",
  "too_large",
  "not_an_image",
  "damaged_image",
  "quarantined",
  "internal_error",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

// Exactly the schema's $defs.hint code enum.
export const HINT_CODES = ["blurry", "too_dark", "too_bright", "cut_off", "paper_too_small"] as const;
export type HintCode = (typeof HINT_CODES)[number];

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One rule's result, as in proofwatch.verdict/1 (no reason_code yet). */
export interface RuleResultV1 {
  rule: string;
  status: Status;
  /** What was read: a string (text rules), a list (candidates, or one per engine), a boolean (presence), an object (metadata), a path (duplicate). */
  observed?: Json;
  /** What it was compared with. */
  expected?: Json;
  /** "ollama:MODEL", "ocr:rapidocr", or both joined with +; absent for rules without a model. */
  engine?: string;
  detail: string;
}

export interface RuleResult extends RuleResultV1 {
  reason_code: ReasonCode;
}

export interface Hint {
  code: HintCode;
  detail: string;
}

export interface PhotoMetadata {
  removed: string[];
  had_gps: boolean;
  captured_at: string | null;
  camera: boolean;
  /** "lossless", "rotated" or "quarantined" (more may come). */
  method: string;
}

export interface TimingsMs {
  strip?: number;
  request?: number;
  model?: number;
  total?: number;
  [lap: string]: number | undefined;
}

interface VerdictCommon {
  /** The photo's path relative to the watched folder. */
  photo: string;
  request_id: string | null;
  status: Status;
  /** One line for a person (logs); the wearer's text comes from reason_code. */
  reason: string;
  metadata: PhotoMetadata | null;
  photo_sha256: string | null;
  rules_digest: string | null;
  version: string;
  decided_at: string;
  timings_ms: TimingsMs;
}

export interface VerdictV1_1 extends VerdictCommon {
  schema: typeof SCHEMA_V1_1;
  reason_code: ReasonCode;
  rules: RuleResult[];
  hints: Hint[];
}

export interface VerdictV1 extends VerdictCommon {
  schema: typeof SCHEMA_V1;
  rules: RuleResultV1[];
}

/** A verdict this client reads: check `schema` to tell them apart. */
export type Verdict = VerdictV1_1 | VerdictV1;

export type Checked =
  | { ok: true; verdict: Verdict }
  | { ok: false; problems: string[] };

export type VerdictCheck = (value: unknown) => Checked;

/** contrib/schema/ of this repository; copy the schemas into your app and pass their paths. */
export const DEFAULT_SCHEMA_DIR = fileURLToPath(new URL("../schema/", import.meta.url));

export function loadJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf-8")) as unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The proofwatch.verdict/1 schema: the 1.1 schema without reason_code and hints. */
export function schemaV1From(schemaV1_1: AnySchemaObject): AnySchemaObject {
  const v1 = structuredClone(schemaV1_1);
  v1.$id = "urn:proofwatch:schema:verdict:1";
  v1.properties.schema = { const: SCHEMA_V1 };
  for (const field of ["reason_code", "hints"]) {
    delete v1.properties[field];
  }
  v1.required = (v1.required as string[]).filter((f) => f !== "reason_code" && f !== "hints");
  const rule = v1.$defs.rule_result;
  delete rule.properties.reason_code;
  rule.required = (rule.required as string[]).filter((f) => f !== "reason_code");
  return v1;
}

export function newAjv(): Ajv2020 {
  // Strict about unknown keywords and formats; not strictTypes, which refuses valid schemas
  // such as the verdict's `"then": {"properties": {"rules": {"minItems": 1}}}` (no "type").
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv); // "format": "date-time" on decided_at is asserted, as the daemon's tests do
  return ajv;
}

export function describeErrors(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || "(top)"}: ${e.message ?? e.keyword}`);
}

/**
 * A checker for verdicts, built once (compiling the schema takes milliseconds; reuse it).
 * `schemaPath`: verdict.schema.json (proofwatch.verdict/1.1); default contrib/schema/.
 */
export function verdictChecker(schemaPath = `${DEFAULT_SCHEMA_DIR}verdict.schema.json`): VerdictCheck {
  const schema = loadJson(schemaPath);
  if (!isObject(schema)) {
    throw new Error(`${schemaPath}: not a JSON Schema object`);
  }
  const ajv = newAjv();
  const v1_1 = ajv.compile(schema) as ValidateFunction<VerdictV1_1>;
  const v1 = ajv.compile(schemaV1From(schema)) as ValidateFunction<VerdictV1>;
  return (value: unknown): Checked => {
    if (!isObject(value)) {
      return { ok: false, problems: ["(top): a verdict is a JSON object"] };
    }
    const version = value.schema;
    const validate = version === SCHEMA_V1_1 ? v1_1 : version === SCHEMA_V1 ? v1 : undefined;
    if (validate === undefined) {
      return {
        ok: false,
        problems: [`/schema: unknown verdict format ${JSON.stringify(version)}: send the photo to a person`],
      };
    }
    if (validate(value)) {
      return { ok: true, verdict: value };
    }
    return { ok: false, problems: describeErrors(validate.errors) };
  };
}

/** The verdict's reason_code, or undefined for a /1 verdict (show `reason` and ask a person). */
export function reasonCodeOf(verdict: Verdict): ReasonCode | undefined {
  return verdict.schema === SCHEMA_V1_1 ? verdict.reason_code : undefined;
}

/** The rule result that decided the photo: the first with the photo's status (and code). */
export function decidingRule(verdict: Verdict): RuleResultV1 | undefined {
  if (verdict.schema === SCHEMA_V1_1) {
    return verdict.rules.find((r) => r.status === verdict.status && r.reason_code === verdict.reason_code);
  }
  return verdict.rules.find((r) => r.status === verdict.status);
}
