import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * deploy.sh against recording fakes of kubectl, docker, podman, kind, minikube, k3d and curl: no
 * cluster here, so tests check what the script would run, in what order, for each kind of
 * cluster. kubectl's `kustomize` goes to the real kubectl so the real overlays are rendered.
 *
 * The script runs in a git repository holding a copy of what it needs (so its secrets.env and
 * k8s/.deploy land outside the checkout), with a PATH of the fakes plus the few system tools it
 * uses: a real docker or podman on the host can never be reached.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const realKubectl = spawnSync('sh', ['-c', 'command -v kubectl'], {
  encoding: 'utf8',
}).stdout.trim();

const TOOLS = [
  'bash',
  'git',
  'sed',
  'grep',
  'od',
  'tr',
  'mktemp',
  'cp',
  'rm',
  'mkdir',
  'cat',
  'date',
  'seq',
  'sleep',
  'cut',
  'base64',
  'head',
  'env',
  'dirname',
  'touch',
  'readlink',
  'sh',
];

const FAKE = (name: string, body = '') => `#!/usr/bin/env bash
echo "${name} $*" >> "$FAKE_LOG"
${body}
exit 0
`;

const FAKES: Record<string, string> = {
  kubectl: FAKE(
    'kubectl',
    `if [ "$1" = --context ]; then shift 2; fi
case "$1 $2" in
  "config current-context") [ -n "$FAKE_CONTEXT" ] || exit 1; echo "$FAKE_CONTEXT"; exit 0 ;;
  "config get-contexts") printf '%s\\n' \${FAKE_CONTEXTS:-$FAKE_CONTEXT}; exit 0 ;;
  "kustomize "*) exec "${realKubectl}" "$@" ;;
  "get --raw=/readyz") [ -z "$FAKE_UNREACHABLE" ] || exit 1; echo ok; exit 0 ;;
  "get apiservice") [ -n "$FAKE_METRICS" ] || exit 1; echo True; exit 0 ;;
  "get crd") case "$3" in *.monitoring.coreos.com) [ -n "$FAKE_MONITORING" ] || exit 1 ;; esac; exit 0 ;;
esac
case "$*" in
  *"get secret kvq-secrets"*) [ -n "$FAKE_TOKEN" ] || exit 1; printf '%s' "$FAKE_TOKEN" | base64 | tr -d '\\n'; exit 0 ;;
  *"exec deploy/kvq-api -- kvq keys create"*) [ -n "$FAKE_TOKEN" ] || exit 1; printf '%s\\n' "$FAKE_TOKEN"; echo 'created key_x' >&2; exit 0 ;;
esac
case "$1" in
  apply) "${realKubectl}" kustomize "$3" > "$FAKE_APPLIED"; echo "applied" ;;
esac
case "$*" in
  *port-forward*) sleep "\${FAKE_PF_SLEEP:-30}" ;;
esac`,
  ),
  docker: FAKE('docker', `if [ "$1" = info ] && [ -n "$FAKE_DOCKER_DOWN" ]; then exit 1; fi`),
  podman: FAKE('podman', `if [ "$1" = info ] && [ -n "$FAKE_PODMAN_DOWN" ]; then exit 1; fi`),
  kind: FAKE(
    'kind',
    `if [ -n "\${KIND_EXPERIMENTAL_PROVIDER:-}" ]; then echo "env KIND_EXPERIMENTAL_PROVIDER=$KIND_EXPERIMENTAL_PROVIDER" >> "$FAKE_LOG"; fi
if [ "$1 $2" = "get clusters" ]; then printf '%s\\n' \${FAKE_KIND_CLUSTERS:-}; fi`,
  ),
  minikube: FAKE('minikube'),
  k3d: FAKE('k3d'),
  curl: FAKE(
    'curl',
    `case "$*" in
  *"-X PUT"*) printf 201 ;;
  *"%{http_code}"*) printf 200 ;;
esac`,
  ),
};

export interface DeployRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Every fake's command line, in the order run. */
  calls: string[];
  /** What `kubectl apply -k` was given, rendered ('' when nothing was applied). */
  manifest: string;
}

export interface DeployOptions {
  /** The current kubectl context ('' = none). */
  context?: string;
  /** Fakes left off PATH (as if not installed). */
  without?: string[];
  env?: Record<string, string>;
  /** A `node` of this version first on PATH (it answers only its version, as if too old to run scripts/*.ts). */
  node?: string;
}

