/**
 * Entry point: `node --import tsx conformance/runner/main.ts [options]` (`npm run conformance -- ...`).
 * @module
 */
import { ExitCode, runCli } from "./cli.js";

try {
  process.exitCode = await runCli(process.argv.slice(2), process.env, {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
  });
} catch (err) {
  // An internal error of the runner, not a test failure.
  console.error(err);
  process.exitCode = ExitCode.ConfigError;
}
