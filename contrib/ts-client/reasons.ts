/**
 * The wearer's texts for a verdict, from contrib/reasons.json (English and German per
 * reason_code and hint code). Copy reasons.json into your app and add languages there.
 */
import { fileURLToPath } from "node:url";
import { type Json, type Verdict, type RuleResultV1, decidingRule, loadJson, reasonCodeOf } from "./verdict";

export const LANGS = ["en", "de"] as const;
export type Lang = (typeof LANGS)[number];

type Texts = Record<string, Partial<Record<Lang, string>>>;

export interface Reasons {
  placeholders: Record<string, string>;
  reasons: Texts;
  hints: Texts;
}

export const DEFAULT_REASONS = fileURLToPath(new URL("../reasons.json", import.meta.url));

export function loadReasons(path = DEFAULT_REASONS): Reasons {
  const loaded = loadJson(path) as Partial<Reasons>;
  if (typeof loaded.reasons !== "object" || typeof loaded.hints !== "object") {
    throw new Error(`${path}: no "reasons" and "hints"`);
  }
  return { placeholders: loaded.placeholders ?? {}, reasons: loaded.reasons, hints: loaded.hints };
}

function shown(value: Json): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(shown).join(", ");
  return JSON.stringify(value);
}

/**
 * Fills {observed} from the rule result; when it is absent, the text up to the colon
 * (reasons.json's `placeholders`): "Wrong code visible: {observed}." -> "Wrong code visible."
 */
export function fill(template: string, rule: RuleResultV1 | undefined): string {
  return template.replace(/^(.*?)(:?\s*)\{(\w+)\}(.*)$/s, (_all, before: string, colon: string, key: string, after: string) => {
    const value = key === "observed" ? rule?.observed : undefined;
    if (value === undefined || value === null) return `${before}.`;
    return `${before}${colon}${shown(value)}${after}`;
  });
}

/**
 * What to tell the wearer, in `lang`. A /1 verdict or a code this file does not know gets
 * the verdict's own `reason` (English; the photo should go to a person then).
 */
export function wearerText(verdict: Verdict, lang: Lang, reasons: Reasons): string {
  const code = reasonCodeOf(verdict);
  const template = code === undefined ? undefined : reasons.reasons[code]?.[lang];
  return template === undefined ? verdict.reason : fill(template, decidingRule(verdict));
}

export interface HintText {
  code: string;
  text: string;
  detail: string;
}

/** The verdict's retake hints, most pressing first, with the wearer's text in `lang`. */
export function hintTexts(verdict: Verdict, lang: Lang, reasons: Reasons): HintText[] {
  if (verdict.schema !== "proofwatch.verdict/1.1") return [];
  return verdict.hints.map((h) => ({ code: h.code, text: reasons.hints[h.code]?.[lang] ?? h.detail, detail: h.detail }));
}
