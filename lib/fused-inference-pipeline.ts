/**
 * FusedInferencePipeline: the whole fusebatch pipeline as one construct. A bucket whose inbox/
 * and jobs/ prefixes trigger the ingest function (its failed events kept in a queue); a worker
 * queue (with a dead-letter queue) feeding the worker function; an AWS Batch GPU route for
 * large jobs (its failed jobs kept in a queue); and Glue tables (all of results/, and
 * results/jobs/ partitioned by job) with an Athena workgroup. Each failure queue has an alarm.
 * Every deploy-time setting comes from one
 * validated configuration (config.ts); each role gets the actions and prefixes it uses.
 */
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Aws,
  aws_athena as athena,
  aws_batch as batch,
  CfnOutput,
  aws_cloudwatch as cloudwatch,
  Duration,
  aws_ec2 as ec2,
  aws_ecs as ecs,
  aws_events as events,
  aws_events_targets as eventsTargets,
  aws_glue as glue,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_lambda_destinations as lambdaDestinations,
  aws_logs as logs,
  aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  Size,
  Stack,
  aws_s3 as s3,
  aws_s3_notifications as s3n,
  aws_sqs as sqs,
  Validations,
} from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { BUCKET_ACCESS, type BucketAccess } from '../lambdas/core/access.js';
import { ENV_NAMES } from '../lambdas/core/env-names.js';
import { PREFIXES, RESULT_PREFIXES } from '../lambdas/core/keys.js';
import { bundleFiles, type ModelManifest, ModelManifestSchema } from '../lambdas/core/manifest.js';
import {
  glueColumns,
  JOB_PARTITION,
  JOB_RESULTS_TABLE,
  jobPartitionProjection,
  RESULTS_TABLE,
} from '../lambdas/core/result-table.js';
import { REQUIRE_BANNER, stageBatchImage } from './batch-image.js';
import { type PipelineConfig, type PipelineConfigInput, resolvePipelineConfig } from './config.js';
import { enginePackaging, stageLayer } from './lambda-engine.js';
import { stagingDir } from './staging.js';

/** The project's root: lambdas/, models/ and package-lock.json are found from here. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Prefix for Athena's query results in the bucket (expired like other temporary objects). */
export const ATHENA_RESULTS_PREFIX = 'athena-results/';

/**
 * S3 invokes the ingest function asynchronously: Lambda retries a failed event twice and keeps
 * an event waiting for up to 6 h (throttling), then hands it to the ingest failure queue.
 */
export const INGEST_ASYNC = { retryAttempts: 2, maxEventAgeHours: 6 } as const;

/** Attempts of a Batch child (its first run and the retries). */
export const BATCH_ATTEMPTS = 3;

export interface FusedInferencePipelineProps extends PipelineConfigInput {
  /** The project root holding lambdas/, node_modules/ and package-lock.json. Default: this repository. */
  readonly projectRoot?: string;
}

function readModelManifest(modelDir: string): ModelManifest {
  const file = path.join(modelDir, 'model.json');
  if (!existsSync(file)) throw new Error(`fusebatch: no model manifest at ${file} (set modelDir)`);
  return ModelManifestSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
}

/** sharp's native packages for the Lambda architecture, which the bundle keeps external. */
export function sharpPackages(root: string, architecture: PipelineConfig['architecture']): string[] {
  const arch = architecture === 'arm64' ? 'arm64' : 'x64';
  const packages = [`@img/sharp-linux-${arch}`, `@img/sharp-libvips-linux-${arch}`];
  const missing = packages.filter((p) => !existsSync(path.join(root, 'node_modules', p)));
  if (missing.length) {
    throw new Error(
      `fusebatch: the ${architecture} Lambda needs ${missing.join(' and ')} in node_modules; install them with ` +
        `npm install --no-save --os=linux --cpu=${arch} --libc=glibc ${packages.join(' ')}`,
    );
  }
  return packages;
}

/**
 * The layer's content: sharp's native packages under nodejs/node_modules (where Lambda's NODE_PATH
 * looks), without their build-time files (C headers, READMEs); licences stay.
 */
