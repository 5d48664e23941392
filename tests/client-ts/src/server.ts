// A real `flashforge serve` as a child process, the way tests/kit/process.rs runs it: a clean
// environment (no FLASHFORGE* or RUST_LOG of the caller's), FLASHFORGE_ENV=test with the
// repository's config folder, a free port, and a temp folder holding the SQLite database and the
// uploaded files. config/test.toml supplies the rest: the word-hash embedder, the in-memory vector
// index, and the offline (extractive) language model by default.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root (this file is tests/client-ts/{src,dist/src}/server.{ts,js}). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "Cargo.toml")) || !existsSync(path.join(dir, "config"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("could not find the repository root above " + import.meta.url);
    dir = parent;
  }
  return dir;
}

export interface RunningServer {
  /** `http://127.0.0.1:<port>` */
  readonly baseUrl: string;
  /** The last lines the process wrote (stdout and stderr), for failure messages. */
  log(): string;
  /** Stops the process (SIGTERM, then SIGKILL after a grace period) and removes its folder. */
  stop(): Promise<void>;
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      if (address === null || typeof address === "string") {
        probe.close();
        reject(new Error("no port"));
        return;
      }
      probe.close(() => resolve(address.port));
    });
  });
}

const LOG_LIMIT = 200_000;

/** Starts the binary (`FLASHFORGE_BIN`, default target/debug/flashforge) and waits until live. */
export async function startServer(options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RunningServer> {
  const root = repoRoot();
  const bin = process.env["FLASHFORGE_BIN"] ?? path.join(root, "target/debug/flashforge");
  if (!existsSync(bin)) {
    throw new Error(`no server binary at ${bin}: run \`cargo build --bin flashforge\` or set FLASHFORGE_BIN`);
  }
  const port = await freePort();
  const data = mkdtempSync(path.join(tmpdir(), "flashforge-client-ts-"));
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("FLASHFORGE") && key !== "RUST_LOG") env[key] = value;
  }
  Object.assign(env, {
    FLASHFORGE_ENV: "test",
    FLASHFORGE_CONFIG_DIR: path.join(root, "config"),
    FLASHFORGE__SERVER__PORT: String(port),
    FLASHFORGE__AUTH__JWT_SECRET: "client-ts-" + randomBytes(24).toString("hex"),
    FLASHFORGE__DATABASE__URL: `sqlite://${path.join(data, "flashforge.db")}?mode=rwc`,
    FLASHFORGE__STORAGE__BLOBS: "local",
    FLASHFORGE__STORAGE__BLOB_DIR: path.join(data, "blobs"),
    FLASHFORGE__LOG__LEVEL: "info",
    FLASHFORGE__SERVER__SHUTDOWN_TIMEOUT_SECS: "5",
    ...options.env,
  });

  const child = spawn(bin, ["serve"], { cwd: data, env, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const keep = (chunk: Buffer) => {
    log += chunk.toString("utf8");
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.on("exit", (code, signal) => {
      exited = signal ? `killed by ${signal}` : `exited with ${code}`;
      resolve();
    });
    child.on("error", (error) => {
      exited = `could not start: ${error.message}`;
      resolve();
    });
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const server: RunningServer = {
    baseUrl,
    log: () => tail(log, 80),
    stop: async () => {
      await stop(child, exit);
      rmSync(data, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) {
      rmSync(data, { recursive: true, force: true });
      throw new Error(`the server ${exited} before it was live (${bin})\n--- server log ---\n${tail(log, 80)}`);
    }
    try {
      const live = await fetch(`${baseUrl}/health/live`, { signal: AbortSignal.timeout(1000) });
      if (live.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`the server was not live on ${baseUrl} within ${options.timeoutMs ?? 30_000} ms\n--- server log ---\n${tail(log, 80)}`);
    }
    await sleep(50);
  }
}

async function stop(child: ChildProcess, exit: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  // A graceful stop gets 10 s; the timer must not keep this process alive once the child is gone.
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), 10_000);
  });
  const stopped = await Promise.race([exit.then(() => true as const), grace]);
  clearTimeout(timer);
  if (!stopped) {
    child.kill("SIGKILL");
    await exit;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tail(text: string, lines: number): string {
  // Strip ANSI colours of the pretty log format.
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  return plain.split("\n").slice(-lines).join("\n");
}
