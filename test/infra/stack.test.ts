// biome-ignore-all lint/suspicious/noExplicitAny: CloudFormation templates are untyped JSON
/**
 * Synthesis tests of the CDK app: every resource and rule the infrastructure promises, read
 * from the synthesized CloudFormation template (real bundling with the local esbuild; the
 * container image is only staged and hashed).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { queryRecordFiles } from '../../cli/adapters/duckdb-query.js';
import { AwsBatchRoute } from '../../lambdas/adapters/batch-route.js';
import { SharpImageDecoder } from '../../lambdas/adapters/image-codec.js';
import { readManifest } from '../../lambdas/adapters/model-bundle.js';
import { BUCKET_ACCESS, type BucketAccess } from '../../lambdas/core/access.js';
import { markerKey } from '../../lambdas/core/completion.js';
import { jobKeys, PREFIXES, pairKeys, RESULT_PREFIXES } from '../../lambdas/core/keys.js';
import { runPipeline } from '../../lambdas/core/pipeline.js';
import { glueColumns } from '../../lambdas/core/result-table.js';
import { BatchWorkerEnvSchema, IngestEnvSchema, WorkerEnvSchema } from '../../lambdas/entry/env.js';
import { buildApp } from '../../lib/app.js';
import { sharpPackages } from '../../lib/fused-inference-pipeline.js';
import { allKindsManifest, allKindsModel } from '../helpers/all-kinds.js';
import { iamPatternMatches } from '../helpers/iam-patterns.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's placeholder syntax, not JavaScript's
const ATHENA_JOB_TEMPLATE = '/results/jobs/${job}/';
const ROOT = path.resolve(import.meta.dirname, '../..');
const context = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

/**
 * `action resource` lines of a role's policies, with bucket ARNs written as `bucket` and other refs
 * by logical id; a statement's conditions follow as `when KEY OPERATOR VALUE`, one line per value.
 */
function grants(template: Template, roleLogicalIdPrefix: string): string[] {
  const policies = template.findResources('AWS::IAM::Policy') as Resources;
  const lines: string[] = [];
  const name = (r: any): string => {
    if (typeof r === 'string') return r;
    if (r['Fn::GetAtt']) return r['Fn::GetAtt'][0].startsWith('PipelineBucket') ? 'bucket' : r['Fn::GetAtt'][0];
    if (r.Ref) return r.Ref;
    if (r['Fn::Join']) return r['Fn::Join'][1].map(name).join('');
    return JSON.stringify(r);
  };
  for (const policy of Object.values(policies)) {
    const roles = (policy.Properties.Roles as { Ref: string }[]).map((r) => r.Ref);
    if (!roles.some((r) => r.startsWith(roleLogicalIdPrefix))) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      expect(statement.Effect).toBe('Allow');
      const conditions = Object.entries(statement.Condition ?? {}).flatMap(([operator, tests]) =>
        Object.entries(tests as Record<string, unknown>).flatMap(([key, values]) =>
          [values].flat().map((value) => ` when ${key} ${operator} ${value}`),
        ),
      );
      for (const action of [statement.Action].flat()) {
        for (const resource of [statement.Resource].flat()) {
          for (const condition of conditions.length ? conditions : ['']) {
            lines.push(`${action} ${name(resource)}${condition}`);
          }
        }
      }
    }
  }
  return lines.sort();
}

const stripHashes = (lines: string[]) => lines.map((l) => l.replace(/[0-9A-F]{8}\b/g, ''));

/** The S3 lines `grants` should find for a role with this access (core/access.ts). */
const s3GrantsOf = (access: BucketAccess) =>
  [
    ...access.read.map((pattern) => `s3:GetObject bucket/${pattern}`),
    ...access.write.map((pattern) => `s3:PutObject bucket/${pattern}`),
    ...access.list.map((pattern) => `s3:ListBucket bucket when s3:prefix StringLike ${pattern}`),
  ].sort();

/**
 * Whether `grants` lines allow an action on a key (for s3:ListBucket, a listing of that prefix),
 * matched as IAM matches: what the deployed role may do, read from the template.
 */
function permits(grantLines: string[], action: string, key: string): boolean {
  return grantLines.some((line) => {
    const [lineAction, resource] = line.split(' ');
    if (lineAction !== action) return false;
    if (action === 's3:ListBucket') {
      const prefixTest = / when s3:prefix StringLike (.*)$/.exec(line);
      return resource === 'bucket' && (prefixTest === null || iamPatternMatches(prefixTest[1], key));
    }
    return resource.startsWith('bucket/') && iamPatternMatches(resource.slice('bucket/'.length), key);
  });
}

