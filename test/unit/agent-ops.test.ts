import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { ErrorCode, JetjobError, ValidationError } from "../../src/core/errors.js";
import { OperationFailure } from "../../src/agent/ops/types.js";
import {
  type AgentOpsConfig,
  type CommandResult,
  type DiskUsage,
  type DnsUpdateResult,
  type LoadInfo,
  type MemoryInfo,
  type Operation,
  type OperationContext,
  type OsInfo,
  type PingResult,
  type SystemStatus,
  builtinOperations,
  defaultAgentOpsConfig,
  gatherFacts,
  isCommandAllowed,
  normalizeArgs,
  parseMeminfo,
  parseOsRelease,
  parsePingOutput,
  parseResolvConf,
  renderResolvConf,
  runOperation,
} from "../../src/agent/ops/index.js";

const execEnabled: AgentOpsConfig = {
  ...defaultAgentOpsConfig,
  commandExec: { enabled: true, timeoutMs: 10_000, maxOutputBytes: 1024 },
};

function ctxFor(
  config: AgentOpsConfig = execEnabled,
  signal = new AbortController().signal,
): OperationContext {
  return { signal, hostname: "agent-1", config };
}

function op(name: string, config: AgentOpsConfig = execEnabled): Operation {
  const found = builtinOperations(config).find((o) => o.name === name);
  assert.ok(found, `operation ${name} is registered`);
  return found;
}

function call<R>(name: string, args?: unknown, ctx: OperationContext = ctxFor()): Promise<R> {
  return runOperation(op(name, ctx.config), args, ctx) as Promise<R>;
}

