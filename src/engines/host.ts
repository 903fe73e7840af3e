/**
 * @module engines/host
 * The host interface: the only way engine code starts processes, touches engine files or asks about ports.
 * Today `LocalHost` runs everything on this machine with `child_process`; later an agent on another machine
 * (or a network namespace standing for another availability zone in tests) can implement the same interface.
 * Adapters and reconcilers never import `child_process` themselves.
 *
 * Engine user: PostgreSQL refuses to run as root, and an engine should not be able to touch Cellar's own files.
 * When Cellar runs as root, engines run as the system user `cellar` (created on first use with
 * `useradd --system --no-create-home`), and their directories are 0700 and owned by it. When Cellar is not root,
 * engines run as the current user. We chose a dedicated user over Debian's `postgres` so that one user serves every
 * engine and nothing depends on which distribution packages are installed.
 *
 * Processes are our own children, each in its own process group (session): we reap them ourselves (PID 1 here reaps
 * orphans slowly, which leaves `postmaster.pid` locks behind), a Ctrl-C on Cellar's terminal does not reach them, and
 * `kill` can take a whole engine (postmaster and backends) down at once.
 *
 * If Cellar itself dies (kill -9, OOM), its children must not run on unsupervised, holding ports, data directories
 * and memory. Every child is started through util-linux `setpriv --pdeathsig <signal> --`, which asks the kernel
 * (PR_SET_PDEATHSIG) to send it `signal` when Cellar's main thread (the one that forks: libuv spawns from the loop
 * thread) is gone. setpriv sets it after Node has switched to the engine user (a credential change would clear it)
 * and then execs the engine, so the engine keeps its pid and command line. Engines get the signal that shuts them
 * down cleanly and fast (PostgreSQL SIGINT, MariaDB and Redis SIGTERM), helper commands SIGKILL. Without setpriv
 * (not a Debian-like system) engines outlive Cellar as before; adapters find and stop such leftovers by their lock
 * files on the next start, which stays the fallback either way.
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, openSync, closeSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { withContext } from '../core/errors.js';
import { log } from '../core/log.js';
import { SecretBox } from '../crypto/rootkey.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface EngineUser {
  name: string;
  uid: number;
  gid: number;
}

export interface SpawnSpec {
  command: string;
  args: readonly string[];
  /** Added to a minimal base environment (PATH, LANG, USER, HOME). Cellar's own environment is never passed on. */
  env?: Record<string, string>;
  cwd?: string;
  /** stdout and stderr are appended to this file (created 0600). Without it they are discarded. */
  logFile?: string;
  /** Written to the child's stdin, which is then closed. The way to hand over secrets without `ps` seeing them. */
  stdin?: string;
  /** Run as the engine user (default) or as Cellar's own user (e.g. `useradd`, `getent`). */
  asEngineUser?: boolean;
  /**
   * Sent to the process when Cellar dies (see the module header): the engine's own clean and fast shutdown signal.
   * Default SIGTERM for spawn, SIGKILL for run.
   */
  parentDeathSignal?: NodeJS.Signals;
}