/** The variables the construct sets for each entry point, by name, with their values (tokens as template objects). */
function entryEnvironments(template: Template) {
  const resources = Object.entries(template.toJSON().Resources as Resources);
  const lambdaEnvironment = (prefix: string): Record<string, unknown> =>
    resources.find(([id, r]) => r.Type === 'AWS::Lambda::Function' && new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id))![1]
      .Properties.Environment.Variables;
  const jobDefinition = resources.find(([, r]) => r.Type === 'AWS::Batch::JobDefinition')?.[1];
  return {
    ingest: lambdaEnvironment('PipelineIngest'),
    worker: lambdaEnvironment('PipelineWorker'),
    batch: jobDefinition
      ? Object.fromEntries(
          (jobDefinition.Properties.ContainerProperties.Environment as { Name: string; Value: unknown }[]).map((e) => [
            e.Name,
            e.Value,
          ]),
        )
      : undefined,
  };
}

/** The variables the Batch route gives each child it submits (as it submits them, to a recording client). */
async function variablesSubmittedToBatch(): Promise<Record<string, string>> {
  const sent: SubmitJobCommand['input'][] = [];
  const client = {
    send: async (command: SubmitJobCommand) => {
      sent.push(command.input);
      return { jobId: 'id' };
    },
  } as unknown as BatchClient;
  await new AwsBatchRoute(client, 'queue', 'definition', { secondsPerChunk: 5, timeoutSeconds: 7200 }).submit(
    'j',
    2000,
  );
  return Object.fromEntries(sent[0].containerOverrides!.environment!.map((e) => [e.name!, e.value!]));
}

/**
 * Every FUSEBATCH_* variable set is one the entry point's schema parses (a plain value parses as
 * its field), and every variable the schema requires is set.
 */
function expectParsedBy(schema: z.ZodObject, variables: Record<string, unknown>, entry: string) {
  const parsed = Object.keys(schema.shape);
  const ours = Object.keys(variables).filter((name) => name.startsWith('FUSEBATCH_'));
  expect(ours.length, entry).toBeGreaterThan(2);
  expect(
    ours.filter((name) => !parsed.includes(name)),
    `${entry}: set, but not parsed`,
  ).toEqual([]);
  const required = Object.entries(schema.shape)
    .filter(([, field]) => !(field as z.ZodType).safeParse(undefined).success)
    .map(([name]) => name);
  expect(
    required.filter((name) => !(name in variables)),
    `${entry}: required, but not set`,
  ).toEqual([]);
  for (const name of ours) {
    const value = variables[name];
    if (typeof value !== 'string') continue; // a token: a queue's URL, an ARN
    expect((schema.shape[name] as z.ZodType).safeParse(value).success, `${entry}: ${name}=${value}`).toBe(true);
  }
}

/** A failure queue: SQS-encrypted, TLS-only, 14 days, and an alarm as soon as it holds a message. */
function expectFailureQueue(template: Template, logicalIdPrefix: string) {
  const queues = Object.entries(template.findResources('AWS::SQS::Queue') as Resources).filter(([id]) =>
    new RegExp(`^${logicalIdPrefix}[0-9A-F]{8}$`).test(id),
  );
  expect(queues, logicalIdPrefix).toHaveLength(1);
  const [queueId, queue] = queues[0];
  expect(queue.Properties).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
  template.hasResourceProperties('AWS::SQS::QueuePolicy', {
    Queues: [{ Ref: queueId }],
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]),
    },
  });
  template.hasResourceProperties('AWS::CloudWatch::Alarm', {
    MetricName: 'ApproximateNumberOfMessagesVisible',
    Namespace: 'AWS/SQS',
    Threshold: 0,
    ComparisonOperator: 'GreaterThanThreshold',
    EvaluationPeriods: 1,
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
  });
}

/**
 * A DuckDB type as DESCRIBE prints it, in Hive's syntax: written here from DuckDB's grammar,
 * not from lambdas/core/columns.ts, so that the comparison below is not the same code twice.
 */
