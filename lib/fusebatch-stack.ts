/** The deployable stack: one FusedInferencePipeline, environment-agnostic (no lookups). */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { FusedInferencePipeline, type FusedInferencePipelineProps } from './fused-inference-pipeline.js';

export interface FusebatchStackProps extends StackProps {
  readonly pipeline?: FusedInferencePipelineProps;
}

export class FusebatchStack extends Stack {
  readonly pipeline: FusedInferencePipeline;

  constructor(scope: Construct, id: string, props: FusebatchStackProps = {}) {
    super(scope, id, { description: 'fusebatch: serverless batch inference for fused multimodal models', ...props });
    this.pipeline = new FusedInferencePipeline(this, 'Pipeline', props.pipeline);
  }
}