export interface RunSpec extends Omit<SpawnSpec, 'logFile'> {
  /** The command and its whole process group are killed when this passes. */
  timeoutMs: number;
  /** Output kept per stream (the tail); default 64 KiB. */
  maxOutputBytes?: number;
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A started process, watched by the host. */
export interface HostProcess {
  readonly pid: number;
  /** Resolves once the process has exited and been reaped. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  /** undefined while running. */
  exitStatus(): ExitStatus | undefined;
  /** Signals the process, or its whole process group with `{ group: true }`. false if it is already gone. */
  signal(sig: NodeJS.Signals, options?: { group?: boolean }): boolean;
}

export interface WriteFileOptions {
  mode?: number;
  ownedByCellar?: boolean;
  durable?: boolean;
}

export interface ProcessInfo {
  /** 'running' covers every live state; 'zombie' is dead but not yet reaped by its parent. */
  state: 'running' | 'zombie' | 'gone';
  /** argv of the process (empty for zombies and gone processes). */
  cmdline: string[];
}

export interface Host {
  readonly engineUser: EngineUser;
  /** The OS user Cellar itself runs as (needed for peer authentication maps). */
  readonly cellarUser: string;
  spawn(spec: SpawnSpec): HostProcess;
  /** Runs a helper command to completion (initdb, install-db, getent ...), bounded by `timeoutMs`. */
  run(spec: RunSpec): Promise<RunResult>;
  /** Creates a directory (and parents) owned by the engine user with `mode`; checks the engine user can reach it. */
  ensureDir(dir: string, mode?: number): Promise<void>;
  /**
   * Writes a file atomically (temp file + rename), owned by the engine user unless `ownedByCellar`. Durable (file and
   * directory fsynced) unless `durable: false`, for files regenerated before every use or covered by a syncTree.
   */
  writeFile(file: string, content: string, options?: WriteFileOptions): Promise<void>;
  readFile(file: string): Promise<string | undefined>;
  /**
   * Writes a secret only Cellar reads (an engine's internal admin or replication password): sealed under the root
   * key (AES-256-GCM), in a file owned by Cellar, 0600, durable. Never plaintext on disk.
   */
  writeSecret(file: string, value: string): Promise<void>;
  /** Size and last write of a regular file (never through a symlink), or undefined when there is none. */
  fileInfo(file: string): Promise<{ size: number; mtimeMs: number } | undefined>;
  /** Up to `length` bytes of a regular file from byte `start`, never through a symlink; undefined when missing. */
  readFileRange(file: string, start: number, length: number): Promise<Buffer | undefined>;
  /**
   * A secret written by writeSecret, or undefined when the file is missing or cannot be opened under this root key
   * (logged; the caller makes a new one). A plaintext file left by an earlier version is read and sealed in place.
   */
  readSecret(file: string): Promise<string | undefined>;
  exists(p: string): Promise<boolean>;
  remove(p: string): Promise<void>;
  /** Bytes allocated on disk under `dir` (like `du`), bounded by `maxEntries`. */
  diskUsageBytes(dir: string, maxEntries?: number): Promise<number>;
  /** Makes every file and directory under `dir` (and `dir`'s own entry) durable, so a crash cannot lose them. */
  syncTree(dir: string, maxEntries?: number): Promise<void>;
  isPortFree(port: number, address: string): Promise<boolean>;
  /** A port the kernel just handed out on `address`. Racy by nature: the engine's own bind is the real check. */
  findFreePort(address?: string): Promise<number>;
  /** Looks at any process by pid (used to recognise engines left running by a previous Cellar). */
  processInfo(pid: number): Promise<ProcessInfo>;
  signalPid(pid: number, sig: NodeJS.Signals): boolean;
}

const BASE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_OUTPUT_BYTES = 64 * 1024;
const DEFAULT_MAX_ENTRIES = 1_000_000;

export interface LocalHostOptions {
  /** Engine user when Cellar runs as root; default `cellar`. Ignored when not root. */
  engineUserName?: string;
  /** Create the engine user with useradd if it does not exist (root only). Default true. */
  createEngineUser?: boolean;
  /**
   * Children get a signal when Cellar dies (default true). false leaves them running after Cellar, as a previous
   * Cellar without setpriv would have: tests use it to leave a real leftover engine for a successor to take over.
   */
  stopChildrenWithCellar?: boolean;
  /**
   * Seals the secret files Cellar keeps beside an engine (writeSecret): the server passes its root-key box. Without
   * one, CELLAR_ROOT_KEY if set, else a key made once per process (tests and benchmarks, whose files die with them).
   */
  secretBox?: SecretBox;
}

/** What a sealed secret file starts with; the sealed value follows in base64. */
const SEALED_PREFIX = 'cellar-sealed:v1:';

let processBox: SecretBox | undefined;
function defaultSecretBox(): SecretBox {
  const fromEnv = process.env.CELLAR_ROOT_KEY;
  if (fromEnv) return new SecretBox(Buffer.from(fromEnv, 'base64'));
  return (processBox ??= new SecretBox(randomBytes(32)));
}

/** Binds a sealed value to what it is (the file's name), so one secret file cannot be swapped for another. */
function secretAad(file: string): string {
  return `engine-secret:${path.basename(file)}`;
}

/** Where util-linux's setpriv usually lives; the first that exists is used. */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];