function hiveFromDuckdb(text: string): string {
  let at = 0;
  const skip = () => {
    while (text[at] === ' ') at++;
  };
  const name = (): string => {
    skip();
    if (text[at] === '"') {
      const end = text.indexOf('"', at + 1);
      const quoted = text.slice(at + 1, end);
      at = end + 1;
      return quoted;
    }
    const start = at;
    while (at < text.length && /[A-Za-z0-9_]/.test(text[at])) at++;
    return text.slice(start, at);
  };
  const scalars: Record<string, string> = {
    VARCHAR: 'string',
    DOUBLE: 'double',
    INTEGER: 'int',
    BIGINT: 'bigint',
    BOOLEAN: 'boolean',
  };
  const type = (): string => {
    const word = name();
    let out: string;
    if (word === 'STRUCT' || word === 'MAP') {
      at++; // (
      const parts: string[] = [];
      while (text[at] !== ')') {
        parts.push(word === 'STRUCT' ? `${name()}:${type()}` : type());
        skip();
        if (text[at] === ',') at++;
      }
      at++; // )
      out = word === 'STRUCT' ? `struct<${parts.join(',')}>` : `map<${parts.join(',')}>`;
    } else {
      out = scalars[word] ?? `unknown ${word}`;
    }
    while (text.startsWith('[]', at)) {
      out = `array<${out}>`;
      at += 2;
    }
    return out;
  };
  return type();
}