export function stageSharpLayer(root: string, packages: readonly string[], outDir: string): string {
  for (const name of packages) {
    const to = path.join(outDir, 'nodejs/node_modules', name);
    cpSync(path.join(root, 'node_modules', name), to, { recursive: true });
    rmSync(path.join(to, 'lib/glib-2.0'), { recursive: true, force: true });
    rmSync(path.join(to, 'README.md'), { force: true });
  }
  return outDir;
}

export class FusedInferencePipeline extends Construct {
  readonly config: PipelineConfig;
  readonly bucket: s3.Bucket;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** S3 events the ingest function failed on every try (or could not run in time), as Lambda sends them. */
  readonly ingestFailureQueue: sqs.Queue;
  /** Batch jobs (and array children) that failed every attempt: their state-change events. */
  readonly batchFailureQueue?: sqs.Queue;
  readonly ingestFunction: nodejs.NodejsFunction;
  readonly workerFunction: nodejs.NodejsFunction;
  readonly resultsTable: glue.CfnTable;
  /** The same rows, of jobs only, partitioned by job (partition projection). */
  readonly jobResultsTable: glue.CfnTable;
  readonly workGroup: athena.CfnWorkGroup;
  readonly gpu?: { jobQueue: batch.JobQueue; jobDefinition: batch.EcsJobDefinition; jobRole: iam.Role };

  constructor(scope: Construct, id: string, props: FusedInferencePipelineProps = {}) {
    super(scope, id);
    const { projectRoot = PROJECT_ROOT, ...configProps } = props;
    const config = resolvePipelineConfig(configProps, this.node.getAllContext?.() ?? {});
    this.config = config;
    const root = projectRoot;
    const modelDir = path.resolve(root, config.modelDir);
    const manifest = readModelManifest(modelDir);
    const modelFiles = bundleFiles(manifest);
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    // Storage: the access-log bucket, then the pipeline's bucket.
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(config.accessLogDays) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself: logging its own accesses would log forever.',
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'bucket/',
      lifecycleRules: [
        // A job's records and its state expire together (see jobRetentionDays), or not at all.
        ...(config.jobRetentionDays === undefined
          ? []
          : [PREFIXES.results, PREFIXES.state].map((prefix) => ({
              id: `job-${prefix.replace('/', '')}`,
              prefix,
              expiration: Duration.days(config.jobRetentionDays!),
            }))),
        { id: 'athena-results', prefix: ATHENA_RESULTS_PREFIX, expiration: Duration.days(config.temporaryObjectDays) },
        { id: 'incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Results are the user's data: the bucket outlives the stack (README: tearing down).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const bucket = this.bucket;

    // Queue: chunks for the Lambda workers, poison chunks to the dead-letter queue.
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the worker queue; it has none of its own.',
    });
    this.queue = new sqs.Queue(this, 'WorkerQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(config.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.worker.maxReceiveCount },
    });
    this.alarmOnMessages(
      this.deadLetterQueue,
      'DeadLetterAlarm',
      'fusebatch: chunks failed every try and are in the dead-letter queue (reason in each message)',
    );
    this.ingestFailureQueue = this.failureQueue(
      'IngestFailureQueue',
      'IngestFailureAlarm',
      'fusebatch: S3 events the ingest function failed on every try are in the ingest failure queue (each message has the event and the error)',
    );

    // The GPU route first: the ingest function needs its job queue and definition.
    if (config.gpu.enabled) {
      this.gpu = this.gpuRoute(root, modelDir, modelFiles, config, logRetention);
      // Failed jobs are reported by Batch on EventBridge only: keep them where an alarm sees them.
      this.batchFailureQueue = this.failureQueue(
        'BatchFailureQueue',
        'BatchFailureAlarm',
        'fusebatch: AWS Batch jobs of the GPU route failed every attempt (each message is the job state-change event, with its status reason)',
      );
      new events.Rule(this, 'BatchFailureRule', {
        description: 'fusebatch: failed jobs of the GPU route’s job queue, to the Batch failure queue',
        eventPattern: {
          source: ['aws.batch'],
          detailType: ['Batch Job State Change'],
          detail: { status: ['FAILED'], jobQueue: [this.gpu.jobQueue.jobQueueArn] },
        },
        targets: [new eventsTargets.SqsQueue(this.batchFailureQueue)],
      });
    }