async function rejectsWithCode(p: Promise<unknown>, code: ErrorCode): Promise<JetjobError> {
  let caught: unknown;
  await p.catch((err: unknown) => (caught = err));
  assert.ok(caught instanceof JetjobError, `expected a JetjobError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

describe("builtinOperations", () => {
  const kinds: Array<[string, "query" | "modify"]> = [
    ["system.hostname.get", "query"],
    ["system.status.get", "query"],
    ["system.uptime.get", "query"],
    ["system.os.get", "query"],
    ["system.disk.get", "query"],
    ["system.memory.get", "query"],
    ["system.load.get", "query"],
    ["network.dns.get", "query"],
    ["network.dns.update", "modify"],
    ["network.ping", "query"],
    ["command.exec", "modify"],
  ];

  it("registers every operation with the right kind and a description", () => {
    const ops = builtinOperations(execEnabled);
    assert.deepEqual(ops.map((o) => o.name).sort(), kinds.map(([n]) => n).sort());
    for (const [name, kind] of kinds) {
      const o = ops.find((x) => x.name === name);
      assert.equal(o?.kind, kind, name);
      assert.ok((o?.description.length ?? 0) > 0, name);
    }
  });

  it("leaves command.exec out when disabled", () => {
    const names = builtinOperations(defaultAgentOpsConfig).map((o) => o.name);
    assert.equal(defaultAgentOpsConfig.commandExec.enabled, false);
    assert.ok(!names.includes("command.exec"));
    assert.equal(names.length, kinds.length - 1);
  });
});

describe("runOperation arguments", () => {
  it("normalises absent, null, [] and [obj]", () => {
    assert.deepEqual(normalizeArgs(undefined), {});
    assert.deepEqual(normalizeArgs(null), {});
    assert.deepEqual(normalizeArgs([]), {});
    assert.deepEqual(normalizeArgs([{ a: 1 }]), { a: 1 });
    assert.deepEqual(normalizeArgs({ a: 1 }), { a: 1 });
  });

  it("accepts object and [object] args alike", async () => {
    const a = await call<DiskUsage[]>("system.disk.get", { paths: ["/"] });
    const b = await call<DiskUsage[]>("system.disk.get", [{ paths: ["/"] }]);
    assert.equal(a[0]?.path, "/");
    assert.equal(b[0]?.path, "/");
  });

  const bad: Array<[string, unknown]> = [
    ["system.hostname.get", { unexpected: true }],
    ["system.disk.get", { paths: "/" }],
    ["system.disk.get", { paths: [] }],
    ["network.ping", {}],
    ["network.ping", { host: "-f" }],
    ["network.ping", { host: "localhost", count: 11 }],
    ["network.dns.update", { nameservers: [] }],
    ["network.dns.update", { nameservers: ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"] }],
    ["network.dns.update", { nameservers: ["1.1.1.1"], search: ["bad domain"] }],
    ["command.exec", { args: ["x"] }],
    ["command.exec", { command: "echo", args: "hi" }],
    ["command.exec", { command: "echo", timeout_ms: -1 }],
    ["system.load.get", [1, 2]],
  ];
  for (const [name, args] of bad) {
    it(`rejects ${name} ${JSON.stringify(args)}`, async () => {
      const err = await rejectsWithCode(call(name, args), ErrorCode.InvalidRequest);
      assert.ok(err instanceof ValidationError);
      assert.equal(err.details?.operation, name);
      assert.ok(Array.isArray(err.details?.issues) && err.details.issues.length > 0);
    });
  }

  it("refuses to start when the signal is already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    await rejectsWithCode(call("system.load.get", {}, ctxFor(execEnabled, ac.signal)), ErrorCode.Closed);
  });
});

describe("system operations on this host", () => {
  it("system.hostname.get", async () => {
    assert.deepEqual(await call("system.hostname.get"), { hostname: "agent-1", os_hostname: os.hostname() });
  });

  it("system.uptime.get", async () => {
    const r = await call<{ uptime_s: number; boot_time: string }>("system.uptime.get");
    assert.ok(r.uptime_s > 0);
    const boot = Date.parse(r.boot_time);
    assert.ok(boot < Date.now() && Math.abs(boot + r.uptime_s * 1000 - Date.now()) < 5000);
  });

  it("system.os.get", async () => {
    const r = await call<OsInfo>("system.os.get");
    assert.equal(r.kernel, os.release());
    assert.equal(r.arch, os.arch());
    assert.equal(r.platform, os.platform());
    for (const key of ["name", "version", "id", "pretty_name"] as const) assert.ok(r[key].length > 0, key);
  });

  it("system.disk.get reports / by default", async () => {
    const [root, ...rest] = await call<DiskUsage[]>("system.disk.get");
    assert.equal(rest.length, 0);
    assert.ok(root);
    assert.equal(root.path, "/");
    assert.ok(root.total_bytes > root.free_bytes && root.free_bytes >= 0);
    assert.ok(root.used_bytes > 0 && root.used_bytes <= root.total_bytes);
    assert.ok(root.used_percent > 0 && root.used_percent <= 100);
  });

  it("system.disk.get: a missing path is not_found", async () => {
    await rejectsWithCode(call("system.disk.get", { paths: ["/no/such/dir/xyz"] }), ErrorCode.NotFound);
  });

  it("system.memory.get", async () => {
    const m = await call<MemoryInfo>("system.memory.get");
    assert.ok(m.total_bytes > 0);
    assert.ok(m.free_bytes <= m.total_bytes && m.available_bytes <= m.total_bytes);
    assert.equal(m.used_bytes, m.total_bytes - m.available_bytes);
    assert.ok(m.used_percent >= 0 && m.used_percent <= 100);
    assert.ok(m.swap_free_bytes <= m.swap_total_bytes);
  });

  it("parseMeminfo converts kB to bytes", () => {
    const info = parseMeminfo("MemTotal:  1000 kB\nHugePages_Total:       2\nActive(anon): 4 kB\nbogus\n");
    assert.deepEqual(info, { MemTotal: 1_024_000, HugePages_Total: 2, "Active(anon)": 4096 });
  });

  it("system.load.get", async () => {
    const l = await call<LoadInfo>("system.load.get");
    for (const v of [l.load1, l.load5, l.load15]) assert.ok(typeof v === "number" && v >= 0);
    assert.ok(l.cpus >= 1);
  });

  it("system.status.get combines the others", async () => {
    const s = await call<SystemStatus>("system.status.get");
    assert.equal(s.hostname, "agent-1");
    assert.equal(s.os.kernel, os.release());
    assert.ok(s.uptime_s > 0 && s.memory.total_bytes > 0 && s.load.cpus >= 1);
    assert.deepEqual(
      s.disks.map((d) => d.path),
      ["/"],
    );
  });
});

describe("facts", () => {
  it("gathers flat dotted facts; extras override", async () => {
    const f = await gatherFacts({ "cpu.model": "custom", role: "web" });
    const cores =
      typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
    assert.equal(f["cpu.cores"], cores);
    assert.equal(f["cpu.model"], "custom");
    assert.equal(f.role, "web");
    assert.equal(f["kernel.release"], os.release());
    assert.equal(f.arch, os.arch());
    assert.equal(f.platform, os.platform());
    assert.equal(f.hostname, os.hostname());
    assert.equal(f["node.version"], process.versions.node);
    assert.equal(f["memory.total_bytes"], os.totalmem());
    assert.equal(f["memory.total_gb"], Math.round((os.totalmem() / 1024 ** 3) * 10) / 10);
    for (const key of ["os.name", "os.version", "os.pretty_name", "os.family"]) {
      assert.equal(typeof f[key], "string", key);
    }
    for (const v of Object.values(f)) assert.ok(["string", "number", "boolean"].includes(typeof v));
  });

  it("matches /etc/os-release", async () => {
    const text = await readFile("/etc/os-release", "utf8").catch(() => undefined);
    if (text === undefined) return;
    const rel = parseOsRelease(text);
    const f = await gatherFacts();
    assert.equal(f["os.name"], rel.ID);
    assert.equal(f["os.family"], rel.ID_LIKE?.split(" ")[0] ?? rel.ID);
  });

  const osReleaseCases: Array<[string, string, Record<string, string>]> = [
    ["double quotes", 'NAME="Debian GNU/Linux"\nID=debian', { NAME: "Debian GNU/Linux", ID: "debian" }],
    ["single quotes", "PRETTY_NAME='Alpine Linux v3.20'", { PRETTY_NAME: "Alpine Linux v3.20" }],
    ["escapes", 'X="a \\"b\\" \\$c \\\\ d"', { X: 'a "b" $c \\ d' }],
    ["comments and blanks", '# c\n\n  ID_LIKE="rhel fedora"  \r\n', { ID_LIKE: "rhel fedora" }],
    ["malformed lines", "junk\n=x\n1A=b\nVERSION_ID=12", { VERSION_ID: "12" }],
    ["empty value", "VARIANT=", { VARIANT: "" }],
    ["empty text", "", {}],
  ];
  for (const [label, text, expected] of osReleaseCases) {
    it(`parseOsRelease: ${label}`, () => assert.deepEqual(parseOsRelease(text), expected));
  }
});

describe("resolv.conf", () => {
  const resolvCases: Array<[string, string, { nameservers: string[]; search: string[]; options: string[] }]> =
    [
      ["empty", "", { nameservers: [], search: [], options: [] }],
      [
        "full",
        "# generated\nsearch a.example b.example\nnameserver 10.0.0.1\nnameserver ::1 # v6\noptions ndots:2 timeout:1\noptions rotate\n",
        {
          nameservers: ["10.0.0.1", "::1"],
          search: ["a.example", "b.example"],
          options: ["ndots:2", "timeout:1", "rotate"],
        },
      ],
      [
        "domain, last wins",
        "search x.example\ndomain y.example\n",
        { nameservers: [], search: ["y.example"], options: [] },
      ],
      [
        "comments",
        "; nameserver 9.9.9.9\n# nameserver 8.8.8.8\nnameserver\n",
        { nameservers: [], search: [], options: [] },
      ],
    ];
  for (const [label, text, expected] of resolvCases) {
    it(`parseResolvConf: ${label}`, () => assert.deepEqual(parseResolvConf(text), expected));
  }

  it("renderResolvConf replaces name servers in place and keeps other lines", () => {
    const original =
      "# keep me\nnameserver 10.0.0.1\noptions ndots:2\nnameserver 10.0.0.2\nsortlist 10.0.0.0\n";
    assert.equal(
      renderResolvConf(original, { nameservers: ["1.1.1.1", "2606:4700::1111"] }),
      "# keep me\nnameserver 1.1.1.1\nnameserver 2606:4700::1111\noptions ndots:2\nsortlist 10.0.0.0\n",
    );
  });

  it("renderResolvConf: search replaced, inserted, removed, or kept", () => {
    const withSearch = "domain old.example\nnameserver 10.0.0.1\n";
    assert.equal(
      renderResolvConf(withSearch, { nameservers: ["10.0.0.9"], search: ["a.example"] }),
      "search a.example\nnameserver 10.0.0.9\n",
    );
    assert.equal(
      renderResolvConf(withSearch, { nameservers: ["10.0.0.9"], search: [] }),
      "nameserver 10.0.0.9\n",
    );
    assert.equal(
      renderResolvConf(withSearch, { nameservers: ["10.0.0.9"] }),
      "domain old.example\nnameserver 10.0.0.9\n",
    );
    assert.equal(
      renderResolvConf("# x\nnameserver 10.0.0.1\n", { nameservers: ["10.0.0.9"], search: ["b.example"] }),
      "# x\nsearch b.example\nnameserver 10.0.0.9\n",
    );
    assert.equal(
      renderResolvConf("# only a comment", { nameservers: ["10.0.0.9"], search: ["c.example"] }),
      "# only a comment\nsearch c.example\nnameserver 10.0.0.9\n",
    );
  });

  describe("network.dns.get / network.dns.update on a temp file", () => {
    let dir: string;
    let config: AgentOpsConfig;
    const original = "# managed by hand\nsearch corp.example\nnameserver 10.0.0.1\noptions ndots:2 rotate\n";

    before(async () => {
      dir = await mkdtemp(join(os.tmpdir(), "jetjob-agent-ops-"));
      config = { ...execEnabled, resolvConfPath: join(dir, "resolv.conf") };
      await writeFile(config.resolvConfPath, original);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it("reads, updates atomically keeping lines, then reports no change on repeat", async () => {
      const ctx = ctxFor(config);
      const parsed = { nameservers: ["10.0.0.1"], search: ["corp.example"], options: ["ndots:2", "rotate"] };
      assert.deepEqual(await call("network.dns.get", undefined, ctx), parsed);
      const update = { nameservers: ["1.1.1.1", "2001:4860:4860::8888"] };
      const first = await call<DnsUpdateResult>("network.dns.update", update, ctx);
      assert.equal(first.changed, true);
      assert.deepEqual(first.previous, parsed);
      assert.deepEqual(first.current, { ...parsed, nameservers: update.nameservers });
      const text = await readFile(config.resolvConfPath, "utf8");
      assert.equal(
        text,
        "# managed by hand\nsearch corp.example\nnameserver 1.1.1.1\nnameserver 2001:4860:4860::8888\noptions ndots:2 rotate\n",
      );
      assert.deepEqual(await readdir(dir), ["resolv.conf"], "no temp file left behind");

      const second = await call<DnsUpdateResult>("network.dns.update", [update], ctx);
      assert.equal(second.changed, false);
      const sameSearch = { ...update, search: ["corp.example"] };
      assert.equal((await call<DnsUpdateResult>("network.dns.update", sameSearch, ctx)).changed, false);
      assert.equal(await readFile(config.resolvConfPath, "utf8"), text);
    });

    it("rejects a bad IP address without touching the file", async () => {
      const before = await readFile(config.resolvConfPath, "utf8");
      const err = await rejectsWithCode(
        call("network.dns.update", { nameservers: ["1.1.1.999"] }, ctxFor(config)),
        ErrorCode.InvalidRequest,
      );
      assert.ok(err instanceof ValidationError);
      assert.equal(await readFile(config.resolvConfPath, "utf8"), before);
    });

    it("creates a missing file", async () => {
      const cfg = { ...config, resolvConfPath: join(dir, "new.conf") };
      const r = await call<DnsUpdateResult>("network.dns.update", { nameservers: ["9.9.9.9"] }, ctxFor(cfg));
      assert.equal(r.changed, true);
      assert.equal(await readFile(cfg.resolvConfPath, "utf8"), "nameserver 9.9.9.9\n");
    });
  });
});

describe("network.ping", () => {
  it("reaches 127.0.0.1 (ICMP or DNS, whichever this host has)", async () => {
    const r = await call<PingResult>("network.ping", { host: "127.0.0.1", count: 1, timeout_ms: 1000 });
    assert.equal(r.host, "127.0.0.1");
    assert.ok(r.method === "icmp" || r.method === "dns");
    assert.equal(r.reachable, true);
    assert.ok(r.received >= 1 && r.transmitted >= r.received);
    assert.equal(r.loss_percent, 0);
  });

  it("uses a ping binary on PATH when there is one (no shell, -c/-W)", async () => {
    const dir = await mkdtemp(join(os.tmpdir(), "jetjob-fake-ping-"));
    const savedPath = process.env.PATH;
    try {
      const script =
        '#!/bin/sh\necho "PING $5 (10.1.2.3) args: $*"\n' +
        'echo "2 packets transmitted, 2 received, 0% packet loss, time 1ms"\n' +
        'echo "rtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms"\n';
      await writeFile(join(dir, "ping"), script, { mode: 0o755 });
      process.env.PATH = `${dir}:${savedPath ?? ""}`;
      const r = await call<PingResult>("network.ping", { host: "db.example", count: 2, timeout_ms: 1500 });
      assert.deepEqual(r, {
        host: "db.example",
        method: "icmp",
        transmitted: 2,
        received: 2,
        loss_percent: 0,
        rtt_ms: { min: 0.1, avg: 0.2, max: 0.3 },
        address: "10.1.2.3",
        reachable: true,
      });
    } finally {
      if (savedPath === undefined) delete process.env.PATH;
      else process.env.PATH = savedPath;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("an unresolvable name is unreachable, not an error", async () => {
    const r = await call<PingResult>("network.ping", {
      host: "no-such-host.invalid",
      count: 1,
      timeout_ms: 2000,
    });
    assert.equal(r.reachable, false);
    assert.equal(r.received, 0);
  });

  it("parsePingOutput: iputils and busybox summaries", () => {
    const iputils =
      "PING example.com (93.184.216.34) 56(84) bytes of data.\n64 bytes from x: icmp_seq=1 ttl=56 time=11.2 ms\n\n" +
      "--- example.com ping statistics ---\n3 packets transmitted, 2 received, 33.3333% packet loss, time 2003ms\n" +
      "rtt min/avg/max/mdev = 11.176/11.300/11.424/0.124 ms\n";
    assert.deepEqual(parsePingOutput(iputils), {
      transmitted: 3,
      received: 2,
      loss_percent: 33.3333,
      rtt_ms: { min: 11.176, avg: 11.3, max: 11.424 },
      address: "93.184.216.34",
    });
    const busybox =
      "PING 10.0.0.1 (10.0.0.1): 56 data bytes\n\n--- 10.0.0.1 ping statistics ---\n" +
      "1 packets transmitted, 1 packets received, 0% packet loss\nround-trip min/avg/max = 0.1/0.2/0.3 ms\n";
    assert.deepEqual(parsePingOutput(busybox), {
      transmitted: 1,
      received: 1,
      loss_percent: 0,
      rtt_ms: { min: 0.1, avg: 0.2, max: 0.3 },
      address: "10.0.0.1",
    });
    assert.deepEqual(
      parsePingOutput("2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 1ms"),
      {
        transmitted: 2,
        received: 0,
        loss_percent: 100,
      },
    );
    assert.equal(parsePingOutput("ping: socket: Operation not permitted"), undefined);
  });
});

describe("command.exec", () => {
  it("echo hi", async () => {
    const r = await call<CommandResult>("command.exec", { command: "echo", args: ["hi"] });
    assert.equal(r.stdout, "hi\n");
    assert.equal(r.stderr, "");
    assert.equal(r.exit_code, 0);
    assert.equal(r.signal, null);
    assert.equal(r.truncated, false);
    assert.equal(r.timed_out, false);
    assert.ok(r.duration_ms >= 0);
  });

  /** The failure a command.exec call ends with, and the result it carries. */
  const failure = async (args: unknown, ctx?: Parameters<typeof call>[2]) => {
    const err = await call("command.exec", args, ctx).then(
      () => assert.fail("expected a failure"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof OperationFailure, String(err));
    return { err, r: err.result as CommandResult };
  };

  it("a non-zero exit is a failure of the operation, carrying exit code and output", async () => {
    const { err, r } = await failure([{ command: "false" }]);
    assert.equal(err.code, "command_failed");
    assert.match(err.message, /exited with code 1/);
    assert.equal(r.exit_code, 1);
    const three = await failure({ command: "sh", args: ["-c", "echo out; echo boom >&2; exit 3"] });
    assert.equal(three.r.exit_code, 3);
    assert.equal(three.r.stdout, "out\n");
    assert.equal(three.r.stderr, "boom\n");
    assert.match(three.err.message, /exited with code 3: boom/);
  });

  it("a command killed by a signal is a failure", async () => {
    const { err, r } = await failure({ command: "sh", args: ["-c", "kill -KILL $$"] });
    assert.equal(err.code, "command_killed");
    assert.equal(r.signal, "SIGKILL");
    assert.equal(r.exit_code, null);
  });

  it("no shell: metacharacters are plain arguments; env and cwd apply", async () => {
    const r = await call<CommandResult>("command.exec", {
      command: "sh",
      args: ["-c", 'printf "%s|%s|%s" "$1" "$FOO" "$(pwd)"', "sh", "$(id); echo x"],
      env: { FOO: "bar" },
      cwd: "/",
    });
    assert.equal(r.stdout, "$(id); echo x|bar|/");
  });

  it("timeout kills the process quickly", async () => {
    const started = Date.now();
    const { err, r } = await failure({ command: "sleep", args: ["5"], timeout_ms: 200 });
    assert.equal(err.code, "command_timeout");
    assert.ok(Date.now() - started < 3000);
    assert.equal(r.timed_out, true);
    assert.equal(r.exit_code, null);
    assert.equal(r.signal, "SIGTERM");
  });

  it("the config timeout caps a larger per-call timeout", async () => {
    const cfg = { ...execEnabled, commandExec: { ...execEnabled.commandExec, timeoutMs: 200 } };
    const { r } = await failure({ command: "sleep", args: ["5"], timeout_ms: 60_000 }, ctxFor(cfg));
    assert.equal(r.timed_out, true);
  });

  it("aborting the signal kills the process and rejects with closed", async () => {
    const ac = new AbortController();
    const started = Date.now();
    const p = call("command.exec", { command: "sleep", args: ["5"] }, ctxFor(execEnabled, ac.signal));
    setImmediate(() => ac.abort());
    await rejectsWithCode(p, ErrorCode.Closed);
    assert.ok(Date.now() - started < 3000);
  });

  it("truncates output to maxOutputBytes", async () => {
    const r = await call<CommandResult>("command.exec", {
      command: "head",
      args: ["-c", "5000", "/dev/zero"],
    });
    assert.equal(r.stdout.length, 1024);
    assert.equal(r.truncated, true);
    assert.equal(r.exit_code, 0);
  });

  it("disallowed command is forbidden; allowed runs", async () => {
    const cfg = {
      ...execEnabled,
      commandExec: { ...execEnabled.commandExec, allow: ["echo", "/usr/bin/true"] },
    };
    await rejectsWithCode(call("command.exec", { command: "false" }, ctxFor(cfg)), ErrorCode.Forbidden);
    await rejectsWithCode(call("command.exec", { command: "/bin/true" }, ctxFor(cfg)), ErrorCode.Forbidden);
    const r = await call<CommandResult>("command.exec", { command: "/bin/echo", args: ["ok"] }, ctxFor(cfg));
    assert.equal(r.stdout, "ok\n");
  });

  it("isCommandAllowed", () => {
    assert.equal(isCommandAllowed("anything", undefined), true);
    assert.equal(isCommandAllowed("anything", []), true);
    assert.equal(isCommandAllowed("/usr/bin/systemctl", ["systemctl"]), true);
    assert.equal(isCommandAllowed("/usr/bin/systemctl", ["/bin/systemctl"]), false);
    assert.equal(isCommandAllowed("systemctl", ["/usr/bin/systemctl"]), false);
  });

  it("a missing command or cwd is not_found", async () => {
    await rejectsWithCode(call("command.exec", { command: "no-such-command-xyz" }), ErrorCode.NotFound);
    await rejectsWithCode(call("command.exec", { command: "echo", cwd: "/no/such/dir" }), ErrorCode.NotFound);
  });
});