describe('CDK app: the synthesized stack', () => {
  let template: Template;
  let resources: Resources;
  beforeAll(() => {
    const { stack } = buildApp({ context, outdir: mkdtempSync(path.join(tmpdir(), 'fusebatch-cdk-')) });
    template = Template.fromStack(stack);
    resources = template.toJSON().Resources;
  }, 120_000);

  it('keeps the bucket private, encrypted, TLS-only and access-logged, with temporary objects expiring and job data kept', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'bucket/' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'athena-results/', ExpirationInDays: 30, Status: 'Enabled' }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    expect(template.findResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' })).toSatisfy(
      (found: object) => Object.keys(found).length === 2,
    );
    // Without jobRetentionDays neither a job's records nor its state expire.
    const rules = Object.values(template.findResources('AWS::S3::Bucket')).flatMap(
      (b) => b.Properties.LifecycleConfiguration?.Rules ?? [],
    );
    expect(rules.filter((r: { Prefix?: string }) => r.Prefix === 'state/' || r.Prefix === 'results/')).toEqual([]);
  });

  it('sends object-created events for inbox/ and jobs/ only: results/ never triggers', () => {
    const notifications = Object.values(resources).filter((r) => r.Type === 'Custom::S3BucketNotifications');
    expect(notifications).toHaveLength(1);
    const configs = notifications[0].Properties.NotificationConfiguration.LambdaFunctionConfigurations;
    const prefixes = configs.map((c: any) => {
      expect(c.Events).toEqual(['s3:ObjectCreated:*']);
      expect(c.LambdaFunctionArn['Fn::GetAtt'][0]).toMatch(/^PipelineIngest[0-9A-F]{8}$/);
      return c.Filter.Key.FilterRules.find((f: any) => f.Name === 'prefix').Value;
    });
    expect(prefixes.sort()).toEqual(['inbox/', 'jobs/']);
    expect(JSON.stringify(notifications[0])).not.toContain('results/');
  });

  it('bundles both functions for Node on x86_64 on the cpu engine, with sharp’s and onnxruntime-node’s layers, sized memory, threads and timeouts', () => {
    const functions = Object.entries(resources).filter(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && /^Pipeline(Ingest|Worker)[0-9A-F]{8}$/.test(id),
    );
    expect(functions).toHaveLength(2);
    const layers = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::LayerVersion');
    expect(layers.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'PipelineOnnxRuntimeLayer',
      'PipelineSharpLayer',
    ]);
    for (const [, layer] of layers) {
      expect(layer.Properties).toMatchObject({
        CompatibleArchitectures: ['x86_64'],
        CompatibleRuntimes: ['nodejs24.x'],
      });
    }
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['x86_64'], MemorySize: 3538 });
      expect(fn.Properties.Layers.map((l: { Ref: string }) => l.Ref).sort()).toEqual(layers.map(([id]) => id).sort());
      expect(fn.Properties.Environment.Variables).toMatchObject({
        FUSEBATCH_ENGINE: 'cpu',
        FUSEBATCH_THREADS: '2',
        FUSEBATCH_MASKS: 'rle',
      });
    }
    const worker = functions.find(([id]) => id.startsWith('PipelineWorker'))![1].Properties;
    expect(worker).toMatchObject({ Timeout: 60, ReservedConcurrentExecutions: 10 });
    // The worker's own attempts (the queue allows two receives more: below).
    expect(worker.Environment.Variables).toMatchObject({ FUSEBATCH_MAX_RECEIVE_COUNT: '3' });
    const ingest = functions.find(([id]) => id.startsWith('PipelineIngest'))![1].Properties;
    // 900 s: a million-line manifest writes 10,000 chunk objects; the lease is the timeout.
    expect(ingest.Timeout).toBe(900);
    expect(ingest.Environment.Variables).toMatchObject({
      FUSEBATCH_CHUNK_SIZE: '100',
      FUSEBATCH_INGEST_LEASE_SECONDS: '900',
      FUSEBATCH_BATCH_THRESHOLD: '5000',
      // 0.05 s a pair × 100 pairs, and the Batch child's 120 minutes: they size array jobs.
      FUSEBATCH_BATCH_SECONDS_PER_CHUNK: '5',
      FUSEBATCH_BATCH_TIMEOUT_SECONDS: '7200',
    });
    expect(ingest.Environment.Variables).not.toHaveProperty('FUSEBATCH_BATCH_MAX_SHARDS');
  });

  it('sets for each entry point only variables its schema parses, and every one it requires', async () => {
    const environments = entryEnvironments(template);
    expectParsedBy(IngestEnvSchema, environments.ingest, 'ingest');
    expectParsedBy(WorkerEnvSchema, environments.worker, 'worker');
    // A Batch child gets the job definition's variables and, at each submission, its job's.
    expectParsedBy(BatchWorkerEnvSchema, { ...environments.batch, ...(await variablesSubmittedToBatch()) }, 'batch');
  });

  it('feeds the worker from a queue with a dead-letter queue, 6 × its timeout of visibility, and partial batch responses', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 360,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PipelineDeadLetterQueue'), 'Arn'] },
        // The worker's 3 attempts + 2: SQS's redrive only catches chunks whose worker crashed or timed out.
        maxReceiveCount: 5,
      },
    });
    // Pollers are held to the reserved concurrency, so that no receive is throttled (and counted).
    const mappings = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    expect(mappings[0].Properties).toMatchObject({
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FunctionName: { Ref: expect.stringMatching(/^PipelineWorker[0-9A-F]{8}$/) },
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    const worker = Object.entries(resources).find(([id]) => /^PipelineWorker[0-9A-F]{8}$/.test(id))![1];
    expect(mappings[0].Properties.ScalingConfig.MaximumConcurrency).toBe(
      worker.Properties.ReservedConcurrentExecutions,
    );
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PipelineDeadLetterQueue'), 'QueueName'] },
        },
      ],
    });
  });

  it('retries a failed S3 event twice within 6 hours, then keeps it in the ingest failure queue, with an alarm', () => {
    const invokeConfigs = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventInvokeConfig');
    expect(invokeConfigs).toHaveLength(1);
    expect(invokeConfigs[0].Properties).toEqual({
      FunctionName: { Ref: expect.stringMatching(/^PipelineIngest[0-9A-F]{8}$/) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 6 * 3600,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [expect.stringMatching(/^PipelineIngestFailureQueue/), 'Arn'] } },
      },
    });
    expectFailureQueue(template, 'PipelineIngestFailureQueue');
  });

  it('keeps failed Batch jobs of its own job queue in the Batch failure queue, through EventBridge, with an alarm', () => {
    const rules = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Events::Rule');
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0];
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.batch'],
      'detail-type': ['Batch Job State Change'],
      detail: {
        status: ['FAILED'],
        jobQueue: [{ 'Fn::GetAtt': [expect.stringMatching(/^PipelineGpuJobQueue[0-9A-F]{8}$/), 'JobQueueArn'] }],
      },
    });
    expect(rule.Properties.Targets).toEqual([
      { Id: expect.any(String), Arn: { 'Fn::GetAtt': [expect.stringMatching(/^PipelineBatchFailureQueue/), 'Arn'] } },
    ]);
    // EventBridge may send to the queue for this rule only.
    const ruleId = rules[0][0];
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: Match.stringLikeRegexp('^PipelineBatchFailureQueue') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: Match.arrayWith(['sqs:SendMessage']),
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
          }),
        ]),
      },
    });
    expectFailureQueue(template, 'PipelineBatchFailureQueue');
  });

  it('grants the ingest function exactly the actions it uses, and of S3 exactly its row of the access table', () => {
    expect(stripHashes(grants(template, 'PipelineIngestRole'))).toEqual(
      [
        'batch:SubmitJob PipelineGpuJob',
        'batch:SubmitJob PipelineGpuJobQueue',
        'logs:CreateLogStream PipelineIngestLogs',
        'logs:PutLogEvents PipelineIngestLogs',
        // Lambda sends failed events to the failure queue with the function's role.
        'sqs:GetQueueAttributes PipelineIngestFailureQueue',
        'sqs:GetQueueAttributes PipelineWorkerQueue',
        'sqs:GetQueueUrl PipelineIngestFailureQueue',
        'sqs:GetQueueUrl PipelineWorkerQueue',
        'sqs:SendMessage PipelineIngestFailureQueue',
        'sqs:SendMessage PipelineWorkerQueue',
        ...s3GrantsOf(BUCKET_ACCESS.ingest),
      ].sort(),
    );
  });

  it('grants the workers and the Batch job, of S3, exactly their rows of the access table, and no Batch action', () => {
    const worker = stripHashes(grants(template, 'PipelineWorkerRole'));
    expect(worker.filter((g) => g.startsWith('s3:'))).toEqual(s3GrantsOf(BUCKET_ACCESS.worker));
    expect(worker.filter((g) => g.startsWith('sqs:SendMessage'))).toEqual(['sqs:SendMessage PipelineDeadLetterQueue']);
    expect(worker.some((g) => g.startsWith('batch:'))).toBe(false);
    expect(stripHashes(grants(template, 'PipelineGpuJobRole'))).toEqual(s3GrantsOf(BUCKET_ACCESS.batchJob));
  });

  it('lets the ingest function read inputs, state and errors parts, write state and single pairs’ results, and list only there', () => {
    const ingest = grants(template, 'PipelineIngestRole');
    const can = (action: string, key: string) => permits(ingest, action, key);
    for (const key of [
      pairKeys.image('a/cat', 'png'),
      pairKeys.text('a/cat'),
      'jobs/run.jsonl',
      jobKeys.redrive('run'),
      jobKeys.status('j'),
      jobKeys.lease('j'),
      jobKeys.errors('j', 0),
    ]) {
      expect(can('s3:GetObject', key), key).toBe(true);
    }
    // A redrive reads errors parts, never a job's results or anyone's records.
    for (const key of [jobKeys.part('j', 0), jobKeys.mask('j', 'p', 'seg'), pairKeys.result('p'), 'uploads/x.png']) {
      expect(can('s3:GetObject', key), key).toBe(false);
    }
    for (const key of [
      jobKeys.status('j'),
      jobKeys.chunk('j', 7),
      jobKeys.lease('j'),
      jobKeys.routed('j'),
      jobKeys.generation('j', 1),
      pairKeys.result('a/cat'),
      pairKeys.mask('a/cat', 'v1', 'seg'),
      jobKeys.success('j'),
    ]) {
      expect(can('s3:PutObject', key), key).toBe(true);
    }
    for (const key of [
      jobKeys.part('j', 0),
      jobKeys.errors('j', 0),
      jobKeys.mask('j', 'p', 'seg'),
      pairKeys.image('a/cat', 'png'),
      jobKeys.redrive('j'),
    ]) {
      expect(can('s3:PutObject', key), key).toBe(false);
    }
    // What it lists (a pair's siblings, a job's generations and stalled chunks), and a key it
    // reads as a prefix: S3 answers a missing key with 404 only to a role that may list it.
    for (const prefix of [
      `${PREFIXES.inbox}a/cat.`,
      jobKeys.generationsPrefix('j'),
      jobKeys.stalledPrefix('j'),
      jobKeys.status('j'),
      jobKeys.errors('j', 0),
      'jobs/run.jsonl',
      // whether a job's folder holds records, for a name whose state is gone
      jobKeys.results('j'),
      // a single pair's record, for its conditional write
      pairKeys.result('a/cat'),
    ]) {
      expect(can('s3:ListBucket', prefix), prefix).toBe(true);
    }
    for (const prefix of ['', PREFIXES.results, RESULT_PREFIXES.jobs, 'uploads/']) {
      expect(can('s3:ListBucket', prefix), prefix).toBe(false);
    }
  });

  it('lets the workers and the Batch job read inputs and state, write a job’s records and markers, never its status or results elsewhere', () => {
    for (const role of ['PipelineWorkerRole', 'PipelineGpuJobRole']) {
      const lines = grants(template, role);
      const can = (action: string, key: string) => permits(lines, action, key);
      for (const key of [
        pairKeys.image('a/cat', 'png'),
        'uploads/2026/cat.png',
        'jobs/images/cat.webp',
        jobKeys.status('j'),
        jobKeys.chunk('j', 7),
        jobKeys.stop('j'),
      ]) {
        expect(can('s3:GetObject', key), `${role} ${key}`).toBe(true);
      }
      for (const key of [jobKeys.part('j', 0), jobKeys.errors('j', 0), pairKeys.result('p'), 'elsewhere/cat.png']) {
        expect(can('s3:GetObject', key), `${role} ${key}`).toBe(false);
      }
      for (const key of [
        jobKeys.part('j', 0),
        jobKeys.errors('j', 100_000),
        jobKeys.mask('j', 'a/cat', 'seg'),
        jobKeys.success('j'),
        markerKey({ job: 'j', chunks: 250, fanout: 100 }, 1, { node: 2, version: 1, results: 9, errors: 1 }),
        jobKeys.stalled('j', 3),
        jobKeys.stop('j'),
      ]) {
        expect(can('s3:PutObject', key), `${role} ${key}`).toBe(true);
      }
      for (const key of [
        'state/jobs/x/status.json',
        jobKeys.status('j'),
        jobKeys.chunk('j', 0),
        jobKeys.lease('j'),
        jobKeys.routed('j'),
        jobKeys.generation('j', 1),
        pairKeys.result('p'),
        pairKeys.image('a/cat', 'png'),
      ]) {
        expect(can('s3:PutObject', key), `${role} ${key}`).toBe(false);
      }
      for (const prefix of [
        jobKeys.done('j', 0, 0),
        `${jobKeys.done('j', 0, 0)}3.`,
        jobKeys.stalledPrefix('j'),
        pairKeys.image('a/cat', 'png'),
        'uploads/2026/cat.png',
        jobKeys.status('j'),
      ]) {
        expect(can('s3:ListBucket', prefix), `${role} ${prefix}`).toBe(true);
      }
      for (const prefix of ['', PREFIXES.results, jobKeys.partsPrefix('j'), 'elsewhere/']) {
        expect(can('s3:ListBucket', prefix), `${role} ${prefix}`).toBe(false);
      }
    }
  });

  it('uses a * resource only where AWS offers no narrower one', () => {
    const policies = template.findResources('AWS::IAM::Policy') as Resources;
    const wildcards = Object.values(policies).flatMap((p) =>
      p.Properties.PolicyDocument.Statement.filter((s: any) => [s.Resource].flat().includes('*')).flatMap((s: any) =>
        [s.Action].flat(),
      ),
    );
    expect(wildcards).toEqual(['ecr:GetAuthorizationToken']);
  });

  it('has a GPU route on AWS Batch: scale-to-zero GPU instances, a job queue, an array-ready job definition', () => {
    template.hasResourceProperties('AWS::Batch::ComputeEnvironment', {
      Type: 'managed',
      ComputeResources: Match.objectLike({
        MinvCpus: 0,
        MaxvCpus: 32,
        InstanceTypes: ['g4dn.xlarge', 'g5.xlarge'],
        Ec2Configuration: [{ ImageType: 'ECS_AL2_NVIDIA' }],
      }),
    });
    template.resourceCountIs('AWS::Batch::JobQueue', 1);
    template.hasResourceProperties('AWS::Batch::JobDefinition', {
      Type: 'container',
      // Exit 1 (a chunk failed, or the deadline left chunks) is retried, and so are a lost
      // instance and an image pull that failed; anything else is final (rules match in order).
      RetryStrategy: {
        Attempts: 3,
        EvaluateOnExit: [
          { Action: 'RETRY', OnExitCode: '1' },
          { Action: 'RETRY', OnStatusReason: 'Host EC2*' },
          { Action: 'RETRY', OnReason: 'CannotPullContainerError:*' },
          { Action: 'EXIT', OnReason: '*' },
        ],
      },
      Timeout: { AttemptDurationSeconds: 7200 },
      ContainerProperties: Match.objectLike({
        ResourceRequirements: Match.arrayWith([{ Type: 'GPU', Value: '1' }]),
        // The deadline: 7,200 s less max(60 s, 10 %).
        Environment: Match.arrayWith([
          { Name: 'FUSEBATCH_ENGINE', Value: 'cuda' },
          { Name: 'FUSEBATCH_MASKS', Value: 'rle' },
          { Name: 'FUSEBATCH_DEADLINE_SECONDS', Value: '6480' },
        ]),
        Image: { 'Fn::Sub': Match.stringLikeRegexp('container-assets') },
      }),
    });
  });

  it('defines the results table from the model manifest, over results/, and an Athena workgroup', async () => {
    const manifest = await readManifest(path.join(ROOT, 'models/reference'));
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: {
        Name: 'results',
        TableType: 'EXTERNAL_TABLE',
        StorageDescriptor: Match.objectLike({
          Location: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^PipelineBucket') }, '/results/']] },
          SerdeInfo: Match.objectLike({ SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' }),
          Columns: glueColumns(manifest).map((c) => ({ Name: c.name, Type: c.type })),
        }),
      },
    });
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: {
          OutputLocation: Match.anyValue(),
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      },
    });
    // The local table, as DuckDB itself describes it, has exactly the synthesized columns.
    const local = await queryRecordFiles(manifest, [], 'DESCRIBE results');
    const glue = template.toJSON().Resources;
    const table = Object.values(glue as Resources).find(
      (r) => r.Type === 'AWS::Glue::Table' && r.Properties.TableInput.Name === 'results',
    )!;
    expect(local.rows.map((r) => ({ Name: r.column_name, Type: hiveFromDuckdb(String(r.column_type)) }))).toEqual(
      table.Properties.TableInput.StorageDescriptor.Columns,
    );
    const outputs = Object.keys(template.toJSON().Outputs);
    for (const name of [
      'BucketName',
      'QueueUrl',
      'IngestFailureQueueUrl',
      'BatchFailureQueueUrl',
      'ResultsTableName',
      'JobResultsTableName',
      'AthenaWorkGroup',
    ]) {
      expect(outputs.some((o) => o.startsWith(`Pipeline${name}`))).toBe(true);
    }
  });

  it('defines job_results: the results columns over results/jobs/, partitioned by job with an injected projection', async () => {
    // Prepare
    const manifest = await readManifest(path.join(ROOT, 'models/reference'));
    const jobs = { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^PipelineBucket') }, '/results/jobs/']] };
    // Assess
    template.resourceCountIs('AWS::Glue::Table', 2);
    template.hasResourceProperties('AWS::Glue::Table', {
      TableInput: {
        Name: 'job_results',
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'job', Type: 'string' }],
        Parameters: Match.objectEquals({
          classification: 'json',
          EXTERNAL: 'TRUE',
          'projection.enabled': 'true',
          'projection.job.type': 'injected',
          // The job's value is put into the template as written in the query's WHERE clause.
          'storage.location.template': {
            'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^PipelineBucket') }, ATHENA_JOB_TEMPLATE]],
          },
        }),
        StorageDescriptor: Match.objectLike({
          Location: jobs,
          SerdeInfo: Match.objectLike({ SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' }),
          Columns: glueColumns(manifest).map((c) => ({ Name: c.name, Type: c.type })),
        }),
      },
    });
  });
});