    // Lambda functions: bundled with the local esbuild, the model (and wasm's files) beside the bundle.
    const architecture = config.architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;
    // sharp's native packages (libvips, about half a package) ride in a layer: the function
    // package keeps the code, the model and wasm's WebAssembly files. The bundle's require (createRequire,
    // CommonJS resolution) finds them through NODE_PATH, which Lambda points at the layer's
    // nodejs/node_modules.
    const sharpLayer = new lambda.LayerVersion(this, 'SharpLayer', {
      code: lambda.Code.fromAsset(
        stageSharpLayer(root, sharpPackages(root, config.architecture), stagingDir('sharp-layer')),
      ),
      compatibleArchitectures: [architecture],
      compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
      description: "sharp's native packages (libvips) for the fusebatch functions",
    });
    const engine = enginePackaging(root, config.lambdaEngine, config.architecture);
    // The cpu engine's onnxruntime-node (its native runtime, most of its size) rides in a second
    // layer, found the same way; wasm deployments have none.
    const engineLayer = engine.layerFiles.length
      ? new lambda.LayerVersion(this, 'OnnxRuntimeLayer', {
          code: lambda.Code.fromAsset(stageLayer(engine.layerFiles, stagingDir('onnxruntime-layer'))),
          compatibleArchitectures: [architecture],
          compatibleRuntimes: [lambda.Runtime.NODEJS_24_X],
          description: `onnxruntime-node's JavaScript and its linux ${config.architecture} CPU runtime for the fusebatch functions (lambdaEngine cpu)`,
        })
      : undefined;
    const q = (p: string) => JSON.stringify(p);
    // The engine's worker thread (engine-thread.ts) loads engine-worker.mjs from beside the bundle.
    const engineWorker = [
      q(path.join(root, 'node_modules/.bin/esbuild')),
      q(path.join(root, 'lambdas/adapters/engines/engine-worker.ts')),
      '--bundle --platform=node --format=esm --target=node22 --minify --log-level=warning',
      ...engine.externalModules.map((m) => `--external:${m}`),
      '--external:@img/*',
      `--banner:js=${q(REQUIRE_BANNER)}`,
    ].join(' ');
    // The engine's worker thread ships with the worker function only: ingest runs its single
    // pairs on the engine in process.
    const bundling = (withEngineThread: boolean): nodejs.BundlingOptions => ({
      format: nodejs.OutputFormat.ESM,
      target: 'node22',
      minify: true,
      sourceMap: false,
      mainFields: ['module', 'main'],
      banner: REQUIRE_BANNER,
      // The SDK is bundled (the version tested, and a package that runs anywhere); sharp's native
      // packages are in their layer, and the engine's files beside the bundle or in its layer
      // (lambda-engine.ts).
      bundleAwsSDK: true,
      externalModules: ['@img/sharp-*', ...engine.externalModules],
      forceDockerBundling: false,
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        afterBundling: (_input: string, out: string) => [
          ...(withEngineThread ? [`${engineWorker} --outfile=${q(path.join(out, 'engine-worker.mjs'))}`] : []),
          ...[...new Set(engine.files.map((f) => path.dirname(path.join(out, f.to))))].map((d) => `mkdir -p ${q(d)}`),
          ...engine.files.map((f) => `cp ${q(f.from)} ${q(path.join(out, f.to))}`),
          `mkdir -p ${q(path.join(out, 'model'))}`,
          ...modelFiles.map((f) => `cp ${q(path.join(modelDir, f))} ${q(path.join(out, 'model', f))}`),
        ],
      },
    });
    const baseEnv = {
      [ENV_NAMES.bucket]: bucket.bucketName,
      [ENV_NAMES.engine]: config.lambdaEngine,
      [ENV_NAMES.masks]: config.masks,
      POWERTOOLS_METRICS_NAMESPACE: 'fusebatch',
    };
    const lambdaFunction = (
      name: string,
      entry: string,
      memoryMiB: number,
      timeoutSeconds: number,
      env: object,
      withEngineThread: boolean,
    ) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention: logRetention,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      // Its own role, so it gets no managed policy: logs to its own group, and what is granted below.
      const role = new iam.Role(this, `${name}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      logGroup.grantWrite(role);
      const fn = new nodejs.NodejsFunction(this, name, {
        entry: path.join(root, 'lambdas/entry', entry),
        projectRoot: root,
        depsLockFilePath: path.join(root, 'package-lock.json'),
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture,
        memorySize: memoryMiB,
        timeout: Duration.seconds(timeoutSeconds),
        role,
        logGroup,
        bundling: bundling(withEngineThread),
        layers: engineLayer ? [sharpLayer, engineLayer] : [sharpLayer],
        environment: { ...baseEnv, ...env } as Record<string, string>,
      });
      return { fn, role };
    };

    const ingest = lambdaFunction(
      'Ingest',
      'ingest.ts',
      config.ingest.memoryMiB,
      config.ingest.timeoutSeconds,
      {
        [ENV_NAMES.threads]: String(config.ingestThreads),
        [ENV_NAMES.queueUrl]: this.queue.queueUrl,
        [ENV_NAMES.chunkSize]: String(config.chunkSize),
        [ENV_NAMES.ingestLeaseSeconds]: String(config.ingest.timeoutSeconds),
        [ENV_NAMES.toleratedFailurePercent]: String(config.toleratedFailurePercent),
        ...(this.gpu
          ? {
              [ENV_NAMES.batchThreshold]: String(config.gpu.threshold),
              [ENV_NAMES.batchJobQueue]: this.gpu.jobQueue.jobQueueArn,
              [ENV_NAMES.batchJobDefinition]: this.gpu.jobDefinition.jobDefinitionArn,
              [ENV_NAMES.batchSecondsPerChunk]: String(config.gpu.secondsPerChunk),
              [ENV_NAMES.batchTimeoutSeconds]: String(config.gpu.timeoutSeconds),
            }
          : {}),
      },
      false,
    );
    this.ingestFunction = ingest.fn;
    // Grants the role sqs:SendMessage on the failure queue.
    ingest.fn.configureAsyncInvoke({
      retryAttempts: INGEST_ASYNC.retryAttempts,
      maxEventAge: Duration.hours(INGEST_ASYNC.maxEventAgeHours),
      onFailure: new lambdaDestinations.SqsDestination(this.ingestFailureQueue),
    });
    const worker = lambdaFunction(
      'Worker',
      'worker.ts',
      config.worker.memoryMiB,
      config.worker.timeoutSeconds,
      {
        [ENV_NAMES.threads]: String(config.worker.threads),
        [ENV_NAMES.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
        // The worker's own attempts; the queue redrives after 2 more receives (config.ts).
        [ENV_NAMES.maxReceiveCount]: String(config.worker.attempts),
      },
      true,
    );
    this.workerFunction = worker.fn;
    // Reserved concurrency caps parallel workers (set through the L1: the L2 prop is the same field).
    (worker.fn.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions =
      config.worker.reservedConcurrency;

    // Least privilege, from one table (core/access.ts): each role's object reads and writes by
    // key pattern, and its listings by s3:prefix.
    const bucketArn = `<${Stack.of(this).resolve((bucket.node.defaultChild as s3.CfnBucket).logicalId)}.Arn>`;
    const grantBucketAccess = (role: iam.Role, access: BucketAccess) => {
      const objects = (patterns: readonly string[]) => patterns.map((p) => bucket.arnForObjects(p));
      role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: objects(access.read) }));
      role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: objects(access.write) }));
      // Listing is needed on the bucket itself, also for a read of a missing key to answer 404
      // rather than 403 (core/access.ts); the condition holds it to the role's own prefixes.
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': [...access.list] } },
        }),
      );
      // IAM names a key prefix, or any job's key, with a wildcard: each such grant is acknowledged by name.
      for (const pattern of new Set([...access.read, ...access.write])) {
        if (!pattern.includes('*')) continue;
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${bucketArn}/${pattern}]`,
          reason: `Object actions on the keys ${pattern} only: IAM names a key prefix, or any job's key, with a wildcard.`,
        });
      }
    };
    grantBucketAccess(ingest.role, BUCKET_ACCESS.ingest);
    this.queue.grantSendMessages(ingest.role);
    grantBucketAccess(worker.role, BUCKET_ACCESS.worker);
    this.deadLetterQueue.grantSendMessages(worker.role);
    // Pollers ignore reserved concurrency: without a maximum concurrency they receive more chunks
    // than the function may run, and each throttled receive counts towards maxReceiveCount.
    worker.fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: config.worker.reservedConcurrency,
      }),
    );
    if (this.gpu) {
      grantBucketAccess(this.gpu.jobRole, BUCKET_ACCESS.batchJob);
      ingest.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['batch:SubmitJob'],
          resources: [this.gpu.jobQueue.jobQueueArn, this.gpu.jobDefinition.jobDefinitionArn],
        }),
      );
    }

    // Events: inbox/ and jobs/ only. results/ and state/ never trigger anything (no loops).
    for (const prefix of [PREFIXES.inbox, PREFIXES.jobs]) {
      bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(ingest.fn), { prefix });
    }
    // CDK's own custom resource that configures the notifications (one per stack).
    const notificationsHandler = Stack.of(this).node.children.find((c) =>
      c.node.id.startsWith('BucketNotificationsHandler'),
    );
    if (notificationsHandler) {
      Validations.of(notificationsHandler).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'CDK’s bucket-notifications handler (a deploy-time custom resource) only writes its own logs with this policy.',
      });
    }

    // Query: a Glue table over results/ with a column per task of the manifest; Athena workgroup.
    const databaseName = `fusebatch_${Stack.of(this)
      .stackName.toLowerCase()
      .replace(/[^a-z0-9_]/g, '_')}`;
    const database = new glue.CfnDatabase(this, 'ResultsDatabase', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: databaseName, description: 'fusebatch results' },
    });
    // Both tables read JSON lines with the same columns; only their locations differ.
    const storage = (location: string): glue.CfnTable.StorageDescriptorProperty => ({
      // Masks (_masks/) and _SUCCESS are skipped by Athena: names starting with _ are hidden.
      location,
      inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
      outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
      serdeInfo: {
        serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
        parameters: { 'case.insensitive': 'TRUE', 'ignore.malformed.json': 'FALSE' },
      },
      columns: glueColumns(manifest),
    });
    const about = `fusebatch result and error records of ${manifest.name} ${manifest.version}, one row per JSON line`;
    this.resultsTable = new glue.CfnTable(this, 'ResultsTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName,
      tableInput: {
        name: RESULTS_TABLE,
        description: about,
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'json', EXTERNAL: 'TRUE' },
        storageDescriptor: storage(`s3://${bucket.bucketName}/${PREFIXES.results}`),
      },
    });
    this.resultsTable.node.addDependency(database);
    // One job's records without reading the others': partitioned by job, the partitions projected
    // from the query (nothing to register as jobs come), so a query must name its job(s).
    const jobsLocation = `s3://${bucket.bucketName}/${RESULT_PREFIXES.jobs}`;
    this.jobResultsTable = new glue.CfnTable(this, 'JobResultsTable', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName,
      tableInput: {
        name: JOB_RESULTS_TABLE,
        description: `${about}, of jobs only, partitioned by job (WHERE ${JOB_PARTITION} = '...' is required)`,
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'json', EXTERNAL: 'TRUE', ...jobPartitionProjection(jobsLocation) },
        partitionKeys: [{ name: JOB_PARTITION, type: 'string' }],
        storageDescriptor: storage(jobsLocation),
      },
    });
    this.jobResultsTable.node.addDependency(database);
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: databaseName.replace(/_/g, '-'),
      description: 'fusebatch: queries over the results table',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${bucket.bucketName}/${ATHENA_RESULTS_PREFIX}`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });

    new CfnOutput(this, 'BucketName', {
      value: bucket.bucketName,
      description: 'upload pairs to inbox/, manifests to jobs/',
    });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'IngestFailureQueueUrl', { value: this.ingestFailureQueue.queueUrl });
    if (this.batchFailureQueue) {
      new CfnOutput(this, 'BatchFailureQueueUrl', { value: this.batchFailureQueue.queueUrl });
    }
    new CfnOutput(this, 'ResultsTableName', { value: `${databaseName}.${RESULTS_TABLE}` });
    new CfnOutput(this, 'JobResultsTableName', {
      value: `${databaseName}.${JOB_RESULTS_TABLE}`,
      description: `the records of jobs, partitioned by ${JOB_PARTITION}: WHERE ${JOB_PARTITION} = 'JOB' reads only that job`,
    });
    new CfnOutput(this, 'AthenaWorkGroup', { value: this.workGroup.name });
  }

  /** An alarm as soon as the queue holds a message: every message there is a failure to look at. */
  private alarmOnMessages(queue: sqs.Queue, id: string, description: string) {
    queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }).createAlarm(this, id, {
      alarmDescription: description,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** A queue that keeps failures for 14 days (SQS's most), with its alarm. */
  private failureQueue(id: string, alarmId: string, description: string): sqs.Queue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'A queue of failures kept for people to read, like a dead-letter queue; nothing consumes it to fail again.',
    });
    this.alarmOnMessages(queue, alarmId, description);
    return queue;
  }

  private gpuRoute(
    root: string,
    modelDir: string,
    modelFiles: string[],
    config: PipelineConfig,
    logRetention: logs.RetentionDays,
  ) {
    // Public subnets and no NAT gateway: nothing is paid while the route is idle; instances
    // take no inbound traffic and reach S3 through a gateway endpoint.
    const vpc = new ec2.Vpc(this, 'GpuVpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'GpuVpcFlowLogs', { retention: logRetention, removalPolicy: RemovalPolicy.DESTROY }),
      ),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    const compute = new batch.ManagedEc2EcsComputeEnvironment(this, 'GpuCompute', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      instanceTypes: config.gpu.instanceTypes.map((t) => new ec2.InstanceType(t)),
      useOptimalInstanceClasses: false,
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2_NVIDIA }],
      minvCpus: 0,
      maxvCpus: config.gpu.maxVcpus,
      replaceComputeEnvironment: false,
    });
    Validations.of(compute).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason:
        'AWS Batch instances need AmazonEC2ContainerServiceforEC2Role to join their ECS cluster; AWS publishes no narrower policy.',
    });
    const jobQueue = new batch.JobQueue(this, 'GpuJobQueue', {
      computeEnvironments: [{ computeEnvironment: compute, order: 1 }],
    });
    const jobRole = new iam.Role(this, 'GpuJobRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    });
    const logGroup = new logs.LogGroup(this, 'GpuJobLogs', {
      retention: logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const container = new batch.EcsEc2ContainerDefinition(this, 'GpuContainer', {
      // Built from a context staged here: the bundled entry, the model and two native packages.
      image: ecs.ContainerImage.fromAsset(stageBatchImage(root, modelDir, modelFiles, stagingDir('batch-image')).dir),
      cpu: config.gpu.containerVcpus,
      memory: Size.mebibytes(config.gpu.containerMemoryMiB),
      gpu: 1,
      jobRole,
      environment: {
        [ENV_NAMES.bucket]: this.bucket.bucketName,
        [ENV_NAMES.engine]: 'cuda',
        [ENV_NAMES.masks]: config.masks,
        [ENV_NAMES.threads]: String(config.gpu.containerVcpus),
        // Past this, a child starts no chunk and exits 1, to be retried for the rest: Batch does
        // not retry a child it stopped at the timeout.
        [ENV_NAMES.deadlineSeconds]: String(config.gpu.deadlineSeconds),
        // On its last attempt a child marks the chunks it leaves as stalled, with the reason.
        [ENV_NAMES.batchAttempts]: String(BATCH_ATTEMPTS),
      },
      logging: ecs.LogDriver.awsLogs({ streamPrefix: 'fusebatch', logGroup }),
    });
    const jobDefinition = new batch.EcsJobDefinition(this, 'GpuJob', {
      container,
      // A child that exits 1 (a chunk failed, or its deadline came with chunks left) is retried,
      // and skips the chunks already done; so is one whose instance went away or whose image
      // could not be pulled. Other ends (a crash, memory exhausted) would recur: not retried.
      retryAttempts: BATCH_ATTEMPTS,
      retryStrategies: [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom({ onExitCode: '1' })),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        // Batch retries whatever no rule matches: this one makes the rest final.
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom({ onReason: '*' })),
      ],
      timeout: Duration.minutes(config.gpu.timeoutMinutes),
    });
    Validations.of(container).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'The execution role pulls the image from ECR: ecr:GetAuthorizationToken has no resource-level permissions, so it takes Resource *.',
    });
    return { jobQueue, jobDefinition, jobRole };
  }
}