export class LocalHost implements Host {
  private constructor(
    readonly engineUser: EngineUser,
    readonly cellarUser: string,
    private readonly switchUser: boolean,
    /** setpriv's path when children are to die with Cellar; undefined when not (option off, or no setpriv). */
    private readonly setpriv: string | undefined,
    private readonly secretBox: SecretBox,
  ) {}

  /** Whether children get a signal when Cellar dies (setpriv found and the option not turned off). */
  get stopsChildrenWithCellar(): boolean {
    return this.setpriv !== undefined;
  }

  /** Resolves (and if needed creates) the engine user. */
  static async create(options: LocalHostOptions = {}): Promise<LocalHost> {
    const me = os.userInfo();
    const setpriv = options.stopChildrenWithCellar === false ? undefined : await findExecutable(SETPRIV_PATHS);
    const box = options.secretBox ?? defaultSecretBox();
    if (options.stopChildrenWithCellar !== false && !setpriv) {
      log('warn', 'setpriv (util-linux) not found: engines will outlive Cellar if it dies; the next start stops them', { looked: SETPRIV_PATHS });
    }
    if (me.uid !== 0) {
      return new LocalHost({ name: me.username, uid: me.uid, gid: me.gid }, me.username, false, setpriv, box);
    }
    const name = options.engineUserName ?? 'cellar';
    // A throwaway host running as ourselves does the lookups; it never switches user.
    const bootstrap = new LocalHost({ name: me.username, uid: 0, gid: 0 }, me.username, false, setpriv, box);
    let user = await lookupUser(bootstrap, name);
    if (!user && options.createEngineUser !== false) {
      const r = await bootstrap.run({
        command: 'useradd',
        args: ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name],
        asEngineUser: false,
        timeoutMs: 15_000,
      });
      // Exit 9 means it appeared meanwhile (another Cellar created it): fine.
      if (r.code !== 0 && r.code !== 9) throw new Error(`while creating engine user ${name}: useradd exited ${r.code}: ${r.stderr.trim()}`);
      user = await lookupUser(bootstrap, name);
    }
    if (!user) throw new Error(`engine user ${name} does not exist and was not created`);
    if (user.uid === 0) throw new Error(`engine user ${name} is root; engines must run unprivileged`);
    return new LocalHost(user, me.username, true, setpriv, box);
  }

  private childEnv(spec: SpawnSpec): NodeJS.ProcessEnv {
    return {
      PATH: BASE_PATH,
      LANG: 'C.UTF-8',
      USER: this.engineUser.name,
      LOGNAME: this.engineUser.name,
      HOME: spec.cwd ?? '/',
      ...(process.env.TZ ? { TZ: process.env.TZ } : {}),
      ...spec.env,
    };
  }

  private startChild(spec: SpawnSpec, stdout: 'pipe' | 'ignore' | number, defaultDeathSignal: NodeJS.Signals): ChildProcess {
    const asEngine = spec.asEngineUser !== false && this.switchUser;
    const [command, args] = this.setpriv
      ? [this.setpriv, ['--pdeathsig', spec.parentDeathSignal ?? defaultDeathSignal, '--', spec.command, ...spec.args]]
      : [spec.command, [...spec.args]];
    return spawnChild(command, args, {
      cwd: spec.cwd ?? '/',
      env: this.childEnv(spec),
      stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', stdout, stdout],
      detached: true, // own session + process group: see the module header
      ...(asEngine ? { uid: this.engineUser.uid, gid: this.engineUser.gid } : {}),
    });
  }

  spawn(spec: SpawnSpec): HostProcess {
    let fd: number | undefined;
    // O_NOFOLLOW: the log directory belongs to the engine user, and a symlink planted there must not make root open
    // some other file and hand it to the engine as its stdout.
    if (spec.logFile) fd = openSync(spec.logFile, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW, 0o600);
    let child: ChildProcess;
    try {
      child = this.startChild(spec, fd ?? 'ignore', 'SIGTERM');
    } finally {
      // The child holds its own copy of the descriptor.
      if (fd !== undefined) closeSync(fd);
    }
    return watchChild(child, spec);
  }

  async run(spec: RunSpec): Promise<RunResult> {
    const max = spec.maxOutputBytes ?? DEFAULT_OUTPUT_BYTES;
    const child = this.startChild(spec, 'pipe', 'SIGKILL');
    const out = new TailBuffer(max);
    const err = new TailBuffer(max);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const proc = watchChild(child, spec);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.signal('SIGKILL', { group: true });
    }, spec.timeoutMs);
    const status = await proc.exited;
    clearTimeout(timer);
    // Streams may still hold buffered output after 'exit'; wait for them, briefly.
    await settlesWithin(Promise.all([streamClosed(child.stdout), streamClosed(child.stderr)]), 1000);
    return { ...status, stdout: out.text(), stderr: err.text(), timedOut };
  }

  async ensureDir(dir: string, mode = 0o700): Promise<void> {
    try {
      // Every directory we create (not only the last) belongs to the engine user: a root-owned 0700 parent made by
      // `mkdir -p` would lock the engine out of its own tree.
      const missing: string[] = [];
      for (let d = path.resolve(dir); !(await this.exists(d)); d = path.dirname(d)) missing.unshift(d);
      for (const d of missing.length > 0 ? missing : [path.resolve(dir)]) {
        await fs.mkdir(d, { recursive: true, mode });
        await this.takeDir(d, mode);
      }
      if (this.switchUser) await this.checkTraversable(path.dirname(path.resolve(dir)));
    } catch (err) {
      throw withContext(`preparing directory ${dir} for engine user ${this.engineUser.name}`, err);
    }
  }

  /**
   * Gives a directory to the engine user through a descriptor opened with O_NOFOLLOW, so a symlink planted at that
   * path (the socket fallback lives in the shared temp dir) can never redirect a root chown/chmod elsewhere. A
   * directory that already belongs to somebody else is refused rather than taken.
   */
  private async takeDir(d: string, mode: number): Promise<void> {
    const handle = await fs.open(d, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      const mine = [process.getuid?.() ?? -1, this.engineUser.uid];
      if (!mine.includes(st.uid)) throw new Error(`${d} belongs to uid ${st.uid}, not to Cellar or the engine user; refusing to use it`);
      if (this.switchUser) await handle.chown(this.engineUser.uid, this.engineUser.gid);
      await handle.chmod(mode);
    } finally {
      await handle.close();
    }
  }

  /** The engine user needs search (x) permission on every ancestor; root's home (0700) is a classic trap. */
  private async checkTraversable(dir: string): Promise<void> {
    for (let d = dir; ; d = path.dirname(d)) {
      const st = await fs.stat(d);
      const bit = st.uid === this.engineUser.uid ? 0o100 : st.gid === this.engineUser.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) {
        throw new Error(
          `engine user ${this.engineUser.name} cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}); ` +
            `put engine data under a directory it can traverse (e.g. /var/lib/cellar) or chmod o+x ${d}`,
        );
      }
      if (d === path.dirname(d)) return;
    }
  }

  async writeFile(file: string, content: string, options: WriteFileOptions = {}): Promise<void> {
    const mode = options.mode ?? 0o600;
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    // O_EXCL creates a new file and never follows a symlink (the directory may belong to the engine user); owner and
    // mode are set through the descriptor; rename replaces the directory entry, never a link's target.
    const handle = await fs.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    try {
      await handle.writeFile(content);
      if (this.switchUser && !options.ownedByCellar) await handle.chown(this.engineUser.uid, this.engineUser.gid);
      await handle.chmod(mode);
      if (options.durable !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
    if (options.durable !== false) await fsyncPath(path.dirname(file));
  }

  /** Opens a file for reading, never through a symlink (ELOOP); undefined when it does not exist. */
  private async openForReading(file: string): Promise<fs.FileHandle | undefined> {
    try {
      return await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readFile(file: string): Promise<string | undefined> {
    const handle = await this.openForReading(file);
    if (!handle) return undefined;
    try {
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  }

  async fileInfo(file: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      const st = await fs.lstat(file);
      return st.isFile() ? { size: st.size, mtimeMs: st.mtimeMs } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async readFileRange(file: string, start: number, length: number): Promise<Buffer | undefined> {
    const handle = await this.openForReading(file);
    if (!handle) return undefined;
    try {
      if (!(await handle.stat()).isFile()) return undefined;
      const buf = Buffer.alloc(Math.max(0, length));
      let filled = 0;
      // A bounded loop: each read either fills more of the buffer or hits the end of the file.
      while (filled < buf.length) {
        const { bytesRead } = await handle.read(buf, filled, buf.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return buf.subarray(0, filled);
    } finally {
      await handle.close();
    }
  }

  async writeSecret(file: string, value: string): Promise<void> {
    await this.writeFile(file, SEALED_PREFIX + this.secretBox.sealString(value, secretAad(file)) + '\n', { ownedByCellar: true });
  }

  async readSecret(file: string): Promise<string | undefined> {
    const text = (await this.readFile(file))?.trim();
    if (!text) return undefined;
    if (!text.startsWith(SEALED_PREFIX)) {
      // Written in plaintext by a version before sealing: seal it now, keeping the value the engine knows.
      await this.writeSecret(file, text);
      return text;
    }
    try {
      return this.secretBox.openString(text.slice(SEALED_PREFIX.length), secretAad(file));
    } catch {
      log('warn', 'engine secret file does not open under this root key; a new secret will be made', { file });
      return undefined;
    }
  }

  async exists(p: string): Promise<boolean> {
    try {
      await fs.lstat(p);
      return true;
    } catch {
      return false;
    }
  }

  async remove(p: string): Promise<void> {
    await fs.rm(p, { recursive: true, force: true, maxRetries: 3 });
  }

  async diskUsageBytes(dir: string, maxEntries = DEFAULT_MAX_ENTRIES): Promise<number> {
    let total = 0;
    await walk(dir, maxEntries, async (p, st) => {
      total += st.blocks * 512;
    });
    return total;
  }

  /**
   * One syncfs(2) of the filesystem holding `dir` (coreutils `sync -f`): about 65 ms here after an initdb, against
   * about 400 ms for fsyncing its ~1000 files one by one, each of which commits the journal. The price is flushing
   * whatever else is dirty on that filesystem too. Falls back to the per-file walk if `sync -f` is unavailable.
   */
  async syncTree(dir: string, maxEntries = DEFAULT_MAX_ENTRIES): Promise<void> {
    const r = await this.run({ command: 'sync', args: ['-f', dir], asEngineUser: false, timeoutMs: 120_000 });
    if (r.code === 0) return;
    await this.syncTreeByWalk(dir, maxEntries);
  }

  /** fsyncs every file, then every directory deepest first, then the parent of `dir`. */
  async syncTreeByWalk(dir: string, maxEntries = DEFAULT_MAX_ENTRIES): Promise<void> {
    const paths: string[] = [];
    await walk(dir, maxEntries, async (p, st) => {
      if (st.isFile() || st.isDirectory()) paths.push(p);
    });
    // Files first, then directories deepest first, so every entry is durable before the directory naming it.
    const files = paths.filter((p) => !p.endsWith('/'));
    const dirs = paths.filter((p) => p.endsWith('/')).sort((a, b) => b.length - a.length);
    await forEachLimited(files, 16, fsyncPath);
    for (const d of dirs) await fsyncPath(d);
    await fsyncPath(path.dirname(path.resolve(dir)));
  }

  isPortFree(port: number, address: string): Promise<boolean> {
    return new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ port, host: address, exclusive: true }, () => server.close(() => resolve(true)));
    });
  }

  findFreePort(address = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ port: 0, host: address, exclusive: true }, () => {
        const port = (server.address() as net.AddressInfo).port;
        server.close(() => resolve(port));
      });
    });
  }

  async processInfo(pid: number): Promise<ProcessInfo> {
    try {
      const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
      // The state letter follows the parenthesised command name, which may itself contain spaces or ')'.
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return { state: 'zombie', cmdline: [] };
      const raw = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8');
      return { state: 'running', cmdline: raw.split('\0').filter((s) => s.length > 0) };
    } catch {
      return { state: 'gone', cmdline: [] };
    }
  }

  signalPid(pid: number, sig: NodeJS.Signals): boolean {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false;
    }
  }
}

