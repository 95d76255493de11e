import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../lib/app.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const context = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;

describe('cdk-nag AwsSolutions', () => {
  it('finds no unacknowledged error or warning in the app, with and without the GPU route, on either Lambda engine', () => {
    for (const [gpu, engine] of [
      ['true', 'cpu'],
      ['false', 'cpu'],
      ['true', 'wasm'],
    ]) {
      // Prepare
      const { app, nag } = buildApp({
        context: { ...context, 'fusebatch:gpu.enabled': gpu, 'fusebatch:lambdaEngine': engine },
        outdir: mkdtempSync(path.join(tmpdir(), 'fusebatch-nag-')),
      });
      // Act
      const report = nag.validateScope(app);
      // Assess
      const findings = report.violations.map(
        (v) =>
          `${v.severity} ${v.ruleName} ${v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId).join(', ')}`,
      );
      expect(findings, `gpu=${gpu}, lambdaEngine=${engine}`).toEqual([]);
    }
  }, 180_000);

  it('reports a rule that is broken and not acknowledged (the check is live)', async () => {
    // Prepare: a wildcard grant with no acknowledgement.
    const { app, stack, nag } = buildApp({ context, outdir: mkdtempSync(path.join(tmpdir(), 'fusebatch-nag-')) });
    const { aws_iam: iam } = await import('aws-cdk-lib');
    stack.pipeline.workerFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    // Act
    const report = nag.validateScope(app);
    // Assess
    const rules = report.violations.map((v) => v.ruleName);
    expect(rules).toEqual(
      expect.arrayContaining(['AwsSolutions-IAM5[Action::s3:*]', 'AwsSolutions-IAM5[Resource::*]']),
    );
  }, 120_000);
});