describe('CDK app: options', () => {
  it('leaves out the GPU route when gpu.enabled is false: no Batch resources, no Batch settings; jobRetentionDays expires results/ and state/ together', () => {
    const { stack } = buildApp({
      context: { ...context, 'fusebatch:gpu.enabled': 'false', 'fusebatch:jobRetentionDays': '7' },
      outdir: mkdtempSync(path.join(tmpdir(), 'fusebatch-cdk-')),
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Batch::ComputeEnvironment', 0);
    template.resourceCountIs('AWS::Batch::JobDefinition', 0);
    template.resourceCountIs('AWS::EC2::VPC', 0);
    template.resourceCountIs('AWS::Events::Rule', 0);
    expect(JSON.stringify(template.toJSON())).not.toContain('FUSEBATCH_BATCH_');
    const environments = entryEnvironments(template);
    expectParsedBy(IngestEnvSchema, environments.ingest, 'ingest');
    expectParsedBy(WorkerEnvSchema, environments.worker, 'worker');
    expect(JSON.stringify(template.toJSON())).not.toContain('BatchFailure');
    // Failed S3 events are kept either way.
    expectFailureQueue(template, 'PipelineIngestFailureQueue');
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'results/', ExpirationInDays: 7, Status: 'Enabled' }),
          Match.objectLike({ Prefix: 'state/', ExpirationInDays: 7, Status: 'Enabled' }),
        ]),
      },
    });
  }, 120_000);

  it('with lambdaEngine wasm: both functions on wasm with sharp’s layer alone, no onnxruntime-node layer', () => {
    const { stack } = buildApp({
      context: { ...context, 'fusebatch:lambdaEngine': 'wasm', 'fusebatch:gpu.enabled': 'false' },
      outdir: mkdtempSync(path.join(tmpdir(), 'fusebatch-cdk-')),
    });
    const resources = Template.fromStack(stack).toJSON().Resources as Resources;
    const layers = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::Lambda::LayerVersion');
    expect(layers.map((id) => id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['PipelineSharpLayer']);
    const functions = Object.entries(resources).filter(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && /^Pipeline(Ingest|Worker)[0-9A-F]{8}$/.test(id),
    );
    expect(functions).toHaveLength(2);
    for (const [, fn] of functions) {
      expect(fn.Properties.Environment.Variables).toMatchObject({ FUSEBATCH_ENGINE: 'wasm' });
      expect(fn.Properties.Layers).toEqual([{ Ref: layers[0] }]);
    }
    // The worker's engine threads follow its vCPUs; ingest's single pairs run on one wasm thread
    // (a second is onnxruntime-web's worker thread, started and waited for at init).
    const threadsOf = (name: string) =>
      functions.find(([id]) => id.startsWith(name))![1].Properties.Environment.Variables.FUSEBATCH_THREADS;
    expect([threadsOf('PipelineWorker'), threadsOf('PipelineIngest')]).toEqual(['2', '1']);
  }, 120_000);

  it('names the sharp packages an arm64 Lambda needs, and how to install them, when they are missing', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'fusebatch-root-'));
    expect(() => sharpPackages(empty, 'arm64')).toThrow(
      /needs @img\/sharp-linux-arm64 and @img\/sharp-libvips-linux-arm64 in node_modules; install them with npm install --no-save --os=linux --cpu=arm64/,
    );
    expect(sharpPackages(ROOT, 'x86_64')).toEqual(['@img/sharp-linux-x64', '@img/sharp-libvips-linux-x64']);
  });
});