async function findExecutable(candidates: readonly string[]): Promise<string | undefined> {
  for (const c of candidates) {
    try {
      await fs.access(c, fsConstants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * The user's passwd entry: from /etc/passwd read directly when it is there (no process start: `getent` costs a
 * fork+exec on the main thread at every Cellar start), else through `getent`, which also asks NSS sources beyond
 * the file (LDAP, systemd's dynamic users …).
 */
async function lookupUser(host: Host, name: string, passwdFile = '/etc/passwd'): Promise<EngineUser | undefined> {
  const local = await readPasswdEntry(passwdFile, name);
  if (local) return local;
  const r = await host.run({ command: 'getent', args: ['passwd', name], asEngineUser: false, timeoutMs: 10_000 });
  if (r.code !== 0) return undefined;
  return parsePasswdLine(r.stdout.trim(), name);
}

/** The entry for `name` in a passwd-format file; undefined when absent, unreadable or malformed. */
export async function readPasswdEntry(file: string, name: string): Promise<EngineUser | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}:`)) return parsePasswdLine(line, name);
  }
  return undefined;
}

function parsePasswdLine(line: string, name: string): EngineUser | undefined {
  const fields = line.split(':');
  if (fields.length < 4 || fields[0] !== name) return undefined;
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  // An empty or odd field must not become uid 0 (Number('') is 0).
  if (!/^\d+$/.test(fields[2]!) || !/^\d+$/.test(fields[3]!) || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) return undefined;
  return { name, uid, gid };
}

function watchChild(child: ChildProcess, spec: SpawnSpec): HostProcess {
  let status: ExitStatus | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
    child.once('error', (err) => {
      // ENOENT/EACCES on spawn: there will be no 'exit'. Report it as exit code 127 like a shell would.
      spawnError = err;
      if (child.pid === undefined) {
        status = { code: 127, signal: null };
        resolve(status);
      }
    });
  });
  if (spec.stdin !== undefined && child.stdin) {
    child.stdin.on('error', () => {}); // the child may exit before reading everything; its exit status tells
    child.stdin.end(spec.stdin);
  }
  const pid = child.pid ?? -1;
  return {
    pid,
    exited,
    exitStatus: () => status,
    signal(sig, options = {}) {
      if (status || pid <= 0) return false;
      try {
        process.kill(options.group ? -pid : pid, sig);
        return true;
      } catch {
        return false;
      }
    },
    get spawnError() {
      return spawnError;
    },
  } as HostProcess;
}

class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.max && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

function streamClosed(s: NodeJS.ReadableStream | null): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise((resolve) => {
    if ((s as unknown as { closed?: boolean }).closed) return resolve();
    s.once('close', () => resolve());
    s.once('end', () => resolve());
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `p` at most `timeoutMs`; true if it settled in time. The timer is cleared, so it never holds the process open. */
export async function settlesWithin(p: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function fsyncPath(p: string): Promise<void> {
  const handle = await fs.open(p, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Visits every entry under `root` (directories reported with a trailing '/'), refusing trees over `maxEntries`. */
async function walk(root: string, maxEntries: number, visit: (p: string, st: import('node:fs').Stats) => Promise<void>): Promise<void> {
  const stack = [root];
  let seen = 0;
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let st;
    try {
      st = await fs.lstat(dir);
    } catch {
      continue; // removed while walking (sockets, temp files): nothing to count or sync
    }
    if (++seen > maxEntries) throw new Error(`more than ${maxEntries} entries under ${root}`);
    if (!st.isDirectory()) {
      await visit(dir, st);
      continue;
    }
    await visit(dir.endsWith('/') ? dir : dir + '/', st);
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      continue;
    }
    for (const n of names) stack.push(path.join(dir, n));
  }
}

async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