export interface Sandbox {
  /** The copy of the repository deploy.sh runs in (a git repository, one commit). */
  repo: string;
  run(args: string[], opts?: DeployOptions): DeployRun;
  git(...args: string[]): string;
  remove(): void;
}

export function createSandbox(): Sandbox {
  const work = mkdtempSync(join(tmpdir(), 'kvq-deploy-'));
  const repo = join(work, 'repo');
  mkdirSync(repo);
  cpSync(join(root, 'deploy.sh'), join(repo, 'deploy.sh'));
  cpSync(join(root, '.gitignore'), join(repo, '.gitignore'));
  cpSync(join(root, 'package.json'), join(repo, 'package.json'));
  cpSync(join(root, 'k8s'), join(repo, 'k8s'), {
    recursive: true,
    filter: (p) => !p.endsWith('secrets.env') && !p.includes('/.deploy'),
  });
  cpSync(join(root, 'scripts'), join(repo, 'scripts'), { recursive: true });
  mkdirSync(join(repo, 'src'));
  writeFileSync(join(repo, 'src', 'app.ts'), 'export const version = 1;\n');
  symlinkSync(join(root, 'node_modules'), join(repo, 'node_modules'));

  const tools = join(work, 'tools');
  mkdirSync(tools);
  for (const t of TOOLS) {
    const p = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    if (p) symlinkSync(p, join(tools, t));
  }
  symlinkSync(process.execPath, join(tools, 'node'));

  const gitEnv = {
    PATH: tools,
    HOME: work,
    GIT_AUTHOR_NAME: 'kvq',
    GIT_AUTHOR_EMAIL: 'kvq@example.invalid',
    GIT_COMMITTER_NAME: 'kvq',
    GIT_COMMITTER_EMAIL: 'kvq@example.invalid',
  };
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8', env: gitEnv });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  git('init', '-q');
  git('add', '-A');
  git('commit', '-qm', 'sandbox');

  const fakeDirs = new Map<string, string>();
  const fakeDir = (without: string[]) => {
    const key = [...without].sort().join(',');
    let dir = fakeDirs.get(key);
    if (!dir) {
      dir = join(work, `fakes-${String(fakeDirs.size)}`);
      mkdirSync(dir);
      for (const [name, body] of Object.entries(FAKES)) {
        if (without.includes(name)) continue;
        writeFileSync(join(dir, name), body);
        chmodSync(join(dir, name), 0o755);
      }
      fakeDirs.set(key, dir);
    }
    return dir;
  };

  const oldNode = (version: string) => {
    const dir = join(work, `node-${version}`);
    if (!existsSync(dir)) {
      mkdirSync(dir);
      writeFileSync(
        join(dir, 'node'),
        FAKE(
          'node',
          `if [ "$1" = -p ]; then echo "${version}"; exit 0; fi
echo 'TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension ".ts"' >&2; exit 1`,
        ),
      );
      chmodSync(join(dir, 'node'), 0o755);
    }
    return `${dir}:`;
  };

  let n = 0;
  const run = (args: string[], opts: DeployOptions = {}): DeployRun => {
    n += 1;
    const log = join(work, `calls-${String(n)}.txt`);
    const applied = join(work, `applied-${String(n)}.yaml`);
    writeFileSync(log, '');
    const r = spawnSync('bash', [join(repo, 'deploy.sh'), ...args], {
      encoding: 'utf8',
      env: {
        PATH: `${opts.node ? oldNode(opts.node) : ''}${fakeDir(opts.without ?? [])}:${tools}`,
        HOME: work,
        TMPDIR: work,
        FAKE_LOG: log,
        FAKE_APPLIED: applied,
        FAKE_CONTEXT: opts.context ?? 'kind-dev',
        ...opts.env,
      },
      timeout: 90_000,
    });
    const calls = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
    const manifest = existsSync(applied) ? readFileSync(applied, 'utf8') : '';
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls, manifest };
  };

  return {
    repo,
    run,
    git,
    remove: () => {
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** Index of the first call matching re (-1 if none). */
export const firstIndex = (calls: string[], re: RegExp) => calls.findIndex((c) => re.test(c));

/** Calls to the cluster: every kubectl call but `config` and `kustomize`, which stay local. */
export const clusterCalls = (calls: string[]) =>
  calls.filter((c) => c.startsWith('kubectl ') && !/^kubectl (config|kustomize) /.test(c));