describe('Results table: every task kind', () => {
  it('has the same columns in DuckDB as in Glue for a model of every kind, and DuckDB reads each kind’s records', async () => {
    // Prepare: records of every kind, as the pipeline writes them (the model is scripted).
    const dir = mkdtempSync(path.join(tmpdir(), 'fusebatch-kinds-sql-'));
    const image = readFileSync(path.join(ROOT, 'models/reference/fixtures/parity/pairs/parity-00000.png'));
    const lines: string[] = [];
    const pairs = [0, 1].map((i) => ({
      id: `p${i}`,
      image: `p${i}.png`,
      readImage: async () => image,
      readText: async () => 'a cat',
    }));
    for await (const r of runPipeline(pairs, { model: allKindsModel(), images: new SharpImageDecoder() })) {
      lines.push(JSON.stringify(r));
    }
    const file = path.join(dir, 'records.jsonl');
    writeFileSync(file, lines.join('\n'));
    // Act
    const described = await queryRecordFiles(allKindsManifest, [], 'DESCRIBE results');
    const { rows } = await queryRecordFiles(
      allKindsManifest,
      [file],
      `SELECT id, tasks.objects[1].label AS box_label, tasks.objects[1].box.width AS box_width,
              tasks.scene.coverage['cat'] AS cat, tasks.heat.peak.x AS peak_x, tasks.heat.range[2] AS range_high,
              list_cosine_similarity(tasks.embedding, [0.6, 0.8, 0, 0]) AS cosine
         FROM results ORDER BY id`,
    );
    // Assess: DuckDB's own description, read back into Hive types, is exactly Glue's table.
    const tasks = described.rows.find((r) => r.column_name === 'tasks')!;
    expect(hiveFromDuckdb(String(tasks.column_type))).toBe(
      glueColumns(allKindsManifest).find((c) => c.name === 'tasks')!.type,
    );
    expect(rows).toEqual([
      { id: 'p0', box_label: 'cat', box_width: 64, cat: expect.any(Number), peak_x: 39, range_high: 1, cosine: 1 },
      { id: 'p1', box_label: 'cat', box_width: 64, cat: expect.any(Number), peak_x: 39, range_high: 1, cosine: 1 },
    ]);
    // The README's nearest-neighbour query, on these records (every pair's vector is the same).
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const nearest = /```sql\n(WITH q AS[\s\S]*?list_cosine_similarity[\s\S]*?)```/.exec(readme)![1];
    const neighbours = await queryRecordFiles(allKindsManifest, [file], nearest.replaceAll("'q1'", "'p0'"));
    expect(neighbours.rows).toEqual([{ id: 'p1', similarity: 1 }]);
  });
});
