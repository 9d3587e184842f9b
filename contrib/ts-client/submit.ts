/**
 * A tracker's side of the proofwatch file contract (docs/integration.md), in TypeScript:
 * write the request sidecar first, then the photo under a temporary dot-name renamed in,
 * then wait for NAME.EXT.verdict.json (it appears whole), validate it and return it typed.
 *
 * Server-side only (Node's fs): in a Next.js app, call it from a route handler or a server
 * action, never from a client component.
 */
import { randomBytes } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { access, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import type { ValidateFunction } from "ajv/dist/2020.js";
import {
  DEFAULT_SCHEMA_DIR,
  type Verdict,
  type VerdictCheck,
  describeErrors,
  loadJson,
  newAjv,
  verdictChecker,
} from "./verdict";

/** NAME.EXT.request.json (contrib/schema/request.schema.json); every field is optional. */
export interface ProofRequest {
  /** Your reference, echoed back as the verdict's request_id. */
  id?: string | number | null;
  /** Run only these rules (default: every rule whose match selects the photo's path). */
  rules?: string[] | null;
  /** Values the rules compare against, e.g. { code: "48213" }; never shown to the model. */
  expect?: Record<string, string | number>;
  /** When the check-in was requested, ISO 8601 with a UTC offset. */
  issued_at?: string | null;
}

export interface SubmitOptions {
  /** The folder proofwatch watches (its `watch` setting). */
  watch: string;
  /** The photo: a file to read, or its bytes. */
  photo: string | Uint8Array;
  /** File name in the folder (default: the photo file's name). Must be new. */
  name?: string;
  /** Subfolder of `watch` to drop into, e.g. "controls" (rules match paths). */
  subdir?: string;
  /** The request to write beside the photo; none (or {}) writes no request file. */
  request?: ProofRequest;
  /** Where verdicts go when proofwatch's `verdict_dir` is set (default: beside the photo). */
  verdictDir?: string;
  /** How long to wait for the verdict, in ms (default 300 000). */
  timeoutMs?: number;
  /** How often to look for the verdict, in ms (default 250); fs.watch wakes it sooner. */
  pollMs?: number;
  /** Stops the wait early (the photo stays submitted). */
  signal?: AbortSignal;
  /** A checker from verdictChecker(), to reuse one across calls. */
  check?: VerdictCheck;
}

interface Placed {
  /** Where the photo was renamed in. */
  photoPath: string;
  /** Where its verdict appears. */
  verdictPath: string;
  /** From the photo's rename to the verdict (or to giving up). */
  elapsedMs: number;
}

export type SubmitResult =
  | (Placed & { outcome: "verdict"; verdict: Verdict })
  | (Placed & { outcome: "timeout" })
  /** A verdict of an unknown version, or one that breaks the schema: send it to a person. */
  | (Placed & { outcome: "invalid"; problems: string[]; raw: unknown });

/** A mistake of the caller: nothing was written. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The photo's name (or its verdict) is already in use: give every submission its own name. */
export class NameTakenError extends UsageError {
  override name = "NameTakenError";
}

/** The file extensions proofwatch takes (any case); other files are ignored, never judged. */
export const PHOTO_EXTENSIONS = [".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".mpo"];

let requestValidator: ValidateFunction<ProofRequest> | undefined;

/** Problems with a request, checked against contrib/schema/request.schema.json (empty: fine). */
export function requestProblems(request: unknown, schemaPath = `${DEFAULT_SCHEMA_DIR}request.schema.json`): string[] {
  requestValidator ??= newAjv().compile(loadJson(schemaPath) as object) as ValidateFunction<ProofRequest>;
  return requestValidator(request) ? [] : describeErrors(requestValidator.errors);
}

/** Beside the photo, or under verdictDir at the photo's place relative to watch. */
export function verdictFile(watchDir: string, photoPath: string, verdictDir?: string): string {
  const name = `${basename(photoPath)}.verdict.json`;
  if (verdictDir === undefined) {
    return join(dirname(photoPath), name);
  }
  return join(verdictDir, relative(resolve(watchDir), resolve(dirname(photoPath))), name);
}

/** Write under a dot-name proofwatch ignores, make it durable and group-readable, rename it in. */
export async function writeRenamed(target: string, data: Uint8Array | string): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString("hex")}.part`);
  const fh = await open(temp, "wx", 0o660);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
      await fh.chmod(0o660); // the umask may have taken the group's bits: the daemon reads via the group
    } finally {
      await fh.close();
    }
    await rename(temp, target); // atomic within one filesystem: the daemon sees a complete file
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? "");
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The file's bytes once it exists, or undefined after timeoutMs. Polls every pollMs, and
 * watches its folder (fs.watch) to wake at once; the polling alone would do.
 */
export async function waitForFile(
  path: string,
  timeoutMs: number,
  pollMs = 250,
  signal?: AbortSignal,
): Promise<Buffer | undefined> {
  const deadline = performance.now() + timeoutMs;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  const startWatching = (): void => {
    if (watcher !== undefined) return;
    try {
      watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        if (file === null || file === basename(path)) wake?.();
      });
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined; // polling goes on
      });
    } catch {
      // The folder does not exist yet, or no inotify watches are left: poll.
    }
  };
  try {
    for (;;) {
      signal?.throwIfAborted();
      startWatching();
      try {
        return await readFile(path);
      } catch (error) {
        if (!isErrno(error, "ENOENT", "ENOTDIR")) throw error;
      }
      const left = deadline - performance.now();
      if (left <= 0) return undefined;
      await new Promise<void>((done) => {
        const finish = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", finish);
          wake = undefined;
          done();
        };
        const timer = setTimeout(finish, Math.min(pollMs, left));
        signal?.addEventListener("abort", finish, { once: true });
        wake = finish;
      });
    }
  } finally {
    watcher?.close();
  }
}

/** Reads and checks a verdict file's bytes. */
export function readVerdict(bytes: Uint8Array, check: VerdictCheck): { ok: true; verdict: Verdict } | { ok: false; problems: string[]; raw: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString("utf-8"));
  } catch (error) {
    return { ok: false, problems: [`not JSON: ${String(error)}`], raw: undefined };
  }
  const checked = check(raw);
  return checked.ok ? checked : { ...checked, raw };
}

let defaultCheck: VerdictCheck | undefined;

/**
 * Drop a photo (and its request) into the watched folder and wait for its verdict.
 * Throws UsageError (or NameTakenError) before writing anything when the call is wrong.
 */
export async function submitPhoto(options: SubmitOptions): Promise<SubmitResult> {
  const { watch: watchDir, photo, request = {}, verdictDir } = options;
  const timeoutMs = options.timeoutMs ?? 300_000;
  const check = options.check ?? (defaultCheck ??= verdictChecker());

  const name = options.name ?? (typeof photo === "string" ? basename(photo) : undefined);
  if (name === undefined) throw new UsageError("give a name for a photo passed as bytes");
  if (name.startsWith(".") || name.includes("/") || name.includes(sep)) {
    throw new UsageError(`${JSON.stringify(name)}: a plain file name, not starting with a dot (proofwatch ignores dot-files)`);
  }
  if (!PHOTO_EXTENSIONS.some((ext) => name.toLowerCase().endsWith(ext))) {
    throw new UsageError(`${JSON.stringify(name)}: proofwatch takes only ${PHOTO_EXTENSIONS.join(" ")} files`);
  }
  const folder = resolve(watchDir, options.subdir ?? "");
  if (relative(resolve(watchDir), folder).startsWith("..")) {
    throw new UsageError(`subdir ${JSON.stringify(options.subdir)} is outside the watched folder`);
  }
  const problems = requestProblems(request);
  if (problems.length > 0) throw new UsageError(`invalid request: ${problems.join("; ")}`);

  const photoPath = join(folder, name);
  const verdictPath = verdictFile(watchDir, photoPath, verdictDir);
  if ((await exists(photoPath)) || (await exists(verdictPath))) {
    // A new upload under an old name would leave the old verdict in view until the new one
    // replaces it: give every submission a name of its own.
    throw new NameTakenError(`${photoPath} (or its verdict) already exists: choose another name`);
  }
  let bytes: Uint8Array;
  try {
    bytes = typeof photo === "string" ? await readFile(photo) : photo;
  } catch (error) {
    throw new UsageError(`cannot read the photo: ${error instanceof Error ? error.message : String(error)}`);
  }

  await mkdir(folder, { recursive: true });
  if (Object.keys(request).length > 0) {
    // The request first: it is there when the daemon takes the photo.
    await writeRenamed(`${photoPath}.request.json`, JSON.stringify(request));
  }
  await writeRenamed(photoPath, bytes);
  const started = performance.now();

  const found = await waitForFile(verdictPath, timeoutMs, options.pollMs, options.signal);
  const placed = { photoPath, verdictPath, elapsedMs: Math.round(performance.now() - started) };
  if (found === undefined) return { ...placed, outcome: "timeout" };
  const read = readVerdict(found, check);
  return read.ok
    ? { ...placed, outcome: "verdict", verdict: read.verdict }
    : { ...placed, outcome: "invalid", problems: read.problems, raw: read.raw };
}
